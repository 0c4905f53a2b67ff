"""Validate every record of a dataset file (JSONL or Parquet): what `fcsynth validate` reports."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fcsynth.dml.validate import CUT_DEPTH, cut_deep, reason_label, validate_record
from fcsynth.errors import FcsynthError
from fcsynth.schema_keywords import MAX_DEPTH
from fcsynth.userfiles import check_user_file, read_user_text


@dataclass
class FileReport:
    """What `fcsynth validate` found in one file."""

    records: int = 0
    invalid: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # reason -> first "id: failure"


def _read(path: Path) -> list[tuple[str, Any, bool]]:
    """(where, record, cut) for each record of a JSONL or Parquet dataset file: `where` is
    "line N" or "row N"; `cut` when the line nests too deeply for json.loads (it is read
    with its deepest containers emptied)."""
    check_user_file(path)
    if path.suffix == ".parquet":
        import polars as pl

        try:
            rows = pl.read_parquet(path).to_dicts()
        except Exception as err:  # polars raises many kinds for a bad file
            raise FcsynthError(f"{path}: not a readable Parquet file: {err}") from None
        return [(f"row {n}", row, False) for n, row in enumerate(rows, 1)]
    records = []
    for n, line in enumerate(read_user_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            try:
                records.append((f"line {n}", json.loads(line), False))
            except RecursionError:
                records.append((f"line {n}", json.loads(cut_deep(line, CUT_DEPTH)), True))
        except ValueError as err:  # JSONDecodeError, or an integer past Python's digit limit
            raise FcsynthError(f"{path}:{n}: not valid JSON: {getattr(err, 'msg', err)}") from None
    return records


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records of a JSONL or Parquet dataset file."""
    return [record for _, record, _ in _read(path)]


def validate_file(path: Path) -> FileReport:
    """Validate every record of a dataset file."""
    report = FileReport()
    for where, record, cut in _read(path):
        report.records += 1
        failures = validate_record(record) if isinstance(record, dict) else ["bad_record: not an object"]
        if cut and not any(reason_label(f) in ("schema_too_deep", "arguments_too_deep") for f in failures):
            failures.append(f"too_deep: the record nests deeper than {MAX_DEPTH} levels")
        if failures:
            report.invalid += 1
            named = f"{where} (id {record['id']!r})" if isinstance(record, dict) and "id" in record else where
            for failure in failures:
                label = reason_label(failure)
                report.reasons[label] += 1
                report.examples.setdefault(label, f"{named}: {failure}")
    return report
