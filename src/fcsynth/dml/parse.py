"""DML text -> TRL/OpenAI chat messages.

Shape of the output (docs/concepts/dml.md, "Parsed messages"):
- `{"role": "user", "content": text}`;
- per call/response step of an assistant turn, `{"role": "assistant", "content": "",
  "tool_calls": [{"id": "call_<n>", "type": "function", "function": {"name", "arguments"}}]}`
  followed by one `{"role": "tool", "tool_call_id", "name", "content"}` per call, in order
  (`arguments` is a JSON object; `content` is the response's JSON text as written);
- the turn's final `{"role": "assistant", "content": text}`;
- `<think>` goes to `reasoning_content` on the turn's first assistant message.
Call ids count calls across the conversation: call_1, call_2, ...
"""

from __future__ import annotations

import json
from typing import Any

_DECODER = json.JSONDecoder()


class DMLParseError(ValueError):
    """The text is not well-formed DML; `reason` is a short stable label."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class _Cursor:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def startswith(self, literal: str) -> bool:
        return self.text.startswith(literal, self.pos)

    def take(self, literal: str, reason: str) -> None:
        if not self.startswith(literal):
            raise DMLParseError(reason, f"expected {literal!r} at char {self.pos}: {self.text[self.pos:self.pos + 30]!r}")
        self.pos += len(literal)

    def until(self, literal: str, reason: str) -> str:
        end = self.text.find(literal, self.pos)
        if end < 0:
            raise DMLParseError(reason, f"no {literal!r} after char {self.pos}")
        chunk = self.text[self.pos:end]
        self.pos = end + len(literal)
        return chunk

    def json_value(self, reason: str) -> tuple[Any, str]:
        start = self.pos
        try:
            value, end = _DECODER.raw_decode(self.text, self.pos)
        except json.JSONDecodeError as err:
            raise DMLParseError(reason, f"invalid JSON at char {start}: {err.msg}") from None
        self.pos = end
        return value, self.text[start:end]

    def done(self) -> bool:
        return self.pos >= len(self.text)


def _plain_text(chunk: str, where: str) -> str:
    if "<" in chunk:
        raise DMLParseError("stray_markup", f"'<' inside {where} text: {chunk[:40]!r}")
    if not chunk.strip():
        raise DMLParseError("empty_text", f"empty {where} text")
    return chunk


def parse_dml(text: str) -> list[dict[str, Any]]:
    """Parse a DML conversation into messages; raises DMLParseError(reason) when malformed."""
    cur = _Cursor(text.rstrip())
    messages: list[dict[str, Any]] = []
    n_calls = 0
    if cur.done():
        raise DMLParseError("empty", "no conversation")
    while True:
        cur.take("<user>", "expected_user_turn")
        messages.append({"role": "user", "content": _plain_text(cur.until("</user>", "unterminated_user_turn"), "user")})
        cur.take("\n<assistant>", "expected_assistant_turn")
        n_calls = _assistant_turn(cur, messages, n_calls)
        if cur.done():
            return messages
        cur.take("\n", "trailing_text")


def _assistant_turn(cur: _Cursor, messages: list[dict[str, Any]], n_calls: int) -> int:
    first = len(messages)
    reasoning: str | None = None
    if cur.startswith("<think>"):
        cur.pos += len("<think>")
        reasoning = _plain_text(cur.until("</think>", "unterminated_think"), "think")
    while cur.startswith("<tool_call>"):
        calls: list[dict[str, Any]] = []
        while cur.startswith("<tool_call>"):
            cur.pos += len("<tool_call>")
            call, _ = cur.json_value("bad_tool_call_json")
            cur.take("</tool_call>", "unterminated_tool_call")
            if not isinstance(call, dict) or set(call) != {"name", "arguments"}:
                raise DMLParseError("bad_tool_call", 'a tool call is {"name": ..., "arguments": {...}}')
            if not isinstance(call["name"], str) or not isinstance(call["arguments"], dict):
                raise DMLParseError("bad_tool_call", "name must be a string and arguments an object")
            cur.take("\n", "turn_ends_after_tool_call")
            n_calls += 1
            calls.append(
                {"id": f"call_{n_calls}", "type": "function", "function": {"name": call["name"], "arguments": call["arguments"]}}
            )
        messages.append({"role": "assistant", "content": "", "tool_calls": calls})
        for call in calls:
            if not cur.startswith("<tool_response>"):
                raise DMLParseError("missing_tool_response", f"{call['function']['name']} ({call['id']}) has no response")
            cur.pos += len("<tool_response>")
            _, raw = cur.json_value("bad_tool_response_json")
            cur.take("</tool_response>", "unterminated_tool_response")
            cur.take("\n", "turn_ends_after_tool_response")
            messages.append(
                {"role": "tool", "tool_call_id": call["id"], "name": call["function"]["name"], "content": raw}
            )
        if cur.startswith("<tool_response>"):
            raise DMLParseError("extra_tool_response", "more responses than calls")
    final = _plain_text(cur.until("</assistant>", "unterminated_assistant_turn"), "assistant")
    messages.append({"role": "assistant", "content": final})
    if reasoning is not None:
        messages[first]["reasoning_content"] = reasoning
    return n_calls
