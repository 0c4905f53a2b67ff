"""Per-stage metrics: one JSON per stage in metrics/, read by `dvc metrics show/diff`."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fcsynth.atomic import write_text_atomic
from fcsynth.paths import METRICS_DIR
from fcsynth.rows import OK


@dataclass
class StageMetrics:
    """Counts in/out, reasons, tokens and wall time of one stage, plus its own figures.

    The same meaning in every stage: `records_in` is the rows the stage was handed,
    `records_out` the rows it passed on (status ok); `rejected` counts the others by status.
    """

    stage: str
    records_in: int = 0
    records_out: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    tokens: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def reject(self, reason: str, n: int = 1) -> None:
        """Count a record dropped (or flagged) for `reason`."""
        self.reasons[reason] += n

    def count(self, rows: list[dict[str, Any]], status_key: str = "status", reasons: tuple[str, ...] = ()) -> None:
        """records_out = the rows passed on (status ok); every other row is counted under
        its status. `reasons` are listed even when zero (so metrics diffs stay aligned)."""
        for reason in reasons:
            self.reasons[reason] += 0
        self.records_out = 0
        for row in rows:
            if row[status_key] == OK:
                self.records_out += 1
            else:
                self.reject(row[status_key])

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "records_in": self.records_in,
            "records_out": self.records_out,
            "rejected": dict(sorted(self.reasons.items())),
            "tokens": self.tokens,
            "wall_time_s": round(time.monotonic() - self.started, 3),
            **self.extra,
        }

    def write(self, metrics_dir: Path = METRICS_DIR) -> Path:
        """Write metrics/<stage>.json and return its path."""
        return write_json(metrics_dir / f"{self.stage}.json", self.as_dict())


def write_json(path: Path, data: Any) -> Path:
    """Write indented JSON (diff-friendly) atomically, creating the folder."""
    return write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
