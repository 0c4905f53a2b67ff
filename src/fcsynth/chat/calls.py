"""One tool call as the chat format carries it, and its arguments decoded from JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Call:
    """One tool call. `malformed` marks a `<tool_call>` block that did not parse;
    its `arguments` then hold the raw block text (so Function Call Match still sees it)."""

    name: str
    arguments: Any
    malformed: bool = False

    @classmethod
    def from_message(cls, tool_call: dict[str, Any]) -> Call:
        """From an OpenAI/TRL `tool_calls` item (or a bare `{"name", "arguments"}`)."""
        fn = tool_call.get("function", tool_call)
        return cls(str(fn.get("name", "")), decode_arguments(fn.get("arguments", {})))


def decode_arguments(arguments: Any) -> Any:
    """Arguments as a JSON value: a JSON string is decoded, None is `{}`."""
    if arguments is None:
        return {}
    if isinstance(arguments, str):
        try:
            return json.loads(arguments) if arguments.strip() else {}
        except ValueError:  # not JSON, or an integer past Python's digit limit
            return arguments
    return arguments
