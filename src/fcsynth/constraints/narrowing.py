"""The narrowed schemas calls and responses are generated under (`dml.max_argument_*`, `dml.max_response_*`)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from fcsynth.schema_keywords import COMBINATOR_KEYS

if TYPE_CHECKING:
    from fcsynth.config import DMLConfig
    from fcsynth.tools import Tool

_UNLIMITED = 1 << 30


def narrowed_arguments(tool: Tool, opt: DMLConfig) -> Any:
    """The argument schema a call of `tool` is generated under: its required arguments plus
    at most `max_argument_properties` optional ones per object (at least one where none is
    required), none below `max_argument_depth`. A narrowing: every call it allows is valid."""
    if opt.max_argument_properties is None and opt.max_argument_depth is None:
        return tool.parameters
    props = _UNLIMITED if opt.max_argument_properties is None else max(1, opt.max_argument_properties)
    return prune_schema(tool.parameters, props, _UNLIMITED if opt.max_argument_depth is None else opt.max_argument_depth)


def narrowed_response(tool: Tool, opt: DMLConfig) -> Any:
    """The response schema a response of `tool` is generated under (see `prune_schema`)."""
    return prune_schema(tool.response, opt.max_response_properties, opt.max_response_depth)


def prune_schema(schema: Any, max_properties: int, max_depth: int) -> Any:
    """A narrower copy for tool *responses*: closed objects keep their required properties
    plus the first `max_properties` optional ones (none below `max_depth` levels of
    nesting). Every instance of the result is an instance of `schema`; the grammar stays
    small (big API response schemas otherwise dominate compile time)."""
    out = copy.deepcopy(schema)
    _prune(out, max_properties, max_depth, 0, closable=True)
    return out


def _prune(node: Any, max_props: int, max_depth: int, depth: int, closable: bool) -> None:
    if not isinstance(node, dict):
        return
    props = node.get("properties")
    has_combinator = any(k in node for k in COMBINATOR_KEYS)
    if isinstance(props, dict) and closable and not has_combinator and "patternProperties" not in node:
        required = [r for r in node.get("required", []) if isinstance(r, str)]
        if all(r in props for r in required):
            budget = max_props if depth < max_depth else 0
            kept: dict[str, Any] = {}
            for name, sub in props.items():
                if name in required:
                    kept[name] = sub
                elif budget > 0:
                    kept[name] = sub
                    budget -= 1
            node["properties"] = kept
            node["additionalProperties"] = False
    if isinstance(props, dict):
        for sub in node["properties"].values():
            _prune(sub, max_props, max_depth, depth + 1, closable=True)
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(node.get(key), list):
            for sub in node[key]:
                _prune(sub, max_props, max_depth, depth, closable=key != "allOf" and "properties" not in node)
    if node.get("uniqueItems") and int(node.get("minItems", 0)) <= 1:
        del node["uniqueItems"]  # at most one item is trivially unique
        node["maxItems"] = min(1, int(node.get("maxItems", 1)))
    items = node.get("items")
    for sub in [*(items if isinstance(items, list) else [items]), *(node.get("prefixItems") or [])]:
        _prune(sub, max_props, max_depth, depth + 1, closable=True)
    if isinstance(node.get("additionalProperties"), dict):
        _prune(node["additionalProperties"], max_props, max_depth, depth + 1, closable=True)
