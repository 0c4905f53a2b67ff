"""What a rule-based check is (`Check`, `Measured`) and running a tuple of them over one
record (`assess`, `Quality`): the runner knows no check by name."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from fcsynth.config import CurateConfig

NOTES_PER_CHECK = 5  # examples kept per check in quality_notes
# curation.parquet listed these first before checks were classes; kept so the file is unchanged.
LEADING_COLUMNS = ("tool_calls", "repeated_calls")


@dataclass
class Measured:
    """What one check measured in one conversation."""

    values: dict[str, Any]  # its `columns`, written to data/curation.parquet
    notes: list[str] = field(default_factory=list)  # what it found, as examples for quality_notes


@dataclass(frozen=True)
class Check(ABC):
    """One rule-based check; its dataclass fields are the CurateConfig fields it reads (same names).

    `measure` always runs on a parsed conversation (its values are reported even when the
    check is off); `reject` applies the limits: None passes, a string is the rejection detail.
    """

    name: ClassVar[str]  # the rejection reason: the key of metrics' rejected and quality_failures
    columns: ClassVar[tuple[str, ...]]  # the keys of `measure`'s values
    notes_key: ClassVar[str | None] = None  # its key in quality_notes (None: `name`)

    @classmethod
    def from_config(cls, cfg: CurateConfig) -> Check:
        """This check with its fields read from `cfg`."""
        return cls(**{f.name: getattr(cfg, f.name) for f in fields(cls)})

    @abstractmethod
    def measure(self, record: dict[str, Any]) -> Measured:
        """Measure one exported record (`build_record` shape: system prompt first when kept)."""

    @abstractmethod
    def reject(self, measured: Measured) -> str | None:
        """None when `measured` passes, else the rejection detail."""


def quality_columns(checks: Iterable[Check | type[Check]]) -> tuple[str, ...]:
    """The per-record columns `checks` write to data/curation.parquet, in registry order
    (LEADING_COLUMNS first), then quality_notes."""
    names = [c for check in checks for c in check.columns]
    return (*sorted(names, key=lambda c: c not in LEADING_COLUMNS), "quality_notes")


def empty_columns(checks: Iterable[Check]) -> dict[str, Any]:
    """The quality columns of a row that has no parsed conversation."""
    return dict.fromkeys(quality_columns(checks))


@dataclass
class Quality:
    """What each check measured in one conversation, in registry order."""

    measured: list[tuple[Check, Measured]]

    def failures(self) -> list[tuple[str, str]]:
        """(reason, detail) of every failed check, in registry order."""
        return [(check.name, detail) for check, m in self.measured if (detail := check.reject(m)) is not None]

    def columns(self) -> dict[str, Any]:
        """The `quality_columns` values of this record."""
        row = empty_columns(check for check, _ in self.measured)
        notes = {}
        for check, m in self.measured:
            row.update(m.values)
            if m.notes:
                notes[check.notes_key or check.name] = m.notes[:NOTES_PER_CHECK]
        row["quality_notes"] = json.dumps(notes, ensure_ascii=False)
        return row


def assess(record: dict[str, Any], checks: Sequence[Check]) -> Quality:
    """Every check's measurement of one exported record."""
    return Quality([(check, check.measure(record)) for check in checks])
