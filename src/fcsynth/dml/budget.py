"""The token budget of a DML conversation: its grammar's longest output, and the shape
(turns, steps, parallel calls, text bounds) that fits `conversations.max_tokens`.

Real tool schemas make the longest *JSON* enormous (arrays of long strings: the built-in
toolkits' worst cases are 10^5-10^6 tokens), so for most conversations only the text and
markup can be proven to fit; `fit_text` then allocates the text bounds so that they alone
never exceed the budget, and the stage regenerates the rare truncated row.

The bound follows the grammar in `grammars/dml.lark` rule by rule, in bytes (tokens <=
bytes + EOS, see fcsynth.budget): free text is printable ASCII, one byte a char; a call
or a response is at most the largest of the conversation's (from `max_json_bytes`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from fcsynth.budget import EOS_TOKENS, BudgetError, allocate_chars

if TYPE_CHECKING:
    from fcsynth.dml.grammar import GrammarOptions

_USER = len("<user></user>")
_ASSISTANT = len("<assistant></assistant>")
_THINK = len("<think></think>")


def max_bytes(opt: GrammarOptions, call_bytes: int, resp_bytes: int) -> int:
    """Upper bound of the bytes of any conversation the grammar of `opt` allows."""
    n = opt.max_parallel_calls
    step = n * (call_bytes + resp_bytes) + (2 * n - 1)  # calls and responses joined by "\n"
    think = _THINK + opt.think_chars if opt.thinking else 0
    user = _USER + opt.max_text_chars
    assistant = _ASSISTANT + think + opt.max_steps_per_turn * (step + 1) + opt.max_text_chars
    turns = opt.max_user_turns
    return turns * (user + 1 + assistant) + (turns - 1)


def max_tokens(opt: GrammarOptions, call_bytes: int, resp_bytes: int) -> int:
    """Upper bound of the completion tokens of any conversation the grammar allows."""
    return max_bytes(opt, call_bytes, resp_bytes) + EOS_TOKENS


def _smaller(opt: GrammarOptions) -> GrammarOptions | None:
    """The next smaller shape: fewer steps, then fewer parallel calls, then fewer turns."""
    min_steps = 1 if opt.require_tool_call else 0
    if opt.max_steps_per_turn > min_steps:
        return replace(opt, max_steps_per_turn=opt.max_steps_per_turn - 1)
    if opt.max_parallel_calls > 1:
        return replace(opt, max_parallel_calls=opt.max_parallel_calls - 1)
    if opt.max_user_turns > opt.min_user_turns:
        return replace(opt, max_user_turns=opt.max_user_turns - 1)
    return None


def fit(opt: GrammarOptions, call_bytes: int, resp_bytes: int, budget: int, where: str) -> GrammarOptions:
    """The options whose longest conversation fits `budget` tokens.

    Text bounds are allocated from what calls, responses and markup leave (at most the
    configured ones, at least `min_text_chars`); when even that does not fit, the shape
    shrinks (`_smaller`). Raises BudgetError when the smallest shape does not fit.
    """
    shape: GrammarOptions | None = opt
    first_error: BudgetError | None = None
    while shape is not None:
        turns = shape.max_user_turns
        spans = {"text": (2 * turns, shape.min_text_chars, shape.max_text_chars)}
        if shape.thinking:
            spans["think"] = (turns, shape.min_text_chars, shape.think_chars)
        # max_bytes is linear in the text bounds: take them out to get the fixed part.
        fixed = max_bytes(shape, call_bytes, resp_bytes) - sum(c * hi for c, _, hi in spans.values())
        try:
            chars = allocate_chars(budget, fixed, spans, where)
        except BudgetError as err:
            first_error = first_error or err
            shape = _smaller(shape)
            continue
        fitted = replace(shape, max_text_chars=chars["text"], max_think_chars=chars.get("think"))
        assert max_tokens(fitted, call_bytes, resp_bytes) <= budget
        return fitted
    assert first_error is not None
    raise BudgetError(f"{first_error} (even with 1 step of 1 call per turn and {opt.min_user_turns} turn(s))")


def fit_text(opt: GrammarOptions, budget: int, where: str) -> GrammarOptions:
    """The options whose text and markup alone (calls and responses left out) fit the
    budget: text bounds at most the configured ones, at least `min_text_chars`. Raises
    BudgetError when the configured minimums cannot fit."""
    spans = {"text": (2 * opt.max_user_turns, opt.min_text_chars, opt.max_text_chars)}
    if opt.thinking:
        spans["think"] = (opt.max_user_turns, opt.min_text_chars, opt.think_chars)
    fixed = max_bytes(opt, 0, 0) - sum(c * hi for c, _, hi in spans.values())
    chars = allocate_chars(budget, fixed, spans, where)
    return replace(opt, max_text_chars=chars["text"], max_think_chars=chars.get("think"))
