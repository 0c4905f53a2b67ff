"""Repeated calls: an identical call (same tool, same arguments) made again in the same
user turn with nothing new in between: no user turn, no response of a different call and no
error response (retrying a call that failed is a recovery, not a repeat)."""

from __future__ import annotations

import json
from typing import Any


def _key(call: dict[str, Any]) -> str:
    fn = call["function"]
    args = fn.get("arguments")
    return fn["name"] + " " + (args if isinstance(args, str) else json.dumps(args, sort_keys=True, ensure_ascii=False))


def is_error_response(content: Any) -> bool:
    """True when a tool response is the error object `{"error": ...}`."""
    try:
        value = json.loads(content) if isinstance(content, str) else content
    except ValueError:  # not JSON, or an integer past Python's digit limit
        return False
    return isinstance(value, dict) and set(value) == {"error"}


def repeated_calls(messages: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """(tool calls, descriptions of the repeated ones)."""
    events: list[tuple[str, str]] = []  # ("call" | "response" | "error", call key) since the last user turn
    keys: dict[str, str] = {}  # call id -> key
    total, found = 0, []
    for m in messages:
        if m["role"] == "user":
            events = []
        elif m["role"] == "tool":
            events.append(("error" if is_error_response(m.get("content")) else "response", keys.get(m.get("tool_call_id"), "")))
        for c in m.get("tool_calls") or []:
            total += 1
            key = _key(c)
            keys[c.get("id")] = key
            for kind, earlier in reversed(events):
                if earlier == key and kind == "call":
                    found.append(key[:120])
                    break
                if kind == "error" or (kind == "response" and earlier != key):
                    break  # new information arrived since
            events.append(("call", key))
    return total, found
