"""Crash-safe row checkpoints: finished rows are appended (and fsynced) as they arrive,
so a killed stage resumes where it stopped and never regenerates finished rows.

A checkpoint is keyed by a fingerprint of everything that determines the rows (params,
input hashes, templates); a different fingerprint starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fcsynth.atomic import write_text_atomic
from fcsynth.paths import CHECKPOINT_DIR


def fingerprint(*parts: Any) -> str:
    """A stable hash of JSON-serializable parts (params, input hashes, template text)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Checkpoint:
    """Append-only JSONL of finished rows for one stage run, keyed by `id`.

    `directory=None` keeps rows in memory only (library calls that need no resume).
    """

    def __init__(self, stage: str, key: str, directory: Path | None = CHECKPOINT_DIR) -> None:
        self.path = directory / stage / f"{key}.jsonl" if directory else None
        self.rows: dict[str, dict[str, Any]] = {}
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path and self.path.exists():
            good: list[str] = []
            for line in self.path.read_text().splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    # A torn last line from a kill: keep what came before, drop the rest.
                    write_text_atomic(self.path, "".join(g + "\n" for g in good))
                    break
                good.append(line)
                self.rows[row["id"]] = row

    def __contains__(self, row_id: str) -> bool:
        return row_id in self.rows

    def add(self, row: dict[str, Any]) -> None:
        """Persist one finished row now."""
        self.rows[row["id"]] = row
        if self.path is None:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def missing(self, ids: Iterable[str]) -> list[str]:
        """Ids not finished yet, in the given order."""
        return [i for i in ids if i not in self.rows]

    def clear_others(self) -> None:
        """Remove checkpoints of this stage with another key (stale params or inputs)."""
        if self.path is None:
            return
        for other in self.path.parent.glob("*.jsonl"):
            if other != self.path:
                other.unlink()
