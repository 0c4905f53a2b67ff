"""The one exception type users see as a one-line error, and how entry points report errors."""

from __future__ import annotations

import os
import sys
import traceback

DEBUG_ENV = "FCSYNTH_DEBUG"
DEBUG_HINT = f"rerun with --debug or {DEBUG_ENV}=1 for the traceback"


class FcsynthError(Exception):
    """A user-facing error: printed as one line, exit status 1, never a traceback."""


_SECRETS: set[str] = set()
REDACTED = "[redacted]"


def register_secret(value: str | None) -> None:
    """Remember a secret (an API key) so that `redact` removes it from anything fcsynth prints or writes."""
    if value and len(value) >= 4:  # a shorter value would redact ordinary text
        _SECRETS.add(value)


def register_url_secrets(url: str) -> None:
    """Register the password and the query values of `url` (`https://user:key@host/?api_key=...`)."""
    from urllib.parse import parse_qsl, urlsplit

    try:
        parts = urlsplit(url)
        register_secret(parts.password)
        for _, value in parse_qsl(parts.query):
            register_secret(value)
    except ValueError:  # not a URL: nothing to register
        pass


def redact(text: str) -> str:
    """`text` with every registered secret replaced by [redacted]."""
    for secret in _SECRETS:
        text = text.replace(secret, REDACTED)
    return text


def debug_enabled() -> bool:
    """True when $FCSYNTH_DEBUG is set to something other than '', '0', 'false' or 'no'."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def one_line(text: str) -> str:
    """`text` with its lines joined (so a message never spans lines) and secrets redacted."""
    return redact(" ".join(part.strip() for part in str(text).splitlines() if part.strip()))


def error_line(prefix: str, err: BaseException) -> str:
    """`<prefix>: error: <message>`; unexpected exceptions also name their type and the --debug hint."""
    if isinstance(err, FcsynthError):
        return f"{prefix}: error: {one_line(str(err))}"
    message = one_line(str(err)) or "(no message)"
    return f"{prefix}: error: {type(err).__name__}: {message} ({DEBUG_HINT})"


def report_and_exit(prefix: str, err: BaseException, debug: bool | None = None) -> None:
    """Print the error as one line on stderr (after the traceback in debug mode) and exit.

    Exit status 130 for Ctrl-C, 1 for everything else.
    """
    if debug if debug is not None else debug_enabled():
        print(redact("".join(traceback.format_exception(err))), file=sys.stderr, end="")
    if isinstance(err, KeyboardInterrupt):
        print(f"{prefix}: interrupted", file=sys.stderr)
        sys.exit(130)
    print(error_line(prefix, err), file=sys.stderr)
    sys.exit(1)
