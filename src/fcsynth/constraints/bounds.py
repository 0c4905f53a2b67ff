"""JSON byte bounds: the longest compact JSON a bounded schema allows, and the bounded schema forms.

Free text and JSON strings are printable ASCII (one byte a char, no escapes:
`ASCII_JSON_PATTERN`), strings carry maxLength, numbers a range and a multipleOf, arrays
maxItems, objects fixed keys; `max_json_bytes` bounds a schema's compact JSON (or says it
cannot). Token budgets built on these bounds: `fcsynth.constraints.budget`.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

# A JSON string's characters: printable ASCII without '"' and '\\' (so never an escape).
ASCII_JSON_PATTERN = "^[ !#-\\[\\]-~]*$"
# Worst bytes of one JSON string char without our pattern: a control char as \\u00XX.
JSON_ESCAPE_BYTES = 6
# Keys of free maps: identifiers of at most KEY_MAX_CHARS chars.
KEY_MAX_CHARS = 32
KEY_PATTERN = f"^[A-Za-z_][A-Za-z0-9_]{{0,{KEY_MAX_CHARS - 1}}}$"
# Ranges given to numbers that have none (15 digits: every such integer is exact in a double).
INTEGER_BOUNDS: dict[str, int] = {"minimum": -(10**15 - 1), "maximum": 10**15 - 1}
DECIMAL_STEP = 0.000001  # decimals of a number that has no multipleOf
# Formats llguidance enforces (any other `format` is an annotation, as JSON Schema says, and
# is dropped); each one's regex is ASCII without escapes (one byte a char; tests check it).
LLGUIDANCE_FORMATS = frozenset({"date-time", "date", "time", "duration", "uuid", "ipv4", "ipv6", "email", "hostname", "uri"})
# Compact, one-line JSON exactly as json.dumps(obj, ensure_ascii=False) writes it: no free
# whitespace, which would make every JSON output unbounded.
JSON_STYLE: dict[str, Any] = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
# Compact JSON as the grammar writes it (JSON_STYLE) or tighter (no whitespace).
ITEM_SEP, KEY_SEP = len(", "), len(": ")


def bounded_number(minimum: float | None = None, maximum: float | None = None) -> dict[str, Any]:
    """A number schema with a finite longest form: at most 15 digits and 6 decimals.

    llguidance rejects every negative number under `multipleOf` (1.7.6), so negatives
    are integers here: the schema narrows the number, never widens it."""
    lo = INTEGER_BOUNDS["minimum"] if minimum is None else max(minimum, INTEGER_BOUNDS["minimum"])
    hi = INTEGER_BOUNDS["maximum"] if maximum is None else min(maximum, INTEGER_BOUNDS["maximum"])
    positive = {"type": "number", "minimum": max(lo, 0), "maximum": hi, "multipleOf": DECIMAL_STEP}
    if lo >= 0:
        return positive
    return {"anyOf": [{"type": "integer", "minimum": math.ceil(lo), "maximum": min(0, math.floor(hi))}, positive]}


def compact(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with llguidance's top-level JSON_STYLE options (`x-guidance`)."""
    return {"x-guidance": dict(JSON_STYLE), **{k: v for k, v in schema.items() if k != "x-guidance"}}


def ascii_text(min_chars: int, max_chars: int) -> dict[str, Any]:
    """A bounded printable-ASCII JSON string schema (one byte, at most one token, a char)."""
    return {"type": "string", "minLength": min_chars, "maxLength": max_chars, "pattern": ASCII_JSON_PATTERN}


def _literal_bytes(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode())


def _number_bytes(node: dict[str, Any], integer: bool) -> int | None:
    lo, hi = node.get("minimum", node.get("exclusiveMinimum")), node.get("maximum", node.get("exclusiveMaximum"))
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lo, hi)):
        return None
    digits = len(str(int(max(abs(Decimal(str(lo))), abs(Decimal(str(hi)))))))
    sign = 1 if Decimal(str(lo)) < 0 else 0
    if integer:
        return sign + digits
    step = node.get("multipleOf")
    if step is None:
        return None  # llguidance lets a float have any number of decimals
    exponent = Decimal(str(step)).normalize().as_tuple().exponent
    decimals = max(0, -int(exponent))
    return sign + digits + (1 + decimals if decimals else 0)


def _string_bytes(node: dict[str, Any]) -> int | None:
    if "maxLength" not in node:
        return None
    ascii_only = node.get("pattern") == ASCII_JSON_PATTERN or node.get("format") in LLGUIDANCE_FORMATS
    per_char = 1 if ascii_only else JSON_ESCAPE_BYTES
    return 2 + per_char * int(node["maxLength"])


def _array_bytes(node: dict[str, Any]) -> int | None:
    prefix = node.get("prefixItems") or (node["items"] if isinstance(node.get("items"), list) else [])
    items = node.get("items") if isinstance(node.get("items"), dict) else None
    n = node.get("maxItems")
    if n is None and (items is not None or not prefix):
        return None
    n = len(prefix) if n is None else int(n)
    sizes = []
    for k in range(n):
        sub = prefix[k] if k < len(prefix) else items
        size = max_json_bytes(sub) if sub is not None else None
        if size is None:
            return None
        sizes.append(size)
    return 2 + sum(sizes) + ITEM_SEP * max(0, n - 1)


def _object_bytes(node: dict[str, Any]) -> int | None:
    if node.get("additionalProperties", True) is not False:
        return None  # free keys have no length bound (llguidance has no propertyNames)
    sizes = []
    for key, sub in (node.get("properties") or {}).items():
        size = max_json_bytes(sub)
        if size is None:
            return None
        sizes.append(_literal_bytes(key) + KEY_SEP + size)
    patterns = node.get("patternProperties") or {}
    if patterns:
        if set(patterns) != {KEY_PATTERN} or "maxProperties" not in node:
            return None
        value = max_json_bytes(patterns[KEY_PATTERN])
        if value is None:
            return None
        # Up to maxProperties entries, each at most the largest fixed or free entry.
        entry = max([2 + KEY_MAX_CHARS + KEY_SEP + value, *sizes])
        n = int(node["maxProperties"])
        return 2 + n * entry + ITEM_SEP * max(0, n - 1)
    return 2 + sum(sizes) + ITEM_SEP * max(0, len(sizes) - 1)


def max_json_bytes(schema: Any) -> int | None:
    """Upper bound of the UTF-8 bytes of any compact JSON instance of `schema` the
    llguidance decoder can emit, or None when this function cannot bound it."""
    if schema is True or not isinstance(schema, dict):
        return None
    node = {k: v for k, v in schema.items() if k != "x-guidance"}
    if "const" in node:
        return _literal_bytes(node["const"])
    if "enum" in node:
        return max((_literal_bytes(v) for v in node["enum"]), default=0)
    if "$ref" in node:
        return None
    bounds: list[int | None] = []
    for key in ("anyOf", "oneOf"):
        if key in node:
            branches = [max_json_bytes({**_siblings(node, key), **b}) for b in node[key]]
            return None if any(b is None for b in branches) else max(branches)  # type: ignore[type-var]
    if "allOf" in node:
        # An instance satisfies every branch, so any branch's bound bounds it.
        known = [b for b in (max_json_bytes(s) for s in node["allOf"]) if b is not None]
        rest = {k: v for k, v in node.items() if k != "allOf"}
        own = max_json_bytes(rest) if rest.get("type") else None
        known += [own] if own is not None else []
        return min(known) if known else None
    kinds = node.get("type")
    types = [kinds] if isinstance(kinds, str) else list(kinds or [])
    if not types:
        return None
    for kind in types:
        if kind == "string":
            bounds.append(_string_bytes(node))
        elif kind in ("integer", "number"):
            bounds.append(_number_bytes(node, integer=kind == "integer"))
        elif kind == "boolean":
            bounds.append(len("false"))
        elif kind == "null":
            bounds.append(len("null"))
        elif kind == "array":
            bounds.append(_array_bytes(node))
        elif kind == "object":
            bounds.append(_object_bytes(node))
        else:
            return None
    return None if any(b is None for b in bounds) else max(bounds)  # type: ignore[type-var]


def _siblings(node: dict[str, Any], combinator: str) -> dict[str, Any]:
    """Keywords next to anyOf/oneOf that every branch inherits (e.g. a shared type)."""
    return {k: v for k, v in node.items() if k not in (combinator, "anyOf", "oneOf", "allOf")}


