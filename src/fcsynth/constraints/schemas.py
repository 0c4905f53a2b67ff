"""JSON Schemas as the DML grammar uses them: bounded, compact, and with a documented fallback.

Every schema that goes into the grammar is *bounded* first (strings without a length bound
get `maxLength`, arrays `maxItems`, closed objects `additionalProperties: false`, open maps
`maxProperties`), so a small model cannot run away inside a JSON value. Bounding only
narrows a schema: whatever it accepts, the tool's original schema accepts too.

When llguidance cannot compile a tool's schema, the tool falls back one level at a time:
`lenient` (llguidance ignores keywords it does not support), `stripped` (we drop
pattern/format/patternProperties/... and read oneOf as anyOf), `any_object` (a bounded
JSON object). The level is reported per tool and counted in the stage metrics.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

from fcsynth.budget import ASCII_JSON_PATTERN, INTEGER_BOUNDS, JSON_STYLE, KEY_PATTERN, ascii_text, bounded_number
from fcsynth.dml.match import check_tokenizer
from fcsynth.schema_keywords import (
    ANNOTATION_KEYS,
    COMBINATOR_KEYS,
    DEFINITION_KEYS,
    SCHEMA_KEYS,
    SCHEMA_LIST_KEYS,
    SCHEMA_MAP_KEYS,
)

FALLBACK_LEVELS = ("strict", "lenient", "stripped", "any_object")

# Keywords dropped at the `stripped` level (constraints llguidance may reject).
_STRIPPED_KEYWORDS = frozenset(
    {
        "pattern", "format", "patternProperties", "minProperties", "maxProperties", "multipleOf",
        "not", "if", "then", "else", "dependentSchemas", "dependentRequired", "dependencies",
        "uniqueItems", "contains", "minContains", "maxContains", "propertyNames",
        "unevaluatedProperties", "unevaluatedItems", "contentEncoding", "contentMediaType",
    }
)
# Formats llguidance enforces; any other `format` is an annotation (as JSON Schema says)
# and is dropped, e.g. OpenAPI's int64/byte/uint32.
LLGUIDANCE_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid", "uri"}
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
        # printable ASCII: one byte a char, so its tokens are bounded (fcsynth.budget).
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
        # Bounded digits and decimals (fcsynth.budget.bounded_number) in place.
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
    has_combinator = any(k in node for k in _COMBINATORS)
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


def compile_error(lark: str) -> str | None:
    """None when llguidance accepts the grammar (the check vLLM's guidance backend runs)."""
    import llguidance

    message = llguidance.LLMatcher.validate_grammar(lark, check_tokenizer())
    return message if message and not message.startswith("WARNING") else None


@lru_cache(maxsize=4096)
def schema_compile_error(schema_json: str) -> str | None:
    """None when llguidance compiles `%json <schema>`, else its error's first line (cached)."""
    error = compile_error(f"%llguidance {{}}\nstart: %json {schema_json}\n")
    return None if error is None else _short(error)


def _short(error: str) -> str:
    line = error.strip().splitlines()[0] if error.strip() else "unknown error"
    return line[:300]


_VERIFIED: dict[tuple[str, int, int], tuple[dict[str, Any], str, str | None]] = {}


def grammar_schema(
    schema: Any, max_chars: int, max_items: int, verify: bool = True
) -> tuple[dict[str, Any], str, str | None]:
    """The grammar form of `schema`: (styled schema, fallback level, first compile error).

    With verify=False an unverified schema is returned at level "strict" without compiling
    it (the caller compiles the whole grammar and verifies per schema only on failure);
    a schema verified before is returned at its known level.
    """
    key = (json.dumps(schema, sort_keys=True, default=str), max_chars, max_items)
    if key in _VERIFIED:
        return _VERIFIED[key]
    bounded = bound_schema(schema, max_chars, max_items)
    if not verify:
        return styled(bounded), "strict", None
    candidates = (
        ("strict", lambda: styled(bounded)),
        ("lenient", lambda: styled(bounded, lenient=True)),
        ("stripped", lambda: styled(bound_schema(strip_unsupported(schema), max_chars, max_items), lenient=True)),
    )
    first_error: str | None = None
    result: tuple[dict[str, Any], str, str | None] | None = None
    for level, make in candidates:
        try:
            candidate = make()
            text = json.dumps(candidate, ensure_ascii=False)
        except (TypeError, ValueError) as err:  # not JSON-serializable: try the next level
            first_error = first_error or f"{type(err).__name__}: {err}"
            continue
        error = schema_compile_error(text)
        if error is None:
            result = (candidate, level, first_error)
            break
        first_error = first_error or error
    if result is None:
        result = (styled(any_object_schema(max_chars, max_items)), "any_object", first_error)
    if len(_VERIFIED) < 20000:
        _VERIFIED[key] = result
    return result
