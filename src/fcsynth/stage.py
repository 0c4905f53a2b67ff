"""What every stage script shares: run main() turning FcsynthError into a one-line exit."""

from __future__ import annotations

import sys
from collections.abc import Callable

from fcsynth.errors import FcsynthError


def run_stage(name: str, main: Callable[[], None]) -> None:
    """Run a stage's main; a user error prints `fcsynth <stage>: error: ...` and exits 1."""
    try:
        main()
    except FcsynthError as err:
        print(f"fcsynth {name}: error: {err}", file=sys.stderr)
        sys.exit(1)
