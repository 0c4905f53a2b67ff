"""The catalog's record: one tool, JSON-Schema-native. Every stage trusts this shape."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fcsynth.atomic import atomic_path
from fcsynth.errors import FcsynthError

# `\Z`, not `$` (which also matches before a final newline): "get_weather\n" is no tool name.
TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}\Z")

CATALOG_COLUMNS = ("toolkit", "name", "description", "parameters", "response", "source", "operation")
# The columns `read_catalog` cannot do without (the others default when absent).
CATALOG_REQUIRED = ("toolkit", "name", "parameters")


@dataclass(frozen=True)
class Tool:
    """One tool: `parameters` is a JSON Schema object with every $ref resolved."""

    toolkit: str
    name: str
    description: str
    parameters: dict[str, Any]
    response: dict[str, Any] | None = None
    source: str = ""
    operation: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_openai(self) -> dict[str, Any]:
        """The tool as TRL / OpenAI `tools` entry."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    def to_record(self) -> dict[str, Any]:
        """A JSON-serializable record (the `fcsynth import` output format)."""
        record = asdict(self)
        record.pop("extra")
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Tool:
        """Build from a record (as written by `fcsynth import` or read from the catalog)."""
        try:
            return cls(
                toolkit=record["toolkit"],
                name=record["name"],
                description=record.get("description") or "",
                parameters=record["parameters"],
                response=record.get("response"),
                source=record.get("source") or "",
                operation=record.get("operation"),
            )
        except KeyError as err:
            raise FcsynthError(f"tool record {record.get('name', '?')!r}: missing key {err}") from None


def read_catalog(path: Path) -> list[Tool]:
    """Read data/catalog/tools.parquet (parameters/response stored as JSON strings); a missing,
    damaged or foreign file is a one-line FcsynthError naming it."""
    from fcsynth.tables import read_rows

    rows = read_rows(path, "catalog", CATALOG_REQUIRED)
    return [
        Tool.from_record({**r, "parameters": _json_cell(path, r, "parameters"), "response": _json_cell(path, r, "response")})
        for r in rows
    ]


def _json_cell(path: Path, row: dict[str, Any], column: str) -> Any:
    """A catalog cell's JSON (None for an empty `response`); anything else is a one-line error."""
    text = row.get(column)
    if column == "response" and not text:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        raise FcsynthError(
            f"{path}: tool {row.get('name')!r}: `{column}` is not JSON text; rerun the stage that writes it (`dvc repro catalog`)"
        ) from None


def write_catalog(tools: list[Tool], path: Path) -> None:
    """Write the catalog as Parquet, one row per tool, sorted by toolkit then name."""
    import polars as pl

    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            **t.to_record(),
            "parameters": json.dumps(t.parameters, sort_keys=True),
            "response": json.dumps(t.response, sort_keys=True) if t.response is not None else None,
        }
        for t in sorted(tools, key=lambda t: (t.toolkit, t.name))
    ]
    schema = {c: pl.String for c in CATALOG_COLUMNS}
    with atomic_path(path) as tmp:
        pl.DataFrame(rows, schema=schema).write_parquet(tmp)
