"""`fcsynth validate` (registered in fcsynth.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fcsynth.errors import FcsynthError


def validate_command(
    file: Annotated[Path, typer.Argument(help="Dataset file: JSONL or Parquet of {messages, tools, ...} records")],
) -> None:
    """Check every record (structure, tool names, argument schemas, call/response pairing, turn order)."""
    from fcsynth.dml.validate_file import validate_file

    report = validate_file(file)
    if not report.records:
        raise FcsynthError(f"{file}: no records (the file is empty)")
    valid = report.records - report.invalid
    typer.echo(f"{file}: {report.records} records, {valid} valid, {report.invalid} invalid")
    for reason, count in report.reasons.most_common():
        typer.echo(f"  {reason}: {count}  (e.g. {report.examples[reason][:160]})")
    if report.invalid:
        raise FcsynthError(f"{file}: {report.invalid} of {report.records} records invalid")
