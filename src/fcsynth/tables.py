"""Stage tables: Parquet, one row per record, sorted by id; JSON-valued cells as strings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from fcsynth.errors import FcsynthError


def write_rows(rows: list[dict[str, Any]], path: Path, schema: dict[str, Any] | None = None) -> None:
    """Write rows sorted by id (an empty table keeps its columns when a schema is given).

    With a schema, every row must have exactly its columns (a stage declares its rows once).
    """
    if schema is not None:
        for row in rows:
            if row.keys() != schema.keys():
                diff = sorted(set(row) ^ set(schema))
                raise ValueError(f"{path.name}: row {row.get('id')!r} does not match the table schema: {diff}")
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(rows, key=lambda r: r["id"])
    frame = pl.DataFrame(ordered, schema=schema, strict=False) if ordered or schema else pl.DataFrame({"id": []})
    frame.write_parquet(path)


def read_rows(path: Path, stage_hint: str = "") -> list[dict[str, Any]]:
    """Read a stage table as dicts; a missing file is a one-line error naming the stage."""
    if not path.exists():
        hint = f" (run `dvc repro {stage_hint}`)" if stage_hint else ""
        raise FcsynthError(f"{path}: not found{hint}")
    return pl.read_parquet(path).to_dicts()


def json_cell(value: Any) -> Any:
    """A cell that may hold JSON text (Parquet stores nested values so): decoded when it is
    valid JSON, anything else (an object already, None, plain text) as it is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value

