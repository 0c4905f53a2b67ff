"""What every stage script shares: its errors printed as one line."""

from __future__ import annotations

import sys
from collections.abc import Callable

from fcsynth.errors import debug_enabled, report_and_exit


def run_stage(name: str, main: Callable[[], None]) -> None:
    """Run a stage's main; any error prints one line `fcsynth <stage>: error: ...` and exits 1.

    A user error (FcsynthError) prints its message; anything else prints its type and
    message plus a hint; FCSYNTH_DEBUG=1 (or `--debug` after the script) adds the traceback.
    """
    try:
        main()
    except (Exception, KeyboardInterrupt) as err:
        report_and_exit(f"fcsynth {name}", err, debug=debug_enabled() or "--debug" in sys.argv[1:])
