"""TRL/OpenAI chat messages -> DML text (prompt examples, tests); inverse of parse_dml.

JSON is written the way the grammar makes the model write it: one line,
`json.dumps(value, ensure_ascii=False)` (", " and ": " separators). Tool response
`content` strings are written as they are. System messages are not part of DML and are
skipped. Properties must already be in schema order: llguidance fixes the order of
`properties` (see docs/concepts/dml.md).
"""

from __future__ import annotations

import json
from typing import Any


class DMLRenderError(ValueError):
    """The messages do not form a conversation DML can express."""


def dump_json(value: Any) -> str:
    """JSON exactly as the grammar spells it."""
    return json.dumps(value, ensure_ascii=False)


def _arguments(function: dict[str, Any]) -> Any:
    args = function.get("arguments", {})
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            raise DMLRenderError(f"tool call {function.get('name')!r}: arguments are not JSON") from None
    if not isinstance(args, dict):
        raise DMLRenderError(f"tool call {function.get('name')!r}: arguments must be an object")
    return args


def render_tool_call(name: str, arguments: dict[str, Any]) -> str:
    """One `<tool_call>` element."""
    return f'<tool_call>{{"name": {dump_json(name)}, "arguments": {dump_json(arguments)}}}</tool_call>'


def render_dml(messages: list[dict[str, Any]]) -> str:
    """The DML text of a conversation (user/assistant turns, tool calls and responses)."""
    msgs = [m for m in messages if m.get("role") != "system"]
    turns: list[str] = []
    i = 0
    while i < len(msgs):
        user = msgs[i]
        if user.get("role") != "user":
            raise DMLRenderError(f"message {i}: expected a user message, got {user.get('role')!r}")
        turns.append(f"<user>{user.get('content') or ''}</user>")
        i += 1
        parts: list[str] = []
        think: str | None = None
        while True:
            if i >= len(msgs) or msgs[i].get("role") != "assistant":
                raise DMLRenderError(f"message {i}: the turn must continue with an assistant message")
            msg = msgs[i]
            i += 1
            if think is None and msg.get("reasoning_content"):
                think = msg["reasoning_content"]
            calls = msg.get("tool_calls") or []
            if not calls:
                parts.append(msg.get("content") or "")
                break
            if msg.get("content"):
                raise DMLRenderError(f"message {i - 1}: DML has no text before tool calls")
            step = [render_tool_call(c["function"]["name"], _arguments(c["function"])) for c in calls]
            for call in calls:
                if i >= len(msgs) or msgs[i].get("role") != "tool":
                    raise DMLRenderError(f"message {i}: call {call.get('id')} has no tool response")
                content = msgs[i].get("content")
                step.append(f"<tool_response>{content if isinstance(content, str) else dump_json(content)}</tool_response>")
                i += 1
            parts.append("\n".join(step) + "\n")
        head = f"<think>{think}</think>" if think is not None else ""
        turns.append(f"<assistant>{head}{''.join(parts)}</assistant>")
    return "\n".join(turns)
