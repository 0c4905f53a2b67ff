"""A simulated turn as text: its output parsed into a message, the tool's view of earlier calls,
and what the fake backend answers (unit tests only)."""

from __future__ import annotations

import json
import random
import re
from typing import Any

from fcsynth.constraints import turns
from fcsynth.constraints.example_values import example_value
from fcsynth.constraints.turns import Constraint
from fcsynth.simulation.state import ASSISTANT, TOOL, USER

MAX_STATE_CALLS = 8  # earlier calls the simulated tool sees (the most recent)
_CALL_BLOCK = re.compile(r"<tool_call>\n(.*?)\n</tool_call>", re.DOTALL)


def parse_turn(role: str, text: str) -> dict[str, Any]:
    """A turn's output as {"text"} / {"calls"} (+ "reasoning"), or {"response"} for a tool."""
    if role == TOOL:
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(str(err)) from None
    if role == USER:
        return {"user": True, "text": text.strip()}
    reasoning = None
    if text.startswith("<think>"):
        reasoning, _, text = text[len("<think>"):].partition("</think>")
    if not text.startswith("<tool_call>"):
        out: dict[str, Any] = {"text": text.strip()}
    else:
        calls = []
        for block in _CALL_BLOCK.findall(text):
            try:
                call = json.loads(block)
            except json.JSONDecodeError as err:
                raise ValueError(f"tool call is not JSON: {err}") from None
            calls.append({"name": call["name"], "arguments": call["arguments"]})
        if not calls:
            raise ValueError("no complete <tool_call> block")
        out = {"calls": calls}
    if reasoning is not None:
        out["reasoning"] = reasoning
    return out


def user_view(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The transcript as the simulated user sees it: its own messages, the assistant's texts,
    and "(uses <tools>)" for a call step."""
    view = []
    for m in messages:
        if m["role"] == USER:
            view.append({"role": "You", "content": m["content"]})
        elif m["role"] == ASSISTANT and m.get("tool_calls"):
            view.append({"role": "Assistant", "content": f"(uses {', '.join(c['function']['name'] for c in m['tool_calls'])})"})
        elif m["role"] == ASSISTANT:
            view.append({"role": "Assistant", "content": m["content"]})
    return view


def world_state(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier calls of the conversation with their responses (the most recent ones)."""
    calls = {c["id"]: c["function"] for m in messages for c in m.get("tool_calls") or []}
    state = [
        {"name": calls[m["tool_call_id"]]["name"], "arguments": calls[m["tool_call_id"]]["arguments"], "response": m["content"]}
        for m in messages if m["role"] == TOOL and m.get("tool_call_id") in calls
    ]
    return state[-MAX_STATE_CALLS:]


def fake_words(cid: str, key: str) -> str:
    """Words that differ from turn to turn, so fake texts do not repeat (unit tests only)."""
    rng = random.Random(f"{cid}/{key}")
    return " and ".join(f"item {rng.randint(100, 99999)}" for _ in range(2))


def fake_assistant(constraint: Constraint, cid: str, key: str) -> str:
    """What the fake backend answers for an assistant turn (unit tests only): the fewest
    calls its grammar allows, or text."""
    if not constraint.offered:
        return f"Done with {fake_words(cid, key)}."
    blocks = []
    for k in range(constraint.calls[0]):
        c = constraint.offered[k % len(constraint.offered)]
        value = example_value(c.args, f"{c.tool.name}/arguments", key=f"{cid}/{key}/{k}")
        blocks.append(turns.CALL_HEAD.format(name=json.dumps(c.tool.name)) + json.dumps(value, ensure_ascii=False) + turns.CALL_TAIL)
    return "\n".join(blocks)
