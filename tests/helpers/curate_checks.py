"""Judged rows carrying given messages and the curate decisions on them, for the curate check tests."""

from __future__ import annotations

import json

from fcsynth.curate import curate
from fcsynth.tools import Tool

from helpers.fabricate import EVENT, SEND, conversation_row, curate_config, good_scores, judged_row

CFG = curate_config(thresholds={"tool_use_quality": 4}, min_grounding=0.5)
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in (SEND, EVENT)}
FAB_TOOLS = [Tool("fab", t["function"]["name"], t["function"]["description"], t["function"]["parameters"]) for t in (SEND, EVENT)]


def call(name: str, args: dict, n: int) -> dict:
    return {"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": args}}


def response(n: int, name: str, content: dict) -> dict:
    return {"role": "tool", "tool_call_id": f"call_{n}", "name": name, "content": json.dumps(content)}


def row_with(messages: list[dict], row_id: str = "gmail_googlecalendar-0100", scores: dict | None = None) -> dict:
    """A judged row of the bundle selection carrying `messages`."""
    row = judged_row(conversation_row("gmail+googlecalendar", 1), scores or good_scores())
    return {**row, "id": row_id, "messages": json.dumps(messages)}


def decide(*rows: dict, cfg=CFG):
    _, decisions, metrics = curate(list(rows), cfg, lambda r: [])
    return {d["id"]: d for d in decisions}, metrics.as_dict()
