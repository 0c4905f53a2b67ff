"""What every stage script shares: its paths from the command line, its errors printed as one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from fcsynth.errors import DEBUG_ENV, debug_enabled, report_and_exit
from fcsynth.paths import ROOT


def run_stage(
    name: str, main: Callable[..., None], paths: Mapping[str, str] | None = None, argv: Sequence[str] | None = None,
) -> None:
    """Parse the stage's paths from `argv` (default: the command line) and run `main(**paths)`;
    any error prints one line `fcsynth <stage>: error: ...` and exits 1.

    `paths` maps each of main's path parameters to its help text; each is a required option
    (`loss_curve` -> `--loss-curve PATH`), which dvc.yaml's `cmd` passes. A relative path is
    taken from the project root, where DVC runs the command. A user error (FcsynthError)
    prints its message; anything else prints its type and message plus a hint;
    FCSYNTH_DEBUG=1 (or `--debug`) adds the traceback.
    """
    parser = argparse.ArgumentParser(prog=f"stages/{name}.py", description=f"The DVC stage `{name}`.")
    for key, help_text in (paths or {}).items():
        parser.add_argument(f"--{key.replace('_', '-')}", dest=key, type=Path, required=True, metavar="PATH", help=help_text)
    parser.add_argument("--debug", action="store_true", help=f"show the traceback of an error (or set {DEBUG_ENV}=1)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        main(**{key: ROOT / getattr(args, key) for key in paths or {}})
    except (Exception, KeyboardInterrupt) as err:
        report_and_exit(f"fcsynth {name}", err, debug=debug_enabled() or args.debug)
