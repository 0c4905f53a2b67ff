"""The tools file: a JSON list (or JSON Lines) of tool records, as `fcsynth import --out` writes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fcsynth.atomic import atomic_path
from fcsynth.catalog.source import load_document
from fcsynth.errors import FcsynthError
from fcsynth.tools import TOOL_NAME_RE, Tool


def record_error(record: Any) -> str | None:
    """Why `record` is not a catalog tool record (valid name and toolkit, object
    `parameters`, optional object `response`), or None."""
    if not isinstance(record, dict):
        return f"not a tool record (a {type(record).__name__}, expected an object)"
    for key in ("toolkit", "name"):
        value = record.get(key)
        if not isinstance(value, str):
            return f"`{key}` is missing or not a string"
        if not TOOL_NAME_RE.fullmatch(value):
            return f"`{key}` {value!r} must match ^[a-zA-Z0-9_-]{{1,64}}$"
    params = record.get("parameters")
    if not isinstance(params, dict) or params.get("type", "object") != "object":
        return f"tool {record['name']!r}: `parameters` must be a JSON Schema object, not {_kind(params)}"
    if record.get("response") is not None and not isinstance(record["response"], (dict, bool)):
        return f"tool {record['name']!r}: `response` must be a JSON Schema or null"
    if record.get("description") is not None and not isinstance(record["description"], str):
        return f"tool {record['name']!r}: `description` must be a string"
    return None


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return f"type {value.get('type')!r}"
    return "missing" if value is None else f"a {type(value).__name__}"


def read_tools_file(path: Path) -> list[Tool]:
    """Read a JSON list of tool records (what `fcsynth import ... --out` writes); anything
    else (not a list, a bad record, too large, too deep) is a one-line FcsynthError."""
    if Path(path).is_dir():
        raise FcsynthError(f"{path}: is a directory, not a tools file")
    data = load_document(path).data
    if not isinstance(data, list):
        raise FcsynthError(f"{path}: expected a JSON list of tool records, not a {type(data).__name__}")
    tools = []
    for i, record in enumerate(data):
        error = record_error(record)
        if error:
            raise FcsynthError(f"{path}[{i}]: {error}")
        tools.append(Tool.from_record(record))
    return tools


def write_tools_file(tools: list[Tool], path: Path) -> None:
    """Write tools as a JSON list of records (the `fcsynth import --out` format), or one record
    per line for a `.jsonl` path, atomically."""
    records = [t.to_record() for t in tools]
    if Path(path).suffix.lower() == ".jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    else:
        text = json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
