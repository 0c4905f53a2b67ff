"""The `fcsynth` command line: what users do by hand (the pipeline runs through DVC)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from fcsynth.errors import FcsynthError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


@app.callback()
def _root() -> None:
    """fcsynth: synthesize multi-turn function-calling datasets."""


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

from fcsynth.diff import diff_command  # noqa: E402

app.command("diff")(diff_command)

from fcsynth.dml.cli import grammar_command, validate_command  # noqa: E402

app.command("grammar")(grammar_command)
app.command("validate")(validate_command)


def main() -> None:
    """Console entry point: user errors are one line on stderr, exit 1."""
    try:
        app(standalone_mode=False)
    except FcsynthError as err:
        print(f"fcsynth: error: {err}", file=sys.stderr)
        sys.exit(1)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except Exception as err:  # click usage errors and aborts
        import click

        # typer >= 0.20 vendors click (typer._click): its usage errors are not click's classes
        if isinstance(err, click.ClickException) or (hasattr(err, "show") and isinstance(getattr(err, "exit_code", None), int)):
            err.show()
            sys.exit(err.exit_code)
        if isinstance(err, (click.exceptions.Abort, typer.Abort)):
            sys.exit(1)
        raise


if __name__ == "__main__":
    main()
