"""A judged or curated conversation row as a dataset record (TRL's tool-calling format).

Curate validates the record it would export, and export writes it: both build it here.
"""

from __future__ import annotations

import json
from typing import Any

from fcsynth.tables import json_cell


def _message(m: dict[str, Any]) -> dict[str, Any]:
    """One message in the export format (thinking as reasoning_content, arguments as objects)."""
    out: dict[str, Any] = {"role": m["role"]}
    content = m.get("content")
    out["content"] = content if content is None or isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    reasoning = m.get("reasoning_content") or m.get("thinking")
    if reasoning:
        out["reasoning_content"] = reasoning
    if m.get("tool_calls"):
        out["tool_calls"] = [
            {
                "id": c["id"],
                "type": c.get("type", "function"),
                "function": {"name": c["function"]["name"], "arguments": json_cell(c["function"].get("arguments") or {})},
            }
            for c in m["tool_calls"]
        ]
    if m["role"] == "tool":
        out["tool_call_id"] = m["tool_call_id"]
        out["name"] = m["name"]
    return out


# The judged/curated columns `build_record` reads (the others are optional).
RECORD_INPUT_COLUMNS = ("id", "selection", "toolkits", "scenario", "tools", "messages")


def build_record(row: dict[str, Any]) -> dict[str, Any]:
    """The dataset record of one judged/curated row (system prompt first unless dropped)."""
    messages = [_message(m) for m in json.loads(row["messages"])]
    if row.get("system_prompt") and not row.get("drop_system_prompt"):
        messages.insert(0, {"role": "system", "content": row["system_prompt"]})
    return {
        "id": row["id"],
        "messages": messages,
        "tools": json_cell(row["tools"]),
        "selection": row["selection"],
        "toolkits": list(row["toolkits"]),
        "scenario": row["scenario"],
        "persona": json_cell(row.get("persona")),
        "clarity": row.get("clarity"),
        "scores": json_cell(row.get("scores")),
    }
