"""One simulated conversation: its plan, its transcript so far, and what happens next.

The transcript is TRL/OpenAI messages (no system message). What comes next follows from
the last message and the plan: a user turn after an assistant's text (until the planned
turns are used), an assistant turn after a user message or after the tool responses,
tool responses after a call step.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from fcsynth.dml.validate import tool_schemas
from fcsynth.quality.repeats import is_error_response as is_error
from fcsynth.tools import Tool

USER, ASSISTANT, TOOL = "user", "assistant", "tool"
PLAN_COMPLETE = "plan_complete"  # every planned user turn happened
CONTEXT_FULL = "context_full"  # the next turn's prompt plus its budget exceeds max_model_len
TURN_FAILED = "turn_failed"  # a turn failed every attempt (engine error or bad output)
CHECKS_FAILED = "checks_failed"  # a turn failed curate's rule checks in every attempt


def _is_text_answer(message: dict[str, Any]) -> bool:
    """An assistant message without calls: where a complete user turn ends."""
    return message["role"] == ASSISTANT and not message.get("tool_calls")


def parallel_calls(turn: dict[str, Any], most: int) -> tuple[int, int]:
    """The calls (lo, hi) of a parallel turn's step: its planned `calls`, or 2..`most` for a
    plan drawn before counts were planned."""
    n = turn.get("calls")
    return (n, n) if n else (2, most)


@dataclass
class Conversation:
    """A conversation being simulated."""

    id: str
    blueprint: dict[str, Any]
    tools: list[Tool]
    turns: list[dict[str, Any]]
    facts: dict[str, str]
    messages: list[dict[str, Any]] = field(default_factory=list)
    partial: dict[int, dict[str, Any]] = field(default_factory=dict)  # tool responses of the open step
    accepted: list[str] = field(default_factory=list)  # request ids whose output is in the transcript
    attempts: dict[str, int] = field(default_factory=dict)  # action key -> failed attempts
    end: str | None = None
    end_detail: str | None = None
    failures: Counter[str] = field(default_factory=Counter)  # failed attempts by reason
    tightened_calls: int = 0  # calls generated under JSON bounds tighter than dml.*
    tightened_responses: int = 0  # simulated responses generated so
    text_only_turn: int | None = None  # the user turn whose assistant may only answer in text now
    single_call_turn: int | None = None  # the user turn whose parallel step became a single call
    calls_made: int = 0

    @cached_property
    def schemas(self) -> dict[str, Any]:
        """name -> argument schema of the conversation's tools (for the rule checks)."""
        return tool_schemas([t.to_openai() for t in self.tools])

    @property
    def done(self) -> bool:
        return self.end is not None

    @property
    def user_turns(self) -> int:
        return sum(m["role"] == USER for m in self.messages)

    @property
    def turn(self) -> dict[str, Any]:
        """The plan of the current user turn."""
        return self.turns[self.user_turns - 1]

    def turn_messages(self) -> list[dict[str, Any]]:
        """The messages since the current turn's user message."""
        for i in range(len(self.messages) - 1, -1, -1):
            if self.messages[i]["role"] == USER:
                return self.messages[i + 1:]
        return []

    @property
    def steps(self) -> int:
        """Call steps the assistant made in the current turn."""
        return sum(bool(m.get("tool_calls")) for m in self.turn_messages())

    def turn_tools(self) -> set[str]:
        """Names of the tools called so far in the current turn."""
        return {c["function"]["name"] for m in self.turn_messages() for c in m.get("tool_calls") or []}

    def parallel_due(self, most: int) -> tuple[int, int] | None:
        """The calls (lo, hi) of the planned parallel step, from the turn the plan places it on
        until one happens (a step that could not be parallel there, with no two tools callable
        yet or a repeat cut it to one call, is made at the first step of a later task turn);
        None when none is due (see parallel_calls)."""
        planned = self.planned_parallel()
        if planned is None or any(len(m.get("tool_calls") or []) >= 2 for m in self.messages):
            return None
        return parallel_calls(planned, most)

    def planned_parallel(self) -> dict[str, Any] | None:
        """The plan of the parallel turn, once the conversation has reached it."""
        return next((t for t in self.turns[: self.user_turns] if t.get("parallel")), None)

    def last_step_failed(self) -> bool:
        tail = self.turn_messages()
        return bool(tail) and tail[-1]["role"] == TOOL and any(m["role"] == TOOL and is_error(m["content"]) for m in tail[-3:])

    def pending_calls(self) -> list[dict[str, Any]]:
        """The calls of the last assistant message that have no response yet."""
        if not self.messages or not self.messages[-1].get("tool_calls"):
            return []
        return self.messages[-1]["tool_calls"]

    def phase(self) -> str | None:
        """Who acts next: USER, ASSISTANT, TOOL, or None when the conversation is over."""
        if self.done:
            return None
        if not self.messages:
            return USER
        last = self.messages[-1]
        if last["role"] == USER or last["role"] == TOOL:
            return ASSISTANT
        if last.get("tool_calls"):
            return TOOL
        if self.user_turns >= len(self.turns):
            self.end = PLAN_COMPLETE
            return None
        return USER

    def has_complete_turn(self) -> bool:
        """Some user turn was answered in text: ending now would keep something."""
        return any(map(_is_text_answer, self.messages))

    def finish(self, reason: str, detail: str | None = None) -> None:
        """End now, keeping only complete turns (the transcript ends on the assistant's text)."""
        while self.messages and not _is_text_answer(self.messages[-1]):
            self.messages.pop()
        self.partial.clear()
        self.end, self.end_detail = reason, detail

    def error_planned(self, call_index: int) -> bool:
        """True when the plan makes this response of the open step an error object."""
        t = self.turn
        return bool(t.get("error")) and self.steps == 1 and call_index == 0

    def add_calls(self, calls: list[dict[str, Any]], reasoning: str | None) -> None:
        message: dict[str, Any] = {"role": ASSISTANT, "content": "", "tool_calls": []}
        for c in calls:
            self.calls_made += 1
            message["tool_calls"].append(
                {"id": f"call_{self.calls_made}", "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            )
        if reasoning is not None:
            message["reasoning_content"] = reasoning
        self.messages.append(message)

    def add_text(self, role: str, text: str, reasoning: str | None = None) -> None:
        message: dict[str, Any] = {"role": role, "content": text}
        if reasoning is not None:
            message["reasoning_content"] = reasoning
        self.messages.append(message)

    def add_responses(self) -> None:
        """Append the open step's responses, in call order, once all have arrived."""
        calls = self.pending_calls()
        if len(self.partial) < len(calls):
            return
        for j, call in enumerate(calls):
            self.messages.append(
                {"role": TOOL, "tool_call_id": call["id"], "name": call["function"]["name"], "content": self.partial[j]["content"]}
            )
        self.partial.clear()
