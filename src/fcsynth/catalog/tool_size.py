"""How big a tool is: its estimated prompt tokens, and its schemas' size as JSON once shared subschemas are written out."""

from __future__ import annotations

import json
import math
from typing import Any

from fcsynth.schema_keywords import DEFINITION_KEYS, SCHEMA_LIST_KEYS, SCHEMA_MAP_KEYS
from fcsynth.tools import Tool

CHARS_PER_TOKEN = 3
_MAP_KEYS = SCHEMA_MAP_KEYS | DEFINITION_KEYS
_LIST_KEYS = SCHEMA_LIST_KEYS


def estimate_tokens(value: Any) -> int:
    """Estimated prompt tokens of a JSON value: `ceil(chars / 3)` of its compact JSON.

    No tokenizer needed, stable across models. Measured with the SmolLM2 tokenizer on the
    shared OpenAPI specs, compact JSON schemas average about 3.3-3.8 characters per token, so
    the estimate errs on the large side.
    """
    return math.ceil(len(json.dumps(value, separators=(",", ":"), ensure_ascii=False)) / CHARS_PER_TOKEN)


def tool_tokens(tool: Tool) -> int:
    """Estimated prompt tokens of a tool: its OpenAI entry plus its response schema."""
    return estimate_tokens(tool.to_openai()) + (estimate_tokens(tool.response) if tool.response is not None else 0)


def _children(node: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in node.items():
        if key in _MAP_KEYS and isinstance(value, dict):
            out.extend(value.items())
        elif key in _LIST_KEYS and isinstance(value, list):
            out.extend((key, v) for v in value)
        elif isinstance(value, dict) and key in ("items", "additionalProperties", "not", "contains"):
            out.append((key, value))
    return out


def _json_chars(value: Any) -> int:
    """About the JSON length of a keyword's value (strings without escapes: the sizer estimates)."""
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, (bool, int, float)) or value is None:
        return len(str(value))
    return len(json.dumps(value, default=str))


class Sizer:
    """About how many characters a schema takes as JSON once shared subschemas are written
    out. Walks the schema level by level, each shared object once per level with its
    multiplicity, and stops once the cap is passed: the cost follows what fits, not the
    (possibly exponential) expansion."""

    def __init__(self) -> None:
        self._info: dict[int, tuple[int, list[tuple[int, Any]]]] = {}
        self._alive: list[Any] = []  # measured objects stay alive, so their ids stay unique

    def _node(self, node: dict[str, Any]) -> tuple[int, list[tuple[int, Any]]]:
        key = id(node)
        if key not in self._info:
            kids = _children(node)
            kid_ids = {id(v) for _, v in kids}
            own = sum(
                len(k) + 4 + (0 if k in _MAP_KEYS or k in _LIST_KEYS or id(v) in kid_ids else _json_chars(v))
                for k, v in node.items()
            )
            self._info[key] = (own, [(len(str(name)) + 4, child) for name, child in kids])
            self._alive.append(node)
        return self._info[key]

    def fitting_depth(self, schema: Any, cap: int) -> int | None:
        """None when `schema` fits in `cap` characters, else the deepest nesting cut
        (for `_prune_below`) that keeps it about within `cap` (at least 1)."""
        level: dict[int, tuple[Any, int]] = {id(schema): (schema, 1)} if isinstance(schema, dict) else {}
        total, depth = 0, 0
        while level:
            nxt: dict[int, tuple[Any, int]] = {}
            for node, mult in level.values():
                own, kids = self._node(node)
                total += own * mult
                for extra, child in kids:
                    if isinstance(child, dict):
                        seen = nxt.get(id(child))
                        nxt[id(child)] = (child, (seen[1] if seen else 0) + mult)
                        total += extra * mult
                    else:
                        total += (extra + _json_chars(child)) * mult
            if total > cap:
                return max(depth, 1)
            depth += 1
            level = nxt
        return None
