"""Token budgets by construction: the longest output a constraint allows, in tokens."""

# The proof has two steps.
#
# 1. *Tokens <= bytes + 1.* Every token the constrained decoder can emit inside text or JSON
#    decodes to at least one byte (byte-level BPE; special tokens, the only empty-or-markup
#    ones, are never allowed by a regex or `%json`), and the only token after the last byte
#    is EOS. So `completion_tokens <= utf8_bytes(output) + 1`, whatever tokenization the
#    model picks (`tokenizer_min_token_bytes` checks the first premise for a tokenizer).
# 2. *Bytes are bounded.* Free text and JSON strings are printable ASCII (one byte a char,
#    no escapes: `ASCII_JSON_PATTERN`, the DML `TEXT` terminal), strings carry maxLength,
#    numbers a range and a multipleOf, arrays maxItems, objects fixed keys. `max_json_bytes`
#    (constraints.bounds) computes an upper bound of a schema's compact JSON, or None where it cannot bound it.
#
# Stages allocate their free-text bounds from `max_tokens` with `allocate_chars`; when the
# configured minimums cannot fit, they fail with a one-line `FcsynthError`.

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from fcsynth.constraints.bounds import ascii_text, compact, max_json_bytes
from fcsynth.errors import FcsynthError

EOS_TOKENS = 1  # the end-of-sequence token after the last byte


class BudgetError(FcsynthError):
    """The configured bounds cannot fit a stage's max_tokens (the stage fails)."""


def tokens_for_bytes(n_bytes: int) -> int:
    """Upper bound of the tokens an output of `n_bytes` bytes takes (EOS included)."""
    return n_bytes + EOS_TOKENS


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
