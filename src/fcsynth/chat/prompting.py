"""Render an evaluation step for the model under test.

Style `chat_template`: the model's own chat template renders the history with `tools=`,
used when the template supports tools (detected by rendering a probe tool and checking
its name appears in the prompt). Style `hermes_default` otherwise: a Hermes-style system
prompt lists the tools in `<tools></tools>` and asks for `<tool_call>{"name": ...,
"arguments": ...}</tool_call>` blocks; past calls are shown in that format and tool results
as `<tool_response>` blocks in a user message (every template knows the user role).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import jinja2

from fcsynth.chat.calls import decode_arguments
from fcsynth.chat.steps import Step
from fcsynth.control_tokens import TokenGuard

Style = Literal["chat_template", "hermes_default"]

HERMES_SYSTEM = jinja2.Template(
    """{% if system %}{{ system }}

{% endif %}You are a function calling AI model. You are provided with function signatures \
within <tools></tools> XML tags. You may call one or more functions to assist with the user \
query. Don't make assumptions about what values to plug into functions. Here are the available tools:
<tools>
{% for tool in tools %}{{ tool }}
{% endfor %}</tools>
For each function call return a JSON object with the function name and arguments within \
<tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-dict>}
</tool_call>
If no function call is needed, answer the user directly in plain text.""",
    keep_trailing_newline=False,
)

_PROBE_NAME = "fcsynth_probe_tool_7f3a"
_PROBE_TOOL = {
    "type": "function",
    "function": {
        "name": _PROBE_NAME,
        "description": "Probe.",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
    },
}


def template_supports_tools(tokenizer: Any) -> bool:
    """True when the tokenizer's chat template renders the tools it is given."""
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        return False
    try:
        rendered = tokenizer.apply_chat_template(
            [{"role": "user", "content": "hi"}], tools=[_PROBE_TOOL],
            tokenize=False, add_generation_prompt=True,
        )
    except Exception:  # a template that cannot take tools at all
        return False
    return _PROBE_NAME in rendered


def _template_history(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Gold history for a tool-aware template: arguments as objects, no past reasoning."""
    out = []
    for m in history:
        m = {k: v for k, v in m.items() if k != "reasoning_content"}
        if m.get("content") is None:
            m["content"] = ""
        if m.get("tool_calls"):
            m["tool_calls"] = [
                {**c, "function": {**c["function"], "arguments": decode_arguments(c["function"].get("arguments"))}}
                for c in m["tool_calls"]
            ]
        out.append(m)
    return out


def _tool_response(message: dict[str, Any]) -> str:
    content = message.get("content")
    try:
        content = json.loads(content) if isinstance(content, str) else content
    except json.JSONDecodeError:
        pass
    body = json.dumps({"name": message.get("name", ""), "content": content}, ensure_ascii=False)
    return f"<tool_response>\n{body}\n</tool_response>"


def hermes_messages(history: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """History in the Hermes default: system prompt with tools, calls and results inline."""
    system = ""
    if history and history[0].get("role") == "system":
        system, history = history[0].get("content") or "", history[1:]
    out: list[dict[str, Any]] = [
        {"role": "system", "content": HERMES_SYSTEM.render(
            system=system, tools=[json.dumps(t, ensure_ascii=False) for t in tools]
        )}
    ]
    for m in history:
        role = m.get("role")
        if role == "tool":
            if out[-1].get("_tool_results"):
                out[-1]["content"] += "\n" + _tool_response(m)
            else:
                out.append({"role": "user", "content": _tool_response(m), "_tool_results": True})
            continue
        content = m.get("content") or ""
        if role == "assistant" and m.get("tool_calls"):
            blocks = [
                "<tool_call>\n" + json.dumps(
                    {"name": c["function"]["name"],
                     "arguments": decode_arguments(c["function"].get("arguments"))},
                    ensure_ascii=False,
                ) + "\n</tool_call>"
                for c in m["tool_calls"]
            ]
            content = "\n".join(([content] if content else []) + blocks)
        out.append({"role": role, "content": content})
    return [{k: v for k, v in m.items() if not k.startswith("_")} for m in out]


@dataclass(frozen=True)
class Prompt:
    """Either a rendered prompt string, or messages for the backend's own template."""

    prompt: str | None
    messages: list[dict[str, Any]] | None


class PromptBuilder:
    """Renders steps in one style for one tokenizer (None: messages in the Hermes default)."""

    def __init__(self, tokenizer: Any = None) -> None:
        self.tokenizer = tokenizer
        self.guard = TokenGuard(tokenizer)
        self.style: Style = "chat_template" if template_supports_tools(tokenizer) else "hermes_default"

    def _render(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, add_generation_prompt: bool = True
    ) -> str:
        kwargs: dict[str, Any] = {"tokenize": False, "add_generation_prompt": add_generation_prompt}
        if tools:
            kwargs["tools"] = tools
        try:
            return self.tokenizer.apply_chat_template(messages, **kwargs)
        except Exception:
            # Templates without a system role: fold the system prompt into the first user turn.
            if not messages or messages[0]["role"] != "system" or len(messages) < 2:
                raise
            system, first, *rest = messages
            merged = {**first, "content": f"{system['content']}\n\n{first.get('content') or ''}"}
            return self.tokenizer.apply_chat_template([merged, *rest], **kwargs)

    def build(self, step: Step) -> Prompt:
        """The prompt for one step."""
        if self.tokenizer is None:
            return Prompt(None, hermes_messages(step.history, step.tools))
        return Prompt(self.render(step.history, step.tools), None)

    def render(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], add_generation_prompt: bool = True
    ) -> str:
        """Messages (gold format) as this model's prompt text, in this builder's style.

        `add_generation_prompt=False` renders a history that ends with an assistant message,
        as `train` does to learn that message exactly as `build` asks for it. The tokenizer's
        control tokens in contents and tools are neutralized first (fcsynth.control_tokens).
        """
        messages, tools = self.guard.messages(messages), self.guard.tools(tools) or []
        if self.style == "chat_template":
            return self._render(_template_history(messages), tools, add_generation_prompt)
        return self._render(hermes_messages(messages, tools), None, add_generation_prompt)

    def count_tokens(self, prompt: Prompt) -> int | None:
        """Prompt length in tokens (None when there is no tokenizer)."""
        if self.tokenizer is None or prompt.prompt is None:
            return None
        return len(self.tokenizer(prompt.prompt, add_special_tokens=False)["input_ids"])
