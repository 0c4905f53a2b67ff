"""What a finished conversation realized of its plan, and its shape figures.

A planned feature is realized when the transcript shows it:
- `parallel_calls`: an assistant message of the planned turn, or of a later one (where the
  simulation carries a step that could not be parallel at its turn), calls two or more tools;
- `tool_error`: a tool response of the planned turn is the error object and the
  assistant calls a tool again after it in that turn (the recovery);
- `missing_argument`: the assistant answers the planned turn without a call (it asks), and
  the next user message gives the withheld value;
- `no_tool_request`: the assistant answers the planned turn without a call.
Otherwise the conversation records why not (not placed, ended before the turn, not shown).
"""

from __future__ import annotations

import json
import re
from typing import Any

from fcsynth.catalog.identifiers import identifier_arguments, is_identifier
from fcsynth.generation.plan import FEATURES
from fcsynth.simulation.state import ASSISTANT, TOOL, USER, is_error
from fcsynth.tools import Tool

_SENTENCE_END = re.compile(r"[.!?][)\"']?$")


def _turns(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Messages grouped by user turn (each group starts with its user message)."""
    groups: list[list[dict[str, Any]]] = []
    for m in messages:
        if m["role"] == USER:
            groups.append([])
        if groups:
            groups[-1].append(m)
    return groups


def realized(plan: dict[str, Any], messages: list[dict[str, Any]], facts: dict[str, str]) -> dict[str, dict[str, Any]]:
    """feature -> {"planned", "realized", "why"} for every feature of FEATURES."""
    turns = _turns(messages)
    planned_at: dict[str, int] = {}
    for i, t in enumerate(plan["turns"]):
        if t.get("parallel"):
            planned_at["parallel_calls"] = i
        if t.get("error"):
            planned_at["tool_error"] = i
        if t["kind"] == "missing":
            planned_at["missing_argument"] = i
        if t["kind"] == "no_tool":
            planned_at["no_tool_request"] = i
    out: dict[str, dict[str, Any]] = {}
    for feature in FEATURES:
        wanted = bool(plan["features"].get(feature))
        entry: dict[str, Any] = {"planned": wanted, "realized": False, "why": None}
        if not wanted:
            out[feature] = entry
            continue
        if feature not in planned_at:
            entry["why"] = "not placed: " + plan.get("unplaced", {}).get(feature, "unknown")
        elif planned_at[feature] >= len(turns):
            entry["why"] = "the conversation ended before the planned turn"
        else:
            i = planned_at[feature]
            turn = turns[i]
            assistant = [m for m in turn if m["role"] == ASSISTANT]
            called = any(m.get("tool_calls") for m in assistant)
            if feature == "parallel_calls":
                later = [m for t in turns[i:] for m in t if m["role"] == ASSISTANT]
                entry["realized"] = any(len(m.get("tool_calls") or []) >= 2 for m in later)
            elif feature == "tool_error":
                first = next((k for k, m in enumerate(turn) if m["role"] == TOOL and is_error(m["content"])), None)
                entry["realized"] = first is not None and any(m.get("tool_calls") for m in turn[first + 1:])
            elif feature == "missing_argument":
                value = facts.get(plan["turns"][i].get("withheld", ""), "")
                said_next = i + 1 < len(turns) and value and value in (turns[i + 1][0].get("content") or "")
                entry["realized"] = not called and bool(said_next)
            else:
                entry["realized"] = not called
            if not entry["realized"]:
                entry["why"] = "not shown in the transcript"
        out[feature] = entry
    return out


def shape(messages: list[dict[str, Any]], tools: list[Tool]) -> dict[str, Any]:
    """Per-conversation figures: messages, calls, arguments, parallel steps (all, and those
    whose calls all name one tool), error responses,
    identifier grounding, sentence ends."""
    ids = {t.name: identifier_arguments(t.parameters) for t in tools}
    calls = [c["function"] for m in messages for c in m.get("tool_calls") or []]
    seen_text = ""
    id_values = grounded = 0
    for m in messages:
        for c in m.get("tool_calls") or []:
            fn = c["function"]
            args = fn["arguments"] if isinstance(fn["arguments"], dict) else json.loads(fn["arguments"])
            for _, value in _identifier_leaves(args, ids.get(fn["name"], {})):
                id_values += 1
                grounded += value in seen_text
        if m["role"] in (USER, TOOL):
            seen_text += "\n" + str(m.get("content") or "")
    texts = [m["content"] for m in messages if m["role"] in (USER, ASSISTANT) and not m.get("tool_calls") and m.get("content")]
    return {
        "messages": len(messages),
        "user_turns": sum(m["role"] == USER for m in messages),
        "tool_calls": len(calls),
        "arguments": sum(len(c["arguments"] if isinstance(c["arguments"], dict) else json.loads(c["arguments"])) for c in calls),
        "parallel_steps": sum(len(m.get("tool_calls") or []) >= 2 for m in messages),
        "one_tool_parallel_steps": sum(len(c := m.get("tool_calls") or []) >= 2 and len({x["function"]["name"] for x in c}) == 1
                                       for m in messages),
        "error_responses": sum(m["role"] == TOOL and is_error(m["content"]) for m in messages),
        "identifier_values": id_values,
        "grounded_identifier_values": grounded,
        "texts": len(texts),
        "sentence_ends": sum(bool(_SENTENCE_END.search(t.rstrip())) for t in texts),
    }


def _identifier_leaves(args: dict[str, Any], id_schemas: dict[str, Any]) -> list[tuple[str, str]]:
    out = []

    def walk(value: Any, name: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, name)
        elif isinstance(value, str) and name in id_schemas and is_identifier(name, id_schemas[name]):
            out.append((name, value))

    walk(args, "")
    return out
