"""`fcsynth import FORMAT SOURCE --toolkit NAME --out tools.json` (registered in fcsynth.cli)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from fcsynth.catalog.build import import_source
from fcsynth.catalog.result import ImportResult
from fcsynth.catalog.tools_file import write_tools_file
from fcsynth.config import CatalogConfig
from fcsynth.errors import FcsynthError


class Format(str, Enum):
    openapi = "openapi"
    mcp = "mcp"
    openai = "openai"
    funcdex = "funcdex"
    bfcl = "bfcl"


class OversizeChoice(str, Enum):
    skip = "skip"
    trim = "trim"


def catalog_defaults() -> CatalogConfig:
    """The catalog section of the project's params.yaml; outside a project, of the conf/ that
    fcsynth ships (its source checkout)."""
    from fcsynth.config import compose, load_params, parse_config
    from fcsynth.paths import PARAMS_FILE

    if PARAMS_FILE.exists():
        return load_params().catalog
    shipped = Path(__file__).resolve().parents[3] / "conf"
    if not (shipped / "config.yaml").is_file():
        raise FcsynthError(f"{PARAMS_FILE}: not found, and no conf/ beside fcsynth: give --prompt-budget-tokens and --oversize")
    return parse_config(compose(conf_dir=shipped), f"{shipped}/").catalog


def check_out(out: Path) -> None:
    """A one-line error, before any work, if `out` cannot be written as a file."""
    if out.is_dir():
        raise FcsynthError(f"--out {out}: is a directory (give a file path, e.g. {out / 'tools.json'})")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise FcsynthError(f"--out {out}: {parent} is a file, not a directory")
            break


def import_tools(
    fmt: Annotated[Format, typer.Argument(metavar="FORMAT", help="openapi | mcp | openai | funcdex | bfcl")],
    source: Annotated[str, typer.Argument(
        help="A file (JSON or YAML) or an http(s) URL; for openapi also a folder of specs, for bfcl an API class name")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the tool records: a JSON list, or JSON Lines (.jsonl)")],
    toolkit: Annotated[
        str | None,
        typer.Option(help="Toolkit name (default: the spec's title, the file name, or Funcdex's toolkit_name)"),
    ] = None,
    prompt_budget_tokens: Annotated[
        int | None,
        typer.Option(help="Trim or skip tools larger than this (estimated tokens); 0 = no limit "
                     "(default: params.yaml catalog.prompt_budget_tokens)"),
    ] = None,
    oversize: Annotated[
        OversizeChoice | None, typer.Option(help="What to do with an oversize tool (default: params.yaml catalog.oversize)")
    ] = None,
    workers: Annotated[int, typer.Option(help="Processes importing the specs of a folder at once", min=1)] = 1,
) -> None:
    """Import tool definitions into catalog records (add the file to `catalog.sources`)."""
    if prompt_budget_tokens is None or oversize is None:
        catalog = catalog_defaults()
    budget = catalog.prompt_budget_tokens if prompt_budget_tokens is None else prompt_budget_tokens
    mode = catalog.oversize if oversize is None else oversize.value
    if budget < 0:
        raise FcsynthError("--prompt-budget-tokens must be >= 0")
    check_out(out)
    if fmt.value == "openapi" and Path(source).is_dir():
        from fcsynth.catalog.folder import import_folder
        from fcsynth.catalog.folder import report_lines as folder_report

        if toolkit is not None:
            raise FcsynthError("--toolkit: a folder import names each spec's toolkit from its path")
        report = import_folder(Path(source), out, budget or None, mode, workers, echo=typer.echo)
        for line in folder_report(report, Path(source), out):
            typer.echo(line)
        return
    result = import_source(fmt.value, source, toolkit, budget or None, mode)
    if not result.tools:
        # an empty import must not replace a good file with []
        noun = "operations" if fmt.value == "openapi" else "entries"
        raise FcsynthError(f"{source}: no tools imported ({result.entries} {noun}; {_reasons(result)}); {out} left unchanged")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_tools_file(result.tools, out)
    except OSError as err:
        raise FcsynthError(f"--out {out}: cannot write: {err.strerror or err}") from None
    for line in report_lines(result, fmt.value, source, out):
        typer.echo(line)


def _reasons(result: ImportResult) -> str:
    return ", ".join(f"{r}: {n}" for r, n in sorted(result.skipped.items())) or "the source has no entries"


def report_lines(result: ImportResult, fmt: str, source: str, out: Path) -> list[str]:
    """What `fcsynth import` prints: tools out of entries, then skips and fallbacks by reason."""
    noun = "operations" if fmt == "openapi" else "entries"
    toolkits = sorted({t.toolkit for t in result.tools})
    lines = [
        f"{len(result.tools)} of {result.entries} {noun} became tools, {sum(result.skipped.values())} skipped"
        f" (toolkit: {', '.join(toolkits) or '-'}) -> {out}"
    ]
    lines += result.reason_lines()
    if result.skipped.get("oversize"):
        lines.append("  hint: --oversize trim keeps oversize tools (cut down), --prompt-budget-tokens 0 keeps them whole")
    return lines
