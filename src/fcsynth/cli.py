"""The `fcsynth` command line: what users do by hand (the pipeline runs through DVC)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from fcsynth.errors import DEBUG_ENV, FcsynthError, debug_enabled, one_line, report_and_exit

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


_debug = False


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help=f"Show the traceback of an error (or set {DEBUG_ENV}=1)")] = False,
) -> None:
    """fcsynth: synthesize multi-turn function-calling datasets."""
    global _debug
    _debug = debug


@app.command()
def params(
    overrides: Annotated[list[str] | None, typer.Argument(help="Hydra overrides, e.g. sampling.temperature=0.5")] = None,
    check: Annotated[bool, typer.Option(help="Exit 1 if params.yaml differs from conf/ instead of writing it")] = False,
) -> None:
    """Compose conf/ into params.yaml (what DVC does on `dvc exp run`)."""
    from fcsynth.config import compose, parse_config, read_yaml, write_params
    from fcsynth.paths import PARAMS_FILE

    if check:
        composed = compose(overrides)
        current = read_yaml(PARAMS_FILE) if PARAMS_FILE.exists() else None
        if composed != current:
            raise FcsynthError("params.yaml differs from conf/: run `make params`")
        parse_config(composed)
        typer.echo("params.yaml matches conf/")
        return
    write_params(overrides)
    typer.echo(f"wrote {PARAMS_FILE}")


from fcsynth.catalog.cli import import_tools  # noqa: E402

app.command("import")(import_tools)

from fcsynth.catalog.search import app as catalog_app  # noqa: E402

app.add_typer(catalog_app, name="catalog")

from fcsynth.diff.cli import diff_command  # noqa: E402

app.command("diff")(diff_command)

from fcsynth.constraints.cli import grammar_command  # noqa: E402
from fcsynth.dml.cli import validate_command  # noqa: E402

app.command("grammar")(grammar_command)
app.command("validate")(validate_command)


def main() -> None:
    """Console entry point: every error is one line on stderr (exit 1; usage errors exit 2).

    `--debug` or FCSYNTH_DEBUG=1 prints the traceback first.
    """
    try:
        app(standalone_mode=False, prog_name="fcsynth")
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except (Exception, KeyboardInterrupt) as err:
        if _is_usage_error(err):
            where = getattr(getattr(err, "ctx", None), "command_path", None) or "fcsynth"
            message = one_line(err.format_message())  # type: ignore[attr-defined]
            if message:  # empty for no arguments at all: the help was printed instead
                print(f"{where}: error: {message} (see `{where} --help`)", file=sys.stderr)
            sys.exit(err.exit_code)  # type: ignore[attr-defined]
        if isinstance(err, BrokenPipeError):  # `fcsynth grammar tools.json | head`: not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            sys.exit(141)
        if _is_abort(err):
            err = KeyboardInterrupt()
        report_and_exit("fcsynth", err, debug=_debug or debug_enabled())


def _is_usage_error(err: BaseException) -> bool:
    """Click's usage errors (typer >= 0.20 vendors click, so match by shape as well as class)."""
    import click

    if isinstance(err, click.ClickException):
        return True
    return hasattr(err, "format_message") and isinstance(getattr(err, "exit_code", None), int)


def _is_abort(err: BaseException) -> bool:
    import click

    return isinstance(err, (click.exceptions.Abort, typer.Abort))


if __name__ == "__main__":
    main()
