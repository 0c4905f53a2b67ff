"""`fcsynth import FORMAT SOURCE --toolkit NAME --out tools.json` (registered in fcsynth.cli)."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from fcsynth.catalog.build import import_source
from fcsynth.catalog.result import ImportResult
from fcsynth.errors import FcsynthError


class Format(str, Enum):
    openapi = "openapi"
    mcp = "mcp"
    openai = "openai"
    funcdex = "funcdex"


class OversizeChoice(str, Enum):
    skip = "skip"
    trim = "trim"


def import_tools(
    fmt: Annotated[Format, typer.Argument(metavar="FORMAT", help="openapi | mcp | openai | funcdex")],
    source: Annotated[str, typer.Argument(help="A file (JSON or YAML) or an http(s) URL")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the JSON list of tool records")],
    toolkit: Annotated[
        str | None,
        typer.Option(help="Toolkit name (default: the spec's title, the file name, or Funcdex's toolkit_name)"),
    ] = None,
    prompt_budget_tokens: Annotated[
        int | None,
        typer.Option(help="Flag tools whose schema is larger than this (estimated tokens); 0 = no limit "
                     "(default: params.yaml catalog.prompt_budget_tokens)"),
    ] = None,
    oversize: Annotated[
        OversizeChoice | None, typer.Option(help="What to do with an oversize tool (default: params.yaml catalog.oversize)")
    ] = None,
) -> None:
    """Import tool definitions into catalog records (add the file to `catalog.sources`)."""
    if prompt_budget_tokens is None or oversize is None:
        from fcsynth.config import load_params

        catalog = load_params().catalog
        prompt_budget_tokens = catalog.prompt_budget_tokens if prompt_budget_tokens is None else prompt_budget_tokens
        oversize = OversizeChoice(catalog.oversize) if oversize is None else oversize
    if prompt_budget_tokens < 0:
        raise FcsynthError("--prompt-budget-tokens must be >= 0")
    result = import_source(fmt.value, source, toolkit, prompt_budget_tokens or None, oversize.value)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps([t.to_record() for t in result.tools], indent=2, ensure_ascii=False) + "\n")
    for line in report_lines(result, fmt.value, source, out):
        typer.echo(line)


def report_lines(result: ImportResult, fmt: str, source: str, out: Path) -> list[str]:
    """What `fcsynth import` prints: tools out of entries, then skips and fallbacks by reason."""
    noun = "operations" if fmt == "openapi" else "entries"
    toolkits = sorted({t.toolkit for t in result.tools})
    lines = [
        f"{len(result.tools)} of {result.entries} {noun} became tools, {sum(result.skipped.values())} skipped"
        f" (toolkit: {', '.join(toolkits) or '-'}) -> {out}"
    ]
    for title, counts in (("skipped", result.skipped), ("flagged", result.flagged)):
        for reason, n in sorted(counts.items()):
            example = result.examples.get(reason, [""])[0]
            lines.append(f"  {title} {reason}: {n}" + (f"  e.g. {example}" if example else ""))
    if result.skipped.get("oversize"):
        lines.append("  hint: --oversize trim keeps oversize tools (cut down), --prompt-budget-tokens 0 keeps them whole")
    return lines
