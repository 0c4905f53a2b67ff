"""The `export` stage: curated rows -> TRL/OpenAI tool-calling records, split and written.

Records: `{"id", "messages", "tools", "selection", "toolkits", "scenario", "persona",
"clarity", "scores"}`. JSONL keeps `tools[].function.parameters` and
`tool_calls[].function.arguments` as JSON objects; Parquet stores those two (the parts
whose shape varies by tool) as JSON strings so every row shares one schema.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl

from fcsynth.atomic import atomic_path, write_text_atomic
from fcsynth.rows import DIMENSIONS

SPLITS = ("train", "test")

_CALL = pl.Struct({"id": pl.String, "type": pl.String, "function": pl.Struct({"name": pl.String, "arguments": pl.String})})
_MESSAGE = pl.Struct({
    "role": pl.String, "content": pl.String, "reasoning_content": pl.String,
    "tool_calls": pl.List(_CALL), "tool_call_id": pl.String, "name": pl.String,
})
_TOOL = pl.Struct({"type": pl.String, "function": pl.Struct({"name": pl.String, "description": pl.String, "parameters": pl.String})})
PARQUET_SCHEMA = {
    "id": pl.String,
    "messages": pl.List(_MESSAGE),
    "tools": pl.List(_TOOL),
    "selection": pl.String,
    "toolkits": pl.List(pl.String),
    "scenario": pl.String,
    "persona": pl.Struct({"role": pl.String, "company": pl.String, "context": pl.String}),
    "clarity": pl.String,
    "scores": pl.Struct({d: pl.Int64 for d in DIMENSIONS}),
}


def id_rank(record_id: str) -> str:
    """The split key: a hash of the record id (stable across runs and machines)."""
    return hashlib.sha256(record_id.encode()).hexdigest()


def split_records(records: list[dict[str, Any]], test_fraction: float) -> dict[str, list[dict[str, Any]]]:
    """Stratified split: `floor(test_fraction * len(records))` records go to test.

    A selection gives a record to test only while it keeps at least one in train. Each
    test record comes from the selection with the smallest test share so far (ties: more
    records, then name), so test covers as many selections as it can before any gives a
    second; within a selection, the lowest id hash goes first.
    """
    by_selection: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_selection[r["selection"]].append(r)
    ranked = {s: sorted(g, key=lambda r: id_rank(r["id"])) for s, g in by_selection.items()}
    taken = dict.fromkeys(ranked, 0)
    test_ids: set[str] = set()
    for _ in range(int(test_fraction * len(records) + 1e-9)):  # epsilon: 0.29 * 100 is 28.999...
        open_ = [s for s, g in ranked.items() if len(g) - taken[s] > 1]
        if not open_:
            break
        pick = min(open_, key=lambda s: (taken[s] / len(ranked[s]), -len(ranked[s]), s))
        test_ids.add(ranked[pick][taken[pick]]["id"])
        taken[pick] += 1
    ordered = sorted(records, key=lambda r: r["id"])
    return {
        "train": [r for r in ordered if r["id"] not in test_ids],
        "test": [r for r in ordered if r["id"] in test_ids],
    }


def selections_without_test(splits: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Selections with train records but none in test (too few records to spare one)."""
    return sorted({r["selection"] for r in splits["train"]} - {r["selection"] for r in splits["test"]})


def to_parquet_row(record: dict[str, Any]) -> dict[str, Any]:
    """A record with tool parameters and call arguments as JSON strings (one Parquet schema)."""
    row = dict(record)
    row["tools"] = [
        {**t, "function": {**t["function"], "parameters": json.dumps(t["function"].get("parameters") or {}, ensure_ascii=False)}}
        for t in record["tools"]
    ]
    messages = []
    for m in record["messages"]:
        m = dict(m)
        if m.get("tool_calls"):
            m["tool_calls"] = [
                {**c, "function": {**c["function"], "arguments": json.dumps(c["function"]["arguments"], ensure_ascii=False)}}
                for c in m["tool_calls"]
            ]
        messages.append(m)
    row["messages"] = messages
    return row


def write_split(records: list[dict[str, Any]], out_dir: Path, split: str) -> None:
    """Write <split>.jsonl and <split>.parquet."""
    write_text_atomic(out_dir / f"{split}.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    frame = pl.DataFrame([to_parquet_row(r) for r in records], schema=PARQUET_SCHEMA, strict=False)
    with atomic_path(out_dir / f"{split}.parquet") as tmp:
        frame.write_parquet(tmp)


def conversation_shape(record: dict[str, Any]) -> dict[str, int]:
    """User turns and tool calls of one record."""
    msgs = record["messages"]
    return {
        "user_turns": sum(m["role"] == "user" for m in msgs),
        "tool_calls": sum(len(m.get("tool_calls") or []) for m in msgs),
    }
