"""Rule-based quality checks of one conversation, each a named curate rejection reason:
placeholder values, repeated calls, argument grounding, degenerate text.

`CHECKS` is the registry: the checks in the order they reject. `registry(cfg)` builds
them from `CurateConfig`; curate measures every check once per record, rejects with the
first failure and counts every reason (metrics' `rejected` and `quality_failures`) from
the checks' names.

To add a check: write one `Check` subclass (a frozen dataclass whose fields are named
after the CurateConfig fields it reads; a `name`, its `columns`, `measure` and `reject`),
e.g. in `rules.py`, and add the class to `CHECKS`. Nothing else lists checks.
"""

from __future__ import annotations

from fcsynth.config import CurateConfig
from fcsynth.curate.checks.base import Check, Measured, Quality, assess, empty_columns, quality_columns
from fcsynth.curate.checks.rules import DegenerateTextCheck, GroundingCheck, PlaceholderCheck, RepeatedCallCheck

CHECKS: tuple[type[Check], ...] = (PlaceholderCheck, RepeatedCallCheck, GroundingCheck, DegenerateTextCheck)


def registry(cfg: CurateConfig) -> tuple[Check, ...]:
    """The checks of `CHECKS`, configured by `cfg`, in their order."""
    return tuple(check.from_config(cfg) for check in CHECKS)


# Rejection reasons, in the order they are checked.
QUALITY_REASONS = tuple(check.name for check in CHECKS)
# The per-record values curate writes to data/curation.parquet (None for unparsed rows).
QUALITY_COLUMNS = quality_columns(CHECKS)

__all__ = [
    "CHECKS", "QUALITY_COLUMNS", "QUALITY_REASONS", "Check", "Measured", "Quality", "assess", "empty_columns",
    "quality_columns", "registry",
]
