"""`fcsynth grammar` and `fcsynth validate` (registered in fcsynth.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import yaml

from fcsynth.config import DMLConfig
from fcsynth.errors import FcsynthError
from fcsynth.paths import CONF_DIR

# The pipeline's defaults (conf/dml/default.yaml), so the printed grammar is the one it uses.
_D = DMLConfig(**yaml.safe_load((CONF_DIR / "dml" / "default.yaml").read_text()))


def grammar_command(
    tools_file: Annotated[Path, typer.Argument(help="JSON list of tool records (as `fcsynth import --out` writes)")],
    thinking: Annotated[bool, typer.Option("--thinking/--no-thinking", help="Require a <think> block in each assistant turn")] = _D.thinking,
    parallel: Annotated[int, typer.Option("--parallel", help="Most parallel calls in one step")] = _D.max_parallel_calls,
    min_turns: Annotated[int, typer.Option("--min-turns", help="Fewest user turns")] = _D.min_user_turns,
    max_turns: Annotated[int, typer.Option("--max-turns", help="Most user turns")] = _D.max_user_turns,
    tool_errors: Annotated[bool, typer.Option("--tool-errors", help="Allow error objects as tool responses")] = False,
    max_text_chars: Annotated[int, typer.Option("--max-text-chars", help="Longest free-text span")] = _D.max_text_chars,
    max_steps: Annotated[int, typer.Option("--max-steps", help="Most call/response steps in one assistant turn")] = _D.max_steps_per_turn,
    require_call: Annotated[bool, typer.Option("--require-call/--no-require-call", help="Some assistant turn must call a tool")] = _D.require_tool_call,
) -> None:
    """Print the DML grammar (Lark, llguidance dialect) that constrains generation for these tools."""
    from fcsynth.dml.grammar import GrammarOptions, build_grammar
    from fcsynth.tools import read_tools_file

    tools = read_tools_file(tools_file)
    if not tools:
        raise FcsynthError(f"{tools_file}: no tools")
    options = GrammarOptions(
        thinking=thinking,
        max_parallel_calls=parallel,
        min_user_turns=min_turns,
        max_user_turns=max_turns,
        allow_tool_errors=tool_errors,
        max_text_chars=max_text_chars,
        max_steps_per_turn=max_steps,
        require_tool_call=require_call,
    )
    built = build_grammar(tools, options)
    typer.echo(built.lark, nl=False)
    for name in built.fallbacks:
        typer.echo(f"fallback: {name}: {built.levels[name]} ({built.errors.get(name, '')})", err=True)


def validate_command(
    file: Annotated[Path, typer.Argument(help="Dataset file: JSONL or Parquet of {messages, tools, ...} records")],
) -> None:
    """Check every record (structure, tool names, argument schemas, call/response pairing, turn order)."""
    from fcsynth.dml.validate import validate_file

    report = validate_file(file)
    valid = report.records - report.invalid
    typer.echo(f"{file}: {report.records} records, {valid} valid, {report.invalid} invalid")
    for reason, count in report.reasons.most_common():
        typer.echo(f"  {reason}: {count}  (e.g. {report.examples[reason][:160]})")
    if report.invalid:
        raise FcsynthError(f"{file}: {report.invalid} of {report.records} records invalid")
