"""The token budget of a DML conversation: its grammar's longest output, and the shape
(turns, steps, parallel calls, text bounds) that fits `conversations.max_tokens`.

Real tool schemas make the longest *JSON* enormous at the configured bounds (arrays of
long strings: the built-in toolkits' worst cases are 10^5-10^6 tokens), so the grammar
builder (`fcsynth.dml.grammar.build_budgeted_grammar`) tightens the JSON bounds step by step
(`json_levels`) and shrinks the shape (`smaller`) until `fit_shape` proves the whole
conversation fits. Only when even the tightest bounds cannot fit does `fit_text` allocate
the text alone, and the stage regenerates the rare truncated row.

The bound follows the grammar in `grammars/dml.lark` rule by rule, in bytes (tokens <=
bytes + EOS, see fcsynth.budget): free text is printable ASCII, one byte a char; a call
or a response is at most the largest of the conversation's (from `max_json_bytes`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from fcsynth.budget import EOS_TOKENS, allocate_chars

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


def smaller(opt: GrammarOptions) -> GrammarOptions | None:
    """The next smaller shape: fewer steps, then fewer parallel calls, then fewer turns."""
    min_steps = 1 if opt.require_tool_call else 0
    if opt.max_steps_per_turn > min_steps:
        return replace(opt, max_steps_per_turn=opt.max_steps_per_turn - 1)
    if opt.max_parallel_calls > 1:
        return replace(opt, max_parallel_calls=opt.max_parallel_calls - 1)
    if opt.max_user_turns > opt.min_user_turns:
        return replace(opt, max_user_turns=opt.max_user_turns - 1)
    return None


def fit_shape(shape: GrammarOptions, call_bytes: int, resp_bytes: int, budget: int, where: str) -> GrammarOptions:
    """`shape` with text bounds allocated from what calls, responses and markup leave (at
    most the configured ones, at least `min_text_chars`); BudgetError when that cannot fit."""
    turns = shape.max_user_turns
    spans = {"text": (2 * turns, shape.min_text_chars, shape.max_text_chars)}
    if shape.thinking:
        spans["think"] = (turns, shape.min_text_chars, shape.think_chars)
    # max_bytes is linear in the text bounds: take them out to get the fixed part.
    fixed = max_bytes(shape, call_bytes, resp_bytes) - sum(c * hi for c, _, hi in spans.values())
    chars = allocate_chars(budget, fixed, spans, where)
    fitted = replace(shape, max_text_chars=chars["text"], max_think_chars=chars.get("think"))
    assert max_tokens(fitted, call_bytes, resp_bytes) <= budget
    return fitted


# JSON bounds tried after the configured ones, loosest first: string maxLength, array
# maxItems / map maxProperties, optional response properties and response depth, optional
# arguments per object and argument depth (None: unlimited). Each is at most the configured
# value. Strings stay at JSON_MIN_STRING_CHARS or more (the prompt's example values fit).
JSON_LEVELS: tuple[tuple[int, int, int, int, int | None, int | None], ...] = (
    (120, 4, 4, 2, None, None),
    (80, 3, 3, 2, 6, 3),
    (60, 2, 2, 1, 4, 2),
    (40, 2, 2, 1, 2, 2),
    (40, 1, 1, 1, 1, 1),
)
JSON_MIN_STRING_CHARS = 40


def _at_most(configured: int | None, cap: int | None) -> int | None:
    if cap is None:
        return configured
    return cap if configured is None else min(configured, cap)


def json_levels(opt: GrammarOptions) -> list[GrammarOptions]:
    """`opt`, then `opt` with its JSON bounds tightened level by level (JSON_LEVELS): distinct, loosest first."""
    out = [opt]
    for chars, items, props, depth, arg_props, arg_depth in JSON_LEVELS:
        level = replace(
            opt,
            max_json_string_chars=min(opt.max_json_string_chars, max(chars, JSON_MIN_STRING_CHARS)),
            max_json_items=min(opt.max_json_items, items),
            max_response_properties=min(opt.max_response_properties, props),
            max_response_depth=min(opt.max_response_depth, depth),
            max_argument_properties=_at_most(opt.max_argument_properties, arg_props),
            max_argument_depth=_at_most(opt.max_argument_depth, arg_depth),
        )
        if level not in out:
            out.append(level)
    return out


JSON_BOUND_FIELDS = ("max_json_string_chars", "max_json_items", "max_response_properties", "max_response_depth",
                     "max_argument_properties", "max_argument_depth")


def with_json_bounds(shape: GrammarOptions, level: GrammarOptions) -> GrammarOptions:
    """`shape` (turns, steps, calls, text) with the JSON bounds of `level`."""
    return replace(shape, **{name: getattr(level, name) for name in JSON_BOUND_FIELDS})


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
