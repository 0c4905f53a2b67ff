"""`fcsynth grammar` and `fcsynth validate` (registered in fcsynth.cli)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from fcsynth.errors import FcsynthError
from fcsynth.paths import PARAMS_FILE
from fcsynth.tools import Tool
from fcsynth.userfiles import read_user_text


def grammar_command(
    tools_file: Annotated[Path, typer.Argument(help="JSON list of tool records (as `fcsynth import --out` writes)")],
    params: Annotated[Path, typer.Option("--params", help="The params.yaml whose `dml` section is the base")] = PARAMS_FILE,
    thinking: Annotated[bool | None, typer.Option("--thinking/--no-thinking", help="Require a <think> block in each assistant turn")] = None,
    parallel: Annotated[int | None, typer.Option("--parallel", help="Most parallel calls in one step")] = None,
    min_turns: Annotated[int | None, typer.Option("--min-turns", help="Fewest user turns")] = None,
    max_turns: Annotated[int | None, typer.Option("--max-turns", help="Most user turns")] = None,
    tool_errors: Annotated[bool, typer.Option("--tool-errors", help="Allow error objects as tool responses (a blueprint planning a tool error)")] = False,
    max_text_chars: Annotated[int | None, typer.Option("--max-text-chars", help="Longest free-text span")] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", help="Most call/response steps in one assistant turn")] = None,
    require_call: Annotated[bool | None, typer.Option("--require-call/--no-require-call", help="Some assistant turn must call a tool")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", help="Token budget the grammar is fitted to (default: conversations.max_tokens)")] = None,
) -> None:
    """Print the DML grammar (Lark, llguidance dialect) that constrains generation for these tools.

    The options are params.yaml's `dml` section (what the conversations stage uses for a
    blueprint with parallel calls planned), fitted to `conversations.max_tokens` as the stage
    fits them; each flag given overrides one of them.
    """
    from fcsynth.config import load_params
    from fcsynth.dml.grammar import GrammarOptions, build_budgeted_grammar

    cfg = load_params(params)
    dml_cfg = cfg.dml
    tools = _read_tools(tools_file)
    flags = {
        "thinking": thinking, "max_parallel_calls": parallel, "min_user_turns": min_turns,
        "max_user_turns": max_turns, "max_text_chars": max_text_chars, "max_steps_per_turn": max_steps,
        "require_tool_call": require_call,
    }
    base = GrammarOptions.for_conversation(dml_cfg, {"parallel_calls": True, "tool_error": tool_errors})
    options = replace(base, **{k: v for k, v in flags.items() if v is not None})
    budget = cfg.conversations.max_tokens if max_tokens is None else max_tokens
    built = build_budgeted_grammar(tools, options, budget, f"fcsynth grammar {tools_file}")
    typer.echo(built.lark, nl=False)
    for name in built.fallbacks:
        typer.echo(f"fallback: {name}: {built.levels[name]} ({built.errors.get(name, '')})", err=True)


def validate_command(
    file: Annotated[Path, typer.Argument(help="Dataset file: JSONL or Parquet of {messages, tools, ...} records")],
) -> None:
    """Check every record (structure, tool names, argument schemas, call/response pairing, turn order)."""
    from fcsynth.dml.validate import validate_file

    report = validate_file(file)
    if not report.records:
        raise FcsynthError(f"{file}: no records (the file is empty)")
    valid = report.records - report.invalid
    typer.echo(f"{file}: {report.records} records, {valid} valid, {report.invalid} invalid")
    for reason, count in report.reasons.most_common():
        typer.echo(f"  {reason}: {count}  (e.g. {report.examples[reason][:160]})")
    if report.invalid:
        raise FcsynthError(f"{file}: {report.invalid} of {report.records} records invalid")


def _read_tools(path: Path) -> list[Tool]:
    """The tools of a tools file, or a one-line error naming the file and the bad entry
    (the record checks are `fcsynth.tools.read_tools_file`'s, as for every tools file)."""
    from fcsynth.tools import read_tools_file

    read_user_text(path)  # a directory or a binary file: a one-line error, not a traceback
    try:
        tools = read_tools_file(path)
    except FcsynthError as err:
        raise (err if str(path) in str(err) else FcsynthError(f"{path}: {err}")) from None
    if not tools:
        raise FcsynthError(f"{path}: no tools")
    return tools
