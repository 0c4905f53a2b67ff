"""The example conversation over given tools, drawn under the grammar options so the turn grammars accept it."""

# It respects the options it is drawn under (turn bounds, thinking, parallel calls, text
# length) and its arguments validate against the tools' schemas, so the grammar built from
# the same tools and options accepts its rendering (tests prove it). Its values and phrasing
# vary per conversation (constraints.example_values).

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from fcsynth.constraints.example_values import arguments_path, example_string, example_value, response_path, seeded_rng
from fcsynth.constraints.narrowing import narrowed_arguments, narrowed_response
from fcsynth.dml.render import dump_json
from fcsynth.dml.validate import argument_errors

if TYPE_CHECKING:
    from fcsynth.config import DMLConfig
    from fcsynth.tools import Tool

# The user's lines of the example, picked per conversation; a user turn that copies one is
# flagged by curate (a closing "that is all" is natural speech and is not listed here).
ASKS = (
    "Hi, could you take care of something for me?",
    "Hello, I need a hand with a quick task.",
    "Hi there, can you sort this out for me?",
)
FOLLOW_UPS = (
    "Thanks. Please also check the other details.",
    "Great, and could you look into the related item too?",
    "Perfect. One more thing while you are at it.",
)
CLOSINGS = ("Great, that is all I needed.", "Thanks, that covers it.")
_FINALS = ("Done. Here is what I found, based on the results above.", "All set: the results are above.")
_WELCOMES = ("You are welcome. Let me know if you need anything else.", "Glad to help. Anything else?")
USER_PHRASES = ASKS + FOLLOW_UPS



def example_arguments(tool: Tool, key: str = "") -> dict[str, Any] | None:
    """Arguments for `tool` that validate against its parameters, or None."""
    from fcsynth.llm.fake_backend import minimal_instance

    makers = (lambda: example_value(tool.parameters, arguments_path(tool.name), key=key),
              lambda: minimal_instance(tool.parameters))
    for make in makers:
        try:
            args = make()
        except (TypeError, ValueError, KeyError):
            continue
        if isinstance(args, dict) and not argument_errors(tool.parameters, args):
            return args
    return None


def example_response(tool: Tool, options: DMLConfig, key: str = "") -> Any:
    """A response for `tool` (an instance of its response schema as the grammar narrows
    it, when it has one), or None."""
    from fcsynth.llm.fake_backend import minimal_instance

    path = response_path(tool.name)
    if tool.response is None:
        return {"status": "ok", "result": example_string(key, f"{path}/result", "text")}
    pruned = narrowed_response(tool, options)
    for make in (lambda: example_value(pruned, path, key=key), lambda: minimal_instance(pruned)):
        try:
            value = make()
        except (TypeError, ValueError, KeyError):
            continue
        if isinstance(value, dict) and not argument_errors(tool.response, value):
            return value
    return None


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip()


def _first_string(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return next((s for s in map(_first_string, items) if s), None)


def example_messages(tools: list[Tool], options: DMLConfig, key: str = "") -> list[dict[str, Any]]:
    """A short valid conversation over `tools` under `options` (TRL/OpenAI messages), its
    values and phrasing drawn for the conversation `key` (the record id)."""
    # Arguments drawn from the schema the grammar narrows calls to (validated against the full one).
    tools = [replace(t, parameters=narrowed_arguments(t, options)) for t in tools]
    usable = [
        (t, a, r)
        for t in tools
        if (a := example_arguments(t, key)) is not None and (r := example_response(t, options, key)) is not None
    ]
    rng = seeded_rng(key, "messages", "phrasing")
    n_turns = 2
    text, think = options.max_text_chars, options.think_chars
    messages: list[dict[str, Any]] = []
    n_calls = 0
    for turn in range(n_turns):
        if turn == 0:
            step = usable[:1]
            ask = rng.choice(ASKS)
            value = _first_string(step[0][1]) if step else None
            if value and "<" not in value:  # the user states the value the call then uses
                ask += f" Please use {value}."
        elif turn == 1 and len(usable) > 1:  # other tools: the example never repeats a call
            step = usable[1 : 1 + min(2, options.max_parallel_calls)]
            ask = rng.choice(FOLLOW_UPS)
        else:
            step = []
            ask = rng.choice(CLOSINGS)
        messages.append({"role": "user", "content": _fit(ask, text)})
        first = len(messages)
        if step:
            calls = []
            for tool, args, _ in step:
                n_calls += 1
                calls.append(
                    {"id": f"call_{n_calls}", "type": "function", "function": {"name": tool.name, "arguments": args}}
                )
            messages.append({"role": "assistant", "content": "", "tool_calls": calls})
            for call, (tool, _, response) in zip(calls, step, strict=True):
                messages.append(
                    {"role": "tool", "tool_call_id": call["id"], "name": tool.name, "content": dump_json(response)}
                )
            final = rng.choice(_FINALS)
        else:
            final = rng.choice(_WELCOMES)
        messages.append({"role": "assistant", "content": _fit(final, text)})
        if options.thinking:
            messages[first]["reasoning_content"] = _fit("The user wants this done; I will use the right tool.", think)
    return messages
