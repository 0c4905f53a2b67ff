"""Cut test conversations into evaluation steps.

Every assistant message with gold tool calls or a gold text answer is one step: the model
sees the gold history before it (system prompt included when the record has one) and the
record's tools, and must produce that message's calls (a call step) or answer in text
without calling a tool (a text step). An assistant message with both text and calls is a
call step (its text is a preamble). Assistant messages with neither are skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fcsynth.chat.calls import Call
from fcsynth.errors import FcsynthError


@dataclass(frozen=True)
class Step:
    """One prediction to make: the gold history up to an assistant message and its answer."""

    id: str  # "<record id>:<message index, 3 digits>"
    record_id: str
    selection: str
    index: int
    history: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    gold_calls: list[Call] | None  # None: the gold answer is text
    gold_text: str | None

    @property
    def kind(self) -> str:
        return "text" if self.gold_calls is None else "call"


def _json_field(record: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = record.get(key)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise FcsynthError(f"{where}: {key} is not valid JSON") from None
    if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
        raise FcsynthError(f"{where}: {key} must be a list of objects")
    return value


def cut_steps(record: dict[str, Any]) -> list[Step]:
    """The evaluation steps of one test record (`id`, `messages`, `tools`, `selection`)."""
    rid = str(record.get("id") or "")
    where = f"test record {rid or '<no id>'}"
    if not rid:
        raise FcsynthError(f"{where}: missing id")
    messages = _json_field(record, "messages", where)
    tools = _json_field(record, "tools", where) if record.get("tools") is not None else []
    selection = str(record.get("selection") or "")
    steps: list[Step] = []
    for i, message in enumerate(messages):
        if "role" not in message:
            raise FcsynthError(f"{where}: message {i} has no role")
        if message["role"] != "assistant":
            continue
        calls = message.get("tool_calls") or []
        text = message.get("content") or ""
        if not calls and not text.strip():
            continue
        try:
            gold_calls = [Call.from_message(c) for c in calls] if calls else None
        except AttributeError:
            raise FcsynthError(f"{where}: message {i} has a malformed tool_calls item") from None
        steps.append(
            Step(
                id=f"{rid}:{i:03d}", record_id=rid, selection=selection, index=i,
                history=messages[:i], tools=tools, gold_calls=gold_calls,
                gold_text=None if calls else text,
            )
        )
    return steps
