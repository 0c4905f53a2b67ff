"""Regexes that tool schemas bring (`pattern`, `patternProperties`, the `regex` format), run on data with a time limit."""

from fcsynth.schema_regex.engine import (
    MAX_PATTERN_EXPANSION,
    PATTERN_TIMEOUT_S,
    PatternError,
    compiled,
    expansion,
    fullmatch,
    search,
)
from fcsynth.schema_regex.validators import bounded, check_schema, validator_for

__all__ = [
    "MAX_PATTERN_EXPANSION",
    "PATTERN_TIMEOUT_S",
    "PatternError",
    "bounded",
    "check_schema",
    "compiled",
    "expansion",
    "fullmatch",
    "search",
    "validator_for",
]
