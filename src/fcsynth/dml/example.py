"""A small valid conversation over given tools: the example shown in the generation prompt.

It respects the options it will be generated under (turn bounds, thinking, parallel calls,
text length) and its arguments validate against the tools' schemas, so the grammar built
from the same tools and options accepts its rendering (tests prove it).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from fcsynth.dml.validate import argument_errors
from fcsynth.schema_keywords import merge_all_of

if TYPE_CHECKING:
    from fcsynth.dml.grammar import GrammarOptions
    from fcsynth.tools import Tool

_FORMATS = {
    "date": "2024-05-01",
    "date-time": "2024-05-01T09:00:00Z",
    "time": "09:00:00Z",
    "email": "alex@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "duration": "P1D",
}


def _merged(schema: dict[str, Any]) -> dict[str, Any]:
    """`allOf` merged; when its parts conflict, the first part with the outer keywords."""
    merged = merge_all_of(schema)
    if "allOf" not in merged:
        return merged
    first = next((p for p in merged["allOf"] if isinstance(p, dict)), {})
    return {**first, **{k: v for k, v in merged.items() if k != "allOf"}}


def example_value(schema: Any, name: str = "value", depth: int = 0, max_chars: int = 40) -> Any:
    """A plausible small instance of `schema` (validated by the caller)."""
    if not isinstance(schema, dict) or depth > 6:
        return "example"
    if "allOf" in schema:
        schema = _merged(schema)
    if "const" in schema:
        return copy.deepcopy(schema["const"])
    if schema.get("enum"):
        return copy.deepcopy(next((v for v in schema["enum"] if v is not None), schema["enum"][0]))
    for key in ("anyOf", "oneOf"):
        branches = [b for b in schema.get(key) or [] if isinstance(b, dict) and b.get("type") != "null"]
        if branches:
            return example_value({**{k: v for k, v in schema.items() if k != key}, **branches[0]}, name, depth + 1, max_chars)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        props = schema.get("properties") or {}
        required = [r for r in schema.get("required", []) if r in props]
        chosen = set(required) or set(list(props)[:1])
        return {
            key: example_value(sub, key, depth + 1, max_chars) for key, sub in props.items() if key in chosen
        }
    if kind == "array":
        lo, hi = int(schema.get("minItems", 1)), int(schema.get("maxItems", 1))
        count = max(lo, min(1, hi))
        items = schema.get("items", {})
        return [example_value(items, name, depth + 1, max_chars) for _ in range(count)]
    if kind in ("integer", "number"):
        lo = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        value = max(1, int(lo) + (1 if "exclusiveMinimum" in schema else 0))
        if "maximum" in schema and value > schema["maximum"]:
            value = int(schema["maximum"])
        return value
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    text = f"example {name}".replace("_", " ")[:max_chars]
    lo, hi = int(schema.get("minLength", 0)), int(schema.get("maxLength", max_chars))
    text = text[:hi] if hi >= 1 else ""
    return text + "x" * max(0, lo - len(text))


def example_arguments(tool: Tool) -> dict[str, Any] | None:
    """Arguments for `tool` that validate against its parameters, or None."""
    from fcsynth.llm.fake_backend import minimal_instance

    for make in (lambda: example_value(tool.parameters), lambda: minimal_instance(tool.parameters)):
        try:
            args = make()
        except (TypeError, ValueError, KeyError):
            continue
        if isinstance(args, dict) and not argument_errors(tool.parameters, args):
            return args
    return None


def example_response(tool: Tool, options: GrammarOptions) -> Any:
    """A response for `tool` (an instance of its response schema as the grammar narrows
    it, when it has one), or None."""
    from fcsynth.dml.schemas import prune_schema
    from fcsynth.llm.fake_backend import minimal_instance

    if tool.response is None:
        return {"status": "ok", "result": f"result of {tool.name}"[:40]}
    pruned = prune_schema(tool.response, options.max_response_properties, options.max_response_depth)
    for make in (lambda: example_value(pruned, "result"), lambda: minimal_instance(pruned)):
        try:
            value = make()
        except (TypeError, ValueError, KeyError):
            continue
        if isinstance(value, dict) and not argument_errors(tool.response, value):
            return value
    return None


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip()


def example_messages(tools: list[Tool], options: GrammarOptions) -> list[dict[str, Any]]:
    """A short valid conversation over `tools` under `options` (TRL/OpenAI messages)."""
    from fcsynth.dml.render import dump_json

    usable = [
        (t, a, r)
        for t in tools
        if (a := example_arguments(t)) is not None and (r := example_response(t, options)) is not None
    ]
    if options.max_steps_per_turn == 0:
        usable = []
    n_turns = max(options.min_user_turns, min(2, options.max_user_turns))
    text, think = options.max_text_chars, options.think_chars
    messages: list[dict[str, Any]] = []
    n_calls = 0
    for turn in range(n_turns):
        if turn == 0:
            step = usable[:1]
            ask = "Hi, could you take care of this for me?"
        elif turn == 1:
            step = usable[: min(2, options.max_parallel_calls)]
            ask = "Thanks. Please also check the other details."
        else:
            step = []
            ask = "Great, that is all I needed."
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
            final = "Done. Here is what I found, based on the results above."
        else:
            final = "You are welcome. Let me know if you need anything else."
        messages.append({"role": "assistant", "content": _fit(final, text)})
        if options.thinking:
            messages[first]["reasoning_content"] = _fit("The user wants this done; I will use the right tool.", think)
    return messages
