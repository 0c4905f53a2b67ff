"""`fcsynth catalog search WORD`: the toolkits and tools whose name, operation or description
mention every word, to find what to name in `conf/toolkits/` and `catalog.sources`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fcsynth.catalog.tools_file import read_tools_file
from fcsynth.errors import FcsynthError
from fcsynth.tools import Tool, read_catalog

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Look into the tool catalog.")
CATALOG = Path("data") / "catalog" / "tools.parquet"


def matches(tools: list[Tool], words: list[str]) -> list[Tool]:
    """The tools whose toolkit, name, operation or description contain every word (any case)."""
    wanted = [w.casefold() for w in words]
    out = []
    for t in tools:
        text = " ".join([t.toolkit, t.name, t.operation or "", t.description]).casefold()
        if all(w in text for w in wanted):
            out.append(t)
    return out


@app.command("search")
def search_command(
    words: Annotated[list[str], typer.Argument(help="Words that every match contains (any case)")],
    tools_file: Annotated[Path | None, typer.Option("--tools", help="A tools file (.json/.jsonl from `fcsynth import`) "
                                                    "instead of the project's data/catalog/tools.parquet")] = None,
    limit: Annotated[int, typer.Option(help="Tools listed at most", min=1)] = 20,
) -> None:
    """List the toolkits with matching tools (how many), then the matching tools."""
    if tools_file is not None:
        tools = read_tools_file(tools_file)
    else:
        from fcsynth.paths import ROOT

        if not (ROOT / CATALOG).exists():
            raise FcsynthError(f"{ROOT / CATALOG}: not found (run `dvc repro catalog`, or give --tools FILE)")
        tools = read_catalog(ROOT / CATALOG)
    found = matches(tools, words)
    per_toolkit: dict[str, int] = {}
    for t in found:
        per_toolkit[t.toolkit] = per_toolkit.get(t.toolkit, 0) + 1
    typer.echo(f"{len(found)} tools in {len(per_toolkit)} toolkits match {' '.join(words)!r}")
    for toolkit, n in sorted(per_toolkit.items(), key=lambda kv: (-kv[1], kv[0])):
        typer.echo(f"  {toolkit}: {n}")
    for t in found[:limit]:
        summary = t.description.strip().splitlines()[0][:100] if t.description.strip() else ""
        typer.echo(f"{t.toolkit}/{t.name}" + (f"  ({t.operation})" if t.operation else "") + (f"  {summary}" if summary else ""))
    if len(found) > limit:
        typer.echo(f"... {len(found) - limit} more (--limit)")
