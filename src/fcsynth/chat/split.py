"""Read a dataset split (data/dataset/<split>.jsonl, TRL's conversational format)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fcsynth.errors import FcsynthError


def read_split(path: Path) -> list[dict[str, Any]]:
    """Records of a JSONL split; a bad line is a one-line error naming file and line."""
    if not path.exists():
        raise FcsynthError(f"{path}: not found (run `dvc repro export`)")
    try:
        lines = path.read_bytes().splitlines()
    except OSError as err:
        raise FcsynthError(f"{path}: cannot be read ({err.strerror or err})") from None
    records = []
    for n, raw in enumerate(lines, 1):
        try:
            line = raw.decode()
        except UnicodeDecodeError as err:
            raise FcsynthError(f"{path}:{n}: not UTF-8 ({err.reason} at byte {err.start})") from None
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as err:  # also an integer past Python's digit limit, or too deep
            raise FcsynthError(f"{path}:{n}: not valid JSON ({getattr(err, 'msg', err)})") from None
        if not isinstance(record, dict):
            raise FcsynthError(f"{path}:{n}: expected a JSON object")
        records.append(record)
    return records
