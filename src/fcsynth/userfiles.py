"""Files a user names on the command line: one-line errors instead of OS tracebacks."""

from __future__ import annotations

from pathlib import Path

from fcsynth.errors import FcsynthError


def check_user_file(path: Path) -> Path:
    """`path` if it is a readable regular file; else a one-line error saying what it is."""
    if not path.exists():
        raise FcsynthError(f"{path}: not found")
    if path.is_dir():
        raise FcsynthError(f"{path}: is a directory, expected a file")
    if not path.is_file():
        raise FcsynthError(f"{path}: not a regular file")
    try:
        with open(path, "rb"):
            pass
    except OSError as err:
        raise FcsynthError(f"{path}: cannot be read: {err.strerror or err}") from None
    return path


def read_user_text(path: Path) -> str:
    """The UTF-8 text of a user's file (a one-line error for a missing, unreadable or binary file)."""
    data = check_user_file(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise FcsynthError(f"{path}: not UTF-8 text (invalid byte 0x{data[err.start]:02x} at offset {err.start})") from None
