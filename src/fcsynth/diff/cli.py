"""The `fcsynth diff` command."""

from __future__ import annotations

import json

import typer

from fcsynth.diff.compare import diff_revs
from fcsynth.diff.render import render
from fcsynth.diff.revisions import WORKSPACE


def diff_command(
    rev_a: str = typer.Argument("HEAD", help="Old version: git revision or `dvc exp` name ('workspace' = files on disk)"),
    rev_b: str = typer.Argument(WORKSPACE, help="New version (default: the workspace)"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
) -> None:
    """Diff two versions of the exported dataset (default: HEAD vs the workspace)."""
    from fcsynth.paths import project_root

    report = diff_revs(rev_a, rev_b, project_root())
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        render(report)
