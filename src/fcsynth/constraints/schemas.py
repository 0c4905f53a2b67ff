"""JSON Schemas as the turn grammars use them: bounded (lengths, sizes, closed objects), stripped and styled."""

# Every schema that goes into the grammar is *bounded* first (strings without a length bound
# get `maxLength`, arrays `maxItems`, closed objects `additionalProperties: false`, open maps
# `maxProperties`), so a small model cannot run away inside a JSON value. Bounding only
# narrows a schema: whatever it accepts, the tool's original schema accepts too.

from __future__ import annotations

import copy
from typing import Any

from fcsynth.constraints.bounds import (
    ASCII_JSON_PATTERN,
    INTEGER_BOUNDS,
    JSON_STYLE,
    KEY_PATTERN,
    LLGUIDANCE_FORMATS,
    ascii_text,
    bounded_number,
)
from fcsynth.schema_keywords import (
    ANNOTATION_KEYS,
    COMBINATOR_KEYS,
    DEFINITION_KEYS,
    SCHEMA_KEYS,
    SCHEMA_LIST_KEYS,
    SCHEMA_MAP_KEYS,
)

# Keywords dropped at the `stripped` level (constraints llguidance may reject).
_STRIPPED_KEYWORDS = frozenset(
    {
        "pattern", "format", "patternProperties", "minProperties", "maxProperties", "multipleOf",
        "not", "if", "then", "else", "dependentSchemas", "dependentRequired", "dependencies",
        "uniqueItems", "contains", "minContains", "maxContains", "propertyNames",
        "unevaluatedProperties", "unevaluatedItems", "contentEncoding", "contentMediaType",
    }
)
# Annotations: no effect on validation, only grammar size.
_ANNOTATIONS = ANNOTATION_KEYS | {"nullable"}
_SUBSCHEMA_LISTS = SCHEMA_LIST_KEYS
_SUBSCHEMA_MAPS = SCHEMA_MAP_KEYS | DEFINITION_KEYS
_COMBINATORS = COMBINATOR_KEYS


def any_object_schema(max_string_chars: int, max_items: int) -> dict[str, Any]:
    """A bounded 'any JSON object' (used when a response schema is unknown): up to
    `max_items` identifier keys, each a scalar or an array of up to `max_items` scalars."""
    scalar: list[dict[str, Any]] = [
        ascii_text(0, max_string_chars),
        bounded_number(),
        {"type": "boolean"},
        {"type": "null"},
    ]
    value = {"anyOf": [*scalar, {"type": "array", "maxItems": max_items, "items": {"anyOf": scalar}}]}
    return {"type": "object", "maxProperties": max_items, "patternProperties": {KEY_PATTERN: value}, "additionalProperties": False}


def error_object_schema(max_string_chars: int) -> dict[str, Any]:
    """The tool error object a response may be when tool errors are allowed."""
    return {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {
                        "anyOf": [
                            {"type": "integer", "minimum": 0, "maximum": 999},
                            ascii_text(1, 40),
                        ]
                    },
                    "message": ascii_text(1, max_string_chars),
                },
                "required": ["code", "message"],
                "additionalProperties": False,
            }
        },
        "required": ["error"],
        "additionalProperties": False,
    }


def bound_schema(schema: Any, max_string_chars: int, max_items: int) -> Any:
    """A copy of `schema` with length/size bounds of at most `max_string_chars` / `max_items`
    (free-text strings and arrays; never below their minimum, never looser)."""
    out = copy.deepcopy(schema)
    _bound(out, max_string_chars, max_items, closable=True)
    return out


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return {k for k in kind if isinstance(k, str)}
    return set()


def _bound(node: Any, max_chars: int, max_items: int, closable: bool) -> None:
    if not isinstance(node, dict):
        return
    for key in [k for k in node if k in _ANNOTATIONS or k.startswith("x-")]:
        del node[key]
    if node.get("format") not in LLGUIDANCE_FORMATS:
        node.pop("format", None)
    kinds = _types(node)
    literal = {"enum", "const"} & node.keys()
    if "string" in kinds and not literal:
        # A length for every string and, where nothing else fixes its characters,
        # printable ASCII: one byte a char, so its tokens are bounded (constraints.budget).
        free = not ({"format", "pattern"} & node.keys())
        # Free text is also held to max_chars when its own bound is larger (a narrowing: the
        # budget could not fit a 4096-char message body); a pattern or format keeps its own.
        cap = min(int(node.get("maxLength", max_chars)), max_chars) if free else node.get("maxLength", max_chars)
        node["maxLength"] = max(int(cap), int(node.get("minLength", 0)))
        if free:
            node["pattern"] = ASCII_JSON_PATTERN
    if "integer" in kinds and not literal:
        for key, value in INTEGER_BOUNDS.items():
            if not ({key, f"exclusive{key[:1].upper()}{key[1:]}"} & node.keys()):
                node[key] = value
    if node.get("type") == "number" and not literal and not ({"multipleOf", "anyOf"} & node.keys()) and not any(
        isinstance(node.get(k), bool) or k in node for k in ("exclusiveMinimum", "exclusiveMaximum")
    ):
        # Bounded digits and decimals (constraints.bounds.bounded_number) in place.
        number = bounded_number(node.pop("minimum", None), node.pop("maximum", None))
        node.pop("type")
        node.update(number)
    if ("array" in kinds or "items" in node) and "enum" not in node:
        node["maxItems"] = max(min(int(node.get("maxItems", max_items)), max_items), int(node.get("minItems", 0)))
    has_combinator = any(k in node for k in _COMBINATORS)
    if "properties" in node:
        # Close objects that list their properties, unless another keyword could add more
        # properties (allOf branches, sibling anyOf/oneOf, pattern or additional properties).
        open_keys = {"additionalProperties", "patternProperties", "unevaluatedProperties"}
        if closable and not has_combinator and not (open_keys & node.keys()):
            node["additionalProperties"] = False
    elif closable and "object" in kinds and not has_combinator and "patternProperties" not in node:
        extra = node.get("additionalProperties", True)
        if extra is not False:
            # A free map: identifier keys (llguidance has no propertyNames to bound them), at
            # most max_items of them, as an array (a tool's own larger bound is lowered).
            node["maxProperties"] = max(min(int(node.get("maxProperties", max_items)), max_items), int(node.get("minProperties", 0)))
            value = extra if isinstance(extra, dict) else any_object_schema(max_chars, max_items)["patternProperties"][KEY_PATTERN]
            node["patternProperties"] = {KEY_PATTERN: value}
            node["additionalProperties"] = False
    for key in _SUBSCHEMA_MAPS:
        sub = node.get(key)
        if isinstance(sub, dict):
            for child in sub.values():
                _bound(child, max_chars, max_items, closable=True)
    for key in _SUBSCHEMA_LISTS:
        sub = node.get(key)
        if isinstance(sub, list):
            # allOf branches (and branches of an object that lists its own properties) are
            # intersected, so closing one would forbid the other's properties.
            branch_closable = key != "allOf" and "properties" not in node
            for child in sub:
                _bound(child, max_chars, max_items, closable=branch_closable)
    for key in SCHEMA_KEYS:
        sub = node.get(key)
        if isinstance(sub, dict):
            _bound(sub, max_chars, max_items, closable=True)
        elif key == "items" and isinstance(sub, list):
            for child in sub:
                _bound(child, max_chars, max_items, closable=True)


def strip_unsupported(schema: Any) -> Any:
    """A copy without the keywords of the `stripped` fallback level; oneOf becomes anyOf."""
    if isinstance(schema, list):
        return [strip_unsupported(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _STRIPPED_KEYWORDS:
            continue
        if key == "oneOf":
            key = "anyOf"
        if key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: strip_unsupported(v) for k, v in value.items()}
        elif key in ("enum", "const", "default", "examples", "required"):
            out[key] = value
        else:
            out[key] = strip_unsupported(value)
    return out


def styled(schema: Any, lenient: bool = False) -> dict[str, Any]:
    """The schema with the top-level `x-guidance` options (compact JSON style)."""
    body = schema if isinstance(schema, dict) else ({} if schema is True else {"not": {}})
    style = {**JSON_STYLE, **({"lenient": True} if lenient else {})}
    return {"x-guidance": style, **{k: v for k, v in body.items() if k != "x-guidance"}}
