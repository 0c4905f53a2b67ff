"""The executable tool environment: a Python class whose methods are the tools.

`conversations.environment_class: "package.module:Class"`. One instance holds the state of
one conversation: it is built with `Class()` and the conversation's earlier calls are
replayed on it in order before each new call, so a resumed run rebuilds the same state
(the class must be deterministic). A method's return value (JSON-serializable) is the
tool response; an exception becomes the error object `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from fcsynth.errors import FcsynthError


def load_class(spec: str) -> type:
    """The class named by "package.module:Class" (one-line error when it is not one)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise FcsynthError(f"conversations.environment_class: {spec!r} is not 'package.module:Class'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise FcsynthError(f"conversations.environment_class: cannot import {module_name!r}: {err}") from None
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise FcsynthError(f"conversations.environment_class: {module_name!r} has no class {attr!r}")
    return cls


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code[:40] or "error", "message": message[:200] or code}}


def call(instance: Any, name: str, arguments: dict[str, Any]) -> Any:
    """One call on the environment: the method's result, or the error object."""
    method = getattr(instance, name, None)
    if name.startswith("_") or not callable(method):
        return _error("unknown_tool", f"the environment has no tool {name!r}")
    try:
        result = method(**arguments)
        json.dumps(result)
    except TypeError as err:
        return _error("TypeError", str(err))
    except Exception as err:  # the tool's own failure is its response
        return _error(type(err).__name__, str(err))
    return result


def respond(cls: type, history: list[dict[str, Any]], name: str, arguments: dict[str, Any]) -> Any:
    """The response to a new call after `history` (the earlier messages of the conversation)."""
    instance = cls()
    for m in history:
        for c in m.get("tool_calls") or []:
            fn = c["function"]
            args = fn["arguments"] if isinstance(fn["arguments"], dict) else json.loads(fn["arguments"])
            call(instance, fn["name"], args)
    return call(instance, name, arguments)
