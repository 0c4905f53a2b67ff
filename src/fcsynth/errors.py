"""The one exception type users see as a one-line error."""

from __future__ import annotations


class FcsynthError(Exception):
    """A user-facing error: printed as one line, exit status 1, never a traceback."""
