"""`fcsynth grammar`: print one assistant turn's grammar as the conversations stage builds it (registered in fcsynth.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fcsynth.errors import FcsynthError
from fcsynth.paths import PARAMS_FILE
from fcsynth.tools import Tool
from fcsynth.userfiles import read_user_text

if TYPE_CHECKING:
    from fcsynth.config import DMLConfig


def grammar_command(
    tools_file: Annotated[Path, typer.Argument(help="JSON list of tool records (as `fcsynth import --out` writes)")],
    params: Annotated[Path, typer.Option("--params", help="The params.yaml whose `dml` section is the base")] = PARAMS_FILE,
    known: Annotated[list[str] | None, typer.Option("--known", help="An id, email or link known so far (repeat it); identifier arguments may only take these")] = None,
    mode: Annotated[str, typer.Option("--mode", help="either: text or calls; call: calls only; text: text only")] = "either",
    min_calls: Annotated[int, typer.Option("--min-calls", help="Fewest calls in the step")] = 1,
    max_calls: Annotated[int, typer.Option("--max-calls", help="Most calls in the step (parallel calls)")] = 1,
    thinking: Annotated[bool | None, typer.Option("--thinking/--no-thinking", help="Require a <think> block first")] = None,
    max_text_chars: Annotated[int | None, typer.Option("--max-text-chars", help="Longest text answer")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", help="What the turn's context leaves (default: conversations.max_tokens)")] = None,
) -> None:
    """Print the grammar (Lark, llguidance dialect) of one assistant turn over these tools,
    exactly as the conversations stage builds it: params.yaml's `dml` bounds, identifier
    arguments limited to the --known values, tools whose required identifiers are unknown or
    whose longest call or answer exceeds --max-tokens left out (only a tool over
    conversations.max_tokens itself is narrowed). Its proven max_tokens is printed on stderr."""
    from fcsynth.config import load_params
    from fcsynth.constraints.turns import assistant_grammar

    if mode not in ("either", "call", "text"):
        raise FcsynthError(f"--mode: expected either, call or text, got {mode!r}")
    if not 1 <= min_calls <= max_calls:
        raise FcsynthError("--min-calls/--max-calls: need 1 <= min <= max")
    cfg = load_params(params)
    tools = _read_tools(tools_file)
    flags = {"thinking": thinking, "max_text_chars": max_text_chars}
    options = _with_flags(cfg.dml, {k: v for k, v in flags.items() if v is not None})
    budget = cfg.conversations.max_tokens if max_tokens is None else max_tokens
    cap = max(budget, cfg.conversations.max_tokens)
    built = assistant_grammar(tools, options, list(known or []), mode, (min_calls, max_calls), budget, cap)
    typer.echo(built.lark, nl=False)
    offered = {c.tool.name for c in built.offered}
    left_out = [t.name for t in tools if t.name not in offered]
    typer.echo(f"max_tokens: {built.max_tokens}", err=True)
    if mode != "text" and left_out:
        typer.echo(f"not offered (required identifier unknown, or too long for the budget): {', '.join(left_out)}", err=True)


def _with_flags(dml: DMLConfig, flags: dict[str, Any]) -> DMLConfig:
    """The `dml` section with the command's flags, validated like params.yaml."""
    from pydantic import ValidationError

    from fcsynth.config.loading import format_validation_error

    try:
        return type(dml).model_validate({**dml.model_dump(), **flags})
    except ValidationError as err:
        raise FcsynthError(format_validation_error(err, "flags")) from None


def _read_tools(path: Path) -> list[Tool]:
    """The tools of a tools file, or a one-line error naming the file and the bad entry
    (the record checks are `fcsynth.catalog.tools_file.read_tools_file`'s, as for every tools file)."""
    from fcsynth.catalog.tools_file import read_tools_file

    read_user_text(path)  # a directory or a binary file: a one-line error, not a traceback
    try:
        tools = read_tools_file(path)
    except FcsynthError as err:
        raise (err if str(path) in str(err) else FcsynthError(f"{path}: {err}")) from None
    if not tools:
        raise FcsynthError(f"{path}: no tools")
    return tools
