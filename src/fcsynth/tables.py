"""Stage tables: Parquet, one row per record, sorted by id; JSON-valued cells as strings."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from fcsynth.atomic import atomic_path
from fcsynth.errors import FcsynthError, one_line


def write_rows(rows: list[dict[str, Any]], path: Path, schema: dict[str, Any] | None = None, *, allow_empty: bool = False) -> None:
    """Write rows sorted by id, atomically (a crash keeps the previous file).

    With a schema, every row must have exactly its columns (a stage declares its rows once).
    No rows is an error naming the file (the previous file is kept), unless `allow_empty`:
    then an empty table keeps its columns when a schema is given.
    """
    if not rows and not allow_empty:
        raise FcsynthError(f"{path}: the stage produced 0 rows, so nothing was written (the previous file, if any, is kept)")
    if schema is not None:
        for row in rows:
            if row.keys() != schema.keys():
                diff = sorted(set(row) ^ set(schema))
                raise ValueError(f"{path.name}: row {row.get('id')!r} does not match the table schema: {diff}")
    ordered = sorted(rows, key=lambda r: r["id"])
    frame = pl.DataFrame(ordered, schema=schema, strict=False) if ordered or schema else pl.DataFrame({"id": []})
    with atomic_path(path) as tmp:
        frame.write_parquet(tmp)


def read_rows(path: Path, stage_hint: str = "", columns: Iterable[str] = (), *, fix: str = "") -> list[dict[str, Any]]:
    """Read a stage table as dicts; every way it cannot be used is a one-line FcsynthError
    naming the file: missing, not readable as Parquet (truncated, garbage), or lacking one
    of `columns` (the ones the reader needs; a table with no rows needs none).

    `stage_hint` is the stage that writes the table (the error says to rerun it); `fix`
    replaces that advice (for a table the reading stage writes itself).
    """
    if not path.exists():
        hint = f" (run `dvc repro {stage_hint}`)" if stage_hint else ""
        raise FcsynthError(f"{path}: not found{hint}")
    advice = f"; {fix}" if fix else f"; rerun the stage that writes it (`dvc repro {stage_hint}`)" if stage_hint else ""
    try:
        frame = pl.read_parquet(path)
        rows = frame.to_dicts()
    except Exception as err:  # polars raises many kinds for a damaged or foreign file
        reason = one_line(str(err)) or type(err).__name__
        reason = reason if len(reason) <= 200 else reason[:199] + "…"
        raise FcsynthError(f"{path}: not a readable Parquet file ({reason}){advice}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing and rows:
        names = ", ".join(repr(c) for c in missing)
        raise FcsynthError(f"{path}: missing column(s) {names} (written by another version of fcsynth, or damaged){advice}")
    return rows


def json_cell(value: Any) -> Any:
    """A cell that may hold JSON text (Parquet stores nested values so): decoded when it is
    valid JSON, anything else (an object already, None, plain text) as it is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:  # not JSON, or an integer past Python's digit limit
            return value
    return value

