"""llguidance compile checks, and each schema's grammar form at the first fallback level that compiles."""

# When llguidance cannot compile a tool's schema, the tool falls back one level at a time:
# `lenient` (llguidance ignores keywords it does not support), `stripped` (we drop
# pattern/format/patternProperties/... and read oneOf as anyOf), `any_object` (a bounded
# JSON object). The level is reported per tool and counted in the stage metrics.

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from fcsynth.constraints.match import check_tokenizer
from fcsynth.constraints.schemas import any_object_schema, bound_schema, strip_unsupported, styled

FALLBACK_LEVELS = ("strict", "lenient", "stripped", "any_object")


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
