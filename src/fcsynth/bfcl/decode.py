"""A model's answer in BFCL's formats.

The model answers as it does in `evaluate` (Hermes `<tool_call>` JSON, read by
`fcsynth.evaluate.parse`). Its calls become:
- for the AST checker, `[{name: {arg: value}}]`, one single-key dict per call;
- for BFCL's multi-turn environments, Python call strings `name(arg=value, ...)`, which
  BFCL evaluates. Only functions of the entry's own docs, keyword names that are Python
  identifiers and JSON values (written with `repr`) go into a string, so nothing but the
  environment's methods can run.

A call block that does not parse (`malformed`) is counted as unparseable; it is not a call.
"""

from __future__ import annotations

import keyword
import math
from collections.abc import Iterable
from typing import Any

from fcsynth.chat.calls import Call


def wellformed(calls: Iterable[Call]) -> list[Call]:
    """The calls that parsed, with object arguments."""
    return [c for c in calls if not c.malformed and isinstance(c.arguments, dict)]


def ast_calls(calls: Iterable[Call]) -> list[dict[str, Any]]:
    """The well-formed calls, as BFCL's AST checker reads them."""
    return [{c.name: c.arguments} for c in wellformed(calls)]


def unparseable(calls: list[Call]) -> bool:
    """True when the model tried to call and some block did not parse into a call."""
    return len(wellformed(calls)) < len(calls)


def _safe_value(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)  # repr(nan) is no Python literal
    if isinstance(value, (str, int, bool)) or value is None:
        return True
    if isinstance(value, list):
        return all(_safe_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _safe_value(v) for k, v in value.items())
    return False


def call_string(name: str, arguments: dict[str, Any], allowed: set[str]) -> str | None:
    """`name(k=v, ...)` for BFCL's executor, or None when the call may not run there."""
    if name not in allowed or not name.isidentifier():
        return None
    if not all(k.isidentifier() and not keyword.iskeyword(k) and _safe_value(v) for k, v in arguments.items()):
        return None
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"
