"""The tightening ladder: the tighter JSON bounds a tool falls back through when it exceeds the turn cap."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fcsynth.config import DMLConfig

MIN_STRING_CHARS = 8  # the tightest string bound a tool is narrowed to


def tightened(opt: DMLConfig, divisor: int) -> DMLConfig:
    """The configured JSON bounds divided by `divisor` (strings not below MIN_STRING_CHARS, the
    rest not below 1; a call may use one optional argument per object where all were allowed)."""
    return opt.model_copy(update={
        "max_json_string_chars": max(MIN_STRING_CHARS, opt.max_json_string_chars // divisor),
        "max_json_items": max(1, opt.max_json_items // divisor),
        "max_argument_properties": 1 if opt.max_argument_properties is None else max(1, opt.max_argument_properties // divisor),
        "max_response_properties": max(1, opt.max_response_properties // divisor),
    })


def levels(opt: DMLConfig) -> list[DMLConfig]:
    """The configured bounds, then each rung of `dml.tightening_divisors` that is tighter than the one before."""
    out = [opt]
    for divisor in opt.tightening_divisors:
        level = tightened(opt, divisor)
        if level != out[-1]:
            out.append(level)
    return out
