"""Whether a tool's schemas are usable: valid under the draft 2020-12 metaschema, with regexes that compile."""

from __future__ import annotations

import functools
import json
from typing import Any

import jsonschema
import jsonschema.exceptions

from fcsynth.catalog.result import ImportResult
from fcsynth.schema_keywords import DEFINITION_KEYS, SCHEMA_KEYS, SCHEMA_LIST_KEYS, SCHEMA_MAP_KEYS
from fcsynth.schema_regex import PatternError, check_schema, compiled


def schema_error(schema: Any, path: str = "") -> str | None:
    """Why `schema` is not a valid JSON Schema (draft 2020-12 metaschema), or None.

    Each subschema is checked on its own, its children replaced by `true`, and the checks
    are cached by JSON text: specs repeat the same schemas many times, and a whole-schema
    metaschema check (draft 2020-12 resolves `$dynamicRef` at every level) is slow.
    """
    where = path or "<root>"
    if isinstance(schema, bool):
        return None
    if not isinstance(schema, dict):
        return f"at {where}: a schema must be an object or a boolean"
    if isinstance(schema.get("$ref"), str):
        return f"at {where}: unresolved $ref {schema['$ref']!r}"
    shallow: dict[str, Any] = {}
    children: list[tuple[str, Any]] = []
    for key, value in schema.items():
        if key in _SUB_MAP and isinstance(value, dict):
            shallow[key] = dict.fromkeys(value, True)
            children += [(f"{key}/{name}", sub) for name, sub in value.items()]
        elif key in _SUB_LIST and isinstance(value, list):
            shallow[key] = [True] * len(value)
            children += [(f"{key}/{i}", sub) for i, sub in enumerate(value)]
        elif key in _SUB_ONE and isinstance(value, (dict, bool)):
            shallow[key] = True
            children.append((key, value))
        elif key in _ANY_VALUE or (key in _STRING_VALUE and isinstance(value, str)) or (key in _LIST_VALUE and isinstance(value, list)):
            shallow[key] = _PLACEHOLDER.get(key, "")  # any such value passes: keep the cache key small and shared
        else:
            shallow[key] = value
    error = _shallow_error(json.dumps(shallow, sort_keys=True))
    if error:
        return f"at {path + error[0] or '<root>'}: {error[1]}"
    for child_path, child in children:
        error = schema_error(child, f"{path}/{child_path}")
        if error:
            return error
    return None


_SUB_ONE = SCHEMA_KEYS
_SUB_MAP = SCHEMA_MAP_KEYS | DEFINITION_KEYS
_SUB_LIST = SCHEMA_LIST_KEYS
# Keywords whose value the metaschema accepts whatever it is (of the tested type).
_ANY_VALUE = frozenset({"default", "const"})
_STRING_VALUE = frozenset({"description", "title", "$comment"})
_LIST_VALUE = frozenset({"examples", "enum"})
_PLACEHOLDER = {"default": 0, "const": 0, "examples": [], "enum": []}


@functools.lru_cache(maxsize=16384)
def _shallow_error(text: str) -> tuple[str, str] | None:
    try:
        # regexes compile on the engine that later runs them (ECMA-262 classes such as \\p{L} included)
        check_schema(jsonschema.Draft202012Validator, json.loads(text))
    except jsonschema.exceptions.SchemaError as err:
        return "".join(f"/{p}" for p in err.absolute_path), err.message[:160]
    return None


def _usable(pattern: str) -> bool:
    try:
        compiled(pattern)
    except PatternError:
        return False
    return True


def drop_unusable_patterns(schema: Any, result: ImportResult, label: str) -> None:
    """Remove, in place, each `pattern` and `patternProperties` regex that cannot be compiled
    (flagged `pattern_dropped`): the keyword goes, the tool stays."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("pattern"), str) and not _usable(node["pattern"]):
            result.flag("pattern_dropped", f"{label}: {node.pop('pattern')[:80]!r}")
        if isinstance(node.get("patternProperties"), dict):
            for key in [k for k in node["patternProperties"] if not _usable(k)]:
                del node["patternProperties"][key]
                result.flag("pattern_dropped", f"{label}: {key[:80]!r}")
        stack.extend(node.values())
