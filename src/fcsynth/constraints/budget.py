"""Token budgets by construction: the longest output a constraint allows, in tokens.

The proof has two steps.

1. *Tokens <= bytes + 1.* Every token the constrained decoder can emit inside text or JSON
   decodes to at least one byte (byte-level BPE; special tokens, the only empty-or-markup
   ones, are never allowed by a regex or `%json`), and the only token after the last byte
   is EOS. So `completion_tokens <= utf8_bytes(output) + 1`, whatever tokenization the
   model picks (`tokenizer_min_token_bytes` checks the first premise for a tokenizer).
2. *Bytes are bounded.* Free text and JSON strings are printable ASCII (one byte a char,
   no escapes: `ASCII_JSON_PATTERN`, the DML `TEXT` terminal), strings carry maxLength,
   numbers a range and a multipleOf, arrays maxItems, objects fixed keys. `max_json_bytes`
   computes an upper bound of a schema's compact JSON, or None where it cannot bound it.

Stages allocate their free-text bounds from `max_tokens` with `allocate_chars`; when the
configured minimums cannot fit, they fail with a one-line `FcsynthError`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fcsynth.errors import FcsynthError

EOS_TOKENS = 1  # the end-of-sequence token after the last byte
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
# Formats whose llguidance regex is ASCII without escapes (one byte a char; tests check it).
ASCII_FORMATS = frozenset({"date-time", "date", "time", "duration", "uuid", "ipv4", "ipv6", "email", "hostname", "uri"})
# Compact, one-line JSON exactly as json.dumps(obj, ensure_ascii=False) writes it: no free
# whitespace, which would make every JSON output unbounded.
JSON_STYLE: dict[str, Any] = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
# Compact JSON as the grammar writes it (JSON_STYLE) or tighter (no whitespace).
ITEM_SEP, KEY_SEP = len(", "), len(": ")


class BudgetError(FcsynthError):
    """The configured bounds cannot fit a stage's max_tokens (the stage fails)."""


def compact(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with llguidance's top-level JSON_STYLE options (`x-guidance`)."""
    return {"x-guidance": dict(JSON_STYLE), **{k: v for k, v in schema.items() if k != "x-guidance"}}


def tokens_for_bytes(n_bytes: int) -> int:
    """Upper bound of the tokens an output of `n_bytes` bytes takes (EOS included)."""
    return n_bytes + EOS_TOKENS


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
    ascii_only = node.get("pattern") == ASCII_JSON_PATTERN or node.get("format") in ASCII_FORMATS
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


def allocate_chars(
    budget_tokens: int, fixed_bytes: int, spans: dict[str, tuple[int, int, int]], where: str
) -> dict[str, int]:
    """Split what a budget leaves after `fixed_bytes` over free-text spans.

    `spans`: name -> (count, min_chars, max_chars); each of `count` occurrences gets the
    same bound. Bounds are the configured maxima scaled down evenly until
    `fixed + sum(count * chars) + EOS <= budget`; below a span's minimum this raises a
    one-line FcsynthError naming `where`.
    """
    free = budget_tokens - EOS_TOKENS - fixed_bytes
    want = sum(count * hi for count, _, hi in spans.values())
    scale = 1.0 if want <= free else max(0.0, free / want) if want else 1.0
    chars = {name: min(hi, math.floor(hi * scale)) for name, (_, _, hi) in spans.items()}
    # Hand out what flooring left, one char at a time, to spans still under their maximum.
    spare = free - sum(spans[n][0] * c for n, c in chars.items())
    for name, (count, _, hi) in spans.items():
        extra = min(hi - chars[name], spare // count if count else 0)
        if extra > 0:
            chars[name] += extra
            spare -= extra * count
    short = [n for n, (_, lo, _) in spans.items() if chars[n] < lo]
    if short:
        need = fixed_bytes + EOS_TOKENS + sum(c * lo for c, lo, _ in spans.values())
        raise BudgetError(
            f"{where}: max_tokens={budget_tokens} cannot fit the bounds: the fixed part takes up to "
            f"{fixed_bytes + EOS_TOKENS} tokens and the minimum text ({', '.join(short)}) needs "
            f"{need} in all; raise max_tokens or lower the bounds"
        )
    return chars


def check_fits(budget_tokens: int, max_bytes: int | None, where: str) -> int:
    """The worst-case tokens of an output bounded by `max_bytes`; a one-line error when it
    is unbounded or over the budget."""
    if max_bytes is None:
        raise BudgetError(f"{where}: the constraint has no length bound, so max_tokens={budget_tokens} cannot be guaranteed")
    worst = tokens_for_bytes(max_bytes)
    if worst > budget_tokens:
        raise BudgetError(f"{where}: the longest output the constraint allows takes {worst} tokens > max_tokens={budget_tokens}")
    return worst


def tokenizer_min_token_bytes(tokenizer: Any) -> int:
    """The fewest bytes a non-special token of an llguidance tokenizer decodes to (premise 1)."""
    shortest = math.inf
    for token in range(tokenizer.vocab_size):
        if tokenizer.is_special_token(token):
            continue
        shortest = min(shortest, len(tokenizer.decode_bytes([token])))
    return int(shortest)


def fit_schema(
    budget_tokens: int,
    make: Callable[[dict[str, int]], dict[str, Any]],
    spans: dict[str, tuple[int, int, int]],
    where: str,
) -> dict[str, Any]:
    """A stage's answer schema with its free-text bounds allocated from the budget.

    `make(chars)` builds the schema for given text bounds (printable-ASCII strings, so each
    bound adds at most that many bytes); `spans` as in `allocate_chars`. The result's
    longest compact-JSON answer is checked to fit (BudgetError otherwise)."""
    fixed = max_json_bytes(make({name: 0 for name in spans}))
    if fixed is None:
        raise BudgetError(f"{where}: the answer schema has no length bound")
    schema = make(allocate_chars(budget_tokens, fixed, spans, where))
    check_fits(budget_tokens, max_json_bytes(schema), where)
    return schema


def text_answer_schema(key: str, min_chars: int, max_chars: int, max_tokens: int, where: str) -> dict[str, Any]:
    """`{key: text}`: a one-field answer schema whose text bound is allocated from max_tokens."""
    return compact(fit_schema(
        max_tokens,
        lambda chars: {
            "type": "object", "properties": {key: ascii_text(min_chars, chars[key])},
            "required": [key], "additionalProperties": False,
        },
        {key: (1, min_chars, max_chars)}, where,
    ))
