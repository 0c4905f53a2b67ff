"""Cut a tool down to the prompt budget, and a schema's nesting down to an expansion cap."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from fcsynth.catalog.tool_size import CHARS_PER_TOKEN, Sizer, tool_tokens
from fcsynth.schema_keywords import DEFINITION_KEYS, SCHEMA_LIST_KEYS, SCHEMA_MAP_KEYS
from fcsynth.tools import Tool

TRIMMED_DESCRIPTION_CHARS = 300
BODY_OPTIONAL_NOTE = "(The request body is optional: its required fields are needed only when a body is sent.)"
_ANNOTATIONS = frozenset({"examples", "example", "title", "$comment", "deprecated"})
_MAP_KEYS = SCHEMA_MAP_KEYS | DEFINITION_KEYS
_LIST_KEYS = SCHEMA_LIST_KEYS


def _map_schema(node: Any, fn: Callable[[dict[str, Any], int], dict[str, Any]], depth: int = 0) -> Any:
    """Rebuild a schema bottom-up, applying `fn(schema, depth)` to every subschema."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _MAP_KEYS and isinstance(value, dict):
            out[key] = {k: _map_schema(v, fn, depth + 1) for k, v in value.items()}
        elif key in _LIST_KEYS and isinstance(value, list):
            out[key] = [_map_schema(v, fn, depth + 1) for v in value]
        elif isinstance(value, dict) and key in ("items", "additionalProperties", "not", "contains", "if", "then", "else"):
            out[key] = _map_schema(value, fn, depth + 1)
        else:
            out[key] = value
    return fn(out, depth)


def _drop(keys: frozenset[str], min_depth: int = 0) -> Callable[[dict[str, Any], int], dict[str, Any]]:
    return lambda s, d: {k: v for k, v in s.items() if k not in keys} if d >= min_depth else s


def _skeleton(node: Any, depth: int = 0, memo: dict[tuple[int, int], Any] | None = None) -> Any:
    """What a pruned subschema keeps: its type, enum, format and const, and (a few levels
    down) its required properties, so trimming never drops a required field."""
    if not isinstance(node, dict):
        return node
    memo = {} if memo is None else memo
    key = (id(node), depth)
    if key in memo:
        return memo[key]
    keep = {k: node[k] for k in ("type", "enum", "format", "const") if k in node}
    props = node.get("properties") if isinstance(node.get("properties"), dict) else {}
    required = [r for r in node.get("required", []) if r in props] if isinstance(node.get("required"), list) else []
    if required and depth < 8:
        keep.setdefault("type", "object")
        keep["properties"] = {r: _skeleton(props[r], depth + 1, memo) for r in required}
        keep["required"] = required
    memo[key] = keep
    return keep


def _prune_below(max_depth: int) -> Callable[[Any], Any]:
    """A function that cuts a schema's nesting at `max_depth` (deeper subschemas become
    their `_skeleton`). A subschema shared by many places is pruned once per depth
    (memoized by identity): the result shares it too, so the cost follows the distinct
    (subschema, depth) pairs, not the expanded size. Callers copy the result before changing it."""

    def prune_root(root: Any) -> Any:
        memo: dict[tuple[int, int], Any] = {}
        skeletons: dict[tuple[int, int], Any] = {}

        def prune(node: Any, depth: int) -> Any:
            if not isinstance(node, dict):
                return node
            if depth >= max_depth:
                return _skeleton(node, 0, skeletons)
            key = (id(node), depth)
            if key not in memo:
                memo[key] = {
                    k: ({n: prune(v, depth + 1) for n, v in val.items()} if k in _MAP_KEYS and isinstance(val, dict)
                        else [prune(v, depth + 1) for v in val] if k in _LIST_KEYS and isinstance(val, list)
                        else prune(val, depth + 1)
                        if isinstance(val, dict) and k in ("items", "additionalProperties", "not", "contains")
                        else val)
                    for k, val in node.items()
                }
            return memo[key]

        return prune(root, 0)

    return prune_root


def cap_expansion(schema: Any, cap: int, sizer: Sizer | None = None) -> Any:
    """`schema` with its nesting cut at the deepest level that keeps it under `cap` characters."""
    depth = (sizer or Sizer()).fitting_depth(schema, cap)
    return schema if depth is None else _prune_below(depth)(schema)


def _schema_depth(node: Any) -> int:
    if not isinstance(node, dict):
        return 0
    subs: list[Any] = []
    for key, value in node.items():
        if key in _MAP_KEYS and isinstance(value, dict):
            subs.extend(value.values())
        elif key in _LIST_KEYS and isinstance(value, list):
            subs.extend(value)
        elif isinstance(value, dict) and key in ("items", "additionalProperties", "not", "contains"):
            subs.append(value)
    return 1 + max((_schema_depth(s) for s in subs), default=0)


def cut_description(text: str) -> str:
    """The tool description cut to TRIMMED_DESCRIPTION_CHARS, keeping a trailing
    BODY_OPTIONAL_NOTE (it says how to read the required fields)."""
    if len(text) <= TRIMMED_DESCRIPTION_CHARS:
        return text
    note = BODY_OPTIONAL_NOTE if text.endswith(BODY_OPTIONAL_NOTE) else ""
    head = text[: len(text) - len(note)] if note else text
    return head[: max(0, TRIMMED_DESCRIPTION_CHARS - len(note))].rstrip() + (" " + note if note else "")


def _strip(tool: Tool, level: int) -> Tool:
    """Trim levels 1-6 (cumulative): annotations; response descriptions; nested parameter
    descriptions; the response; all parameter descriptions; the long tool description."""
    descr = frozenset({"description"})
    both = _ANNOTATIONS | descr

    def params_fn(s: dict[str, Any], d: int) -> dict[str, Any]:
        min_depth = 2 if level < 5 else 1
        return _drop(both if level >= 3 and d >= min_depth else _ANNOTATIONS)(s, d)

    response = None if level >= 4 or tool.response is None else _map_schema(tool.response, _drop(both if level >= 2 else _ANNOTATIONS))
    return dataclasses.replace(
        tool,
        parameters=_map_schema(tool.parameters, params_fn),
        response=response,
        description=cut_description(tool.description) if level >= 6 else tool.description,
    )


def _smallest_fitting(lo: int, hi: int, make: Callable[[int], Tool], budget_tokens: int, larger_is_smaller: bool) -> Tool | None:
    """Binary search over a monotone family of trims for the least-cut one that fits."""
    best: Tool | None = None
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = make(mid)
        if tool_tokens(candidate) <= budget_tokens:
            best = candidate
            lo, hi = (lo, mid - 1) if larger_is_smaller else (mid + 1, hi)
        else:
            lo, hi = (mid + 1, hi) if larger_is_smaller else (lo, mid - 1)
    return best


def _drop_optional(tool: Tool, budget_tokens: int) -> Tool | None:
    """Leave out optional top-level parameters, largest first, until the tool fits."""
    params = tool.parameters
    props = dict(params.get("properties") or {})
    required = set(params.get("required") or [])
    over = (tool_tokens(tool) - budget_tokens) * CHARS_PER_TOKEN
    for name, size in sorted(((n, len(json.dumps(v)) + len(n) + 4) for n, v in props.items() if n not in required),
                             key=lambda item: -item[1]):
        if over <= 0:
            break
        del props[name]
        over -= size
    trimmed = dataclasses.replace(tool, parameters={**params, "properties": props})
    while tool_tokens(trimmed) > budget_tokens:
        optional = [n for n in trimmed.parameters["properties"] if n not in required]
        if not optional:
            return None
        props = {n: v for n, v in trimmed.parameters["properties"].items() if n != optional[-1]}
        trimmed = dataclasses.replace(trimmed, parameters={**trimmed.parameters, "properties": props})
    return trimmed


def trim(tool: Tool, budget_tokens: int) -> Tool | None:
    """The tool cut down to fit `budget_tokens`, or None when even its required parameters
    alone do not fit.

    Cuts only as far as needed: examples/titles, descriptions inside the response schema,
    descriptions of nested parameters, the response schema, all parameter descriptions, the
    tool description beyond 300 characters (a trailing BODY_OPTIONAL_NOTE is kept), then
    nesting depth of the parameters (deepest first; a pruned subschema keeps its
    `type`/`enum`/`format` and its required properties), then optional top-level parameters
    (largest first). A required parameter is never cut.
    """
    if tool_tokens(stripped := _strip(tool, 6)) <= budget_tokens:
        return _smallest_fitting(1, 6, lambda level: _strip(tool, level), budget_tokens, larger_is_smaller=True)
    depth = _schema_depth(stripped.parameters)
    pruned = _smallest_fitting(
        1, depth - 1, lambda d: dataclasses.replace(stripped, parameters=_prune_below(d)(stripped.parameters)),
        budget_tokens, larger_is_smaller=False,
    )
    if pruned is not None:
        return pruned
    return _drop_optional(dataclasses.replace(stripped, parameters=_prune_below(1)(stripped.parameters)), budget_tokens)
