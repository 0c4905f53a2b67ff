"""Crash-safe row checkpoints: finished rows are appended (and fsynced) as they arrive,
so a killed stage resumes where it stopped and never regenerates finished rows.

A checkpoint is keyed by a fingerprint of everything that determines the rows (params,
input hashes, templates); a different fingerprint starts afresh.

Loading keeps every valid row: a line that is not a UTF-8 JSON object with a string `id`
(a line torn by a kill, garbage) is dropped on its own, and the file is rewritten without
it, so later appends never glue onto a torn line. A stage's checkpoint directory is locked
while a Checkpoint of it is open, so two runs of one stage never generate the same rows.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fcsynth.atomic import atomic_path
from fcsynth.errors import FcsynthError
from fcsynth.paths import CHECKPOINT_DIR

LOCK_NAME = ".lock"


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


# ----------------------------------------------------------------------------- the stage lock

_held: dict[str, list[int]] = {}  # realpath of a stage's checkpoint dir -> [fd, opens, pid]
_held_guard = threading.Lock()


def _lock_dir(directory: Path) -> str:
    """Lock a stage's checkpoint directory for this process (again: one more open of it).

    A POSIX record lock on `<directory>/.lock`: held per process (a second open in the same
    process shares it, a forked child does not inherit it) and released by the kernel when
    the process ends, however it ends. Another process holding it is a one-line error.
    """
    key = os.path.realpath(directory)
    with _held_guard:
        entry = _held.get(key)
        if entry is not None and entry[2] == os.getpid():
            entry[1] += 1
            return key
        try:
            fd = os.open(os.path.join(key, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise FcsynthError(f"{directory}: cannot open the stage's lock file {LOCK_NAME} ({err.strerror})") from None
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            holder = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            if err.errno not in (errno.EAGAIN, errno.EACCES):  # e.g. a file system without locks
                raise FcsynthError(f"{directory}: cannot lock the stage's checkpoints ({err.strerror})") from None
            pid = f"pid {holder}" if holder.isdigit() else "pid unknown"
            raise FcsynthError(
                f"{directory}: another fcsynth run of this stage holds the lock ({pid}); wait for it or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _held[key] = [fd, 1, os.getpid()]
        return key


def _unlock_dir(key: str) -> None:
    """One open fewer of a locked directory; the last one releases the lock."""
    with _held_guard:
        entry = _held.get(key)
        if entry is None or entry[2] != os.getpid():
            return
        entry[1] -= 1
        if entry[1] == 0:
            del _held[key]
            os.close(entry[0])  # closing the file releases the process's lock on it


# ------------------------------------------------------------------------------ the checkpoint


def _row_of(line: bytes) -> dict[str, Any] | None:
    """The row a checkpoint line holds, or None when it holds none (torn, garbage, no id)."""
    try:
        row = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(row, dict) or not isinstance(row.get("id"), str):
        return None
    return row


class Checkpoint:
    """Append-only JSONL of finished rows for one stage run, keyed by `id`.

    `directory=None` keeps rows in memory only (library calls that need no resume).
    With a directory, the stage's checkpoint directory stays locked against other
    processes until `close()` (or the end of the process); it is also a context manager.
    """

    def __init__(self, stage: str, key: str, directory: Path | None = CHECKPOINT_DIR) -> None:
        self.stage = stage
        self.path = directory / stage / f"{key}.jsonl" if directory else None
        self.rows: dict[str, dict[str, Any]] = {}
        self.dropped = 0  # lines dropped on load (torn or unreadable)
        self._lock: str | None = None
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = _lock_dir(self.path.parent)
        try:
            self._load()
        except BaseException:
            self.close()
            raise

    def _load(self) -> None:
        assert self.path is not None
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        good: list[bytes] = []
        for line in data.split(b"\n"):
            row = _row_of(line)
            if row is None:
                self.dropped += bool(line.strip())
                continue
            good.append(line)
            self.rows[row["id"]] = row
        kept = b"".join(g + b"\n" for g in good)
        if kept != data:  # a dropped line, a blank one, or no newline at the end
            with atomic_path(self.path) as tmp:
                tmp.write_bytes(kept)
        if self.dropped:
            print(f"fcsynth {self.stage}: warning: {self.path}: dropped {self.dropped} unreadable line(s)"
                  " (cut off by a kill, or damaged); their rows will be generated again", file=sys.stderr)

    def __contains__(self, row_id: str) -> bool:
        return row_id in self.rows

    def add(self, row: dict[str, Any]) -> None:
        """Persist one finished row now."""
        self.rows[row["id"]] = row
        if self.path is None:
            return
        with open(self.path, "ab") as f:
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n")
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

    def close(self) -> None:
        """Release this checkpoint's hold on the stage lock (idempotent); rows stay readable."""
        if self._lock is not None:
            _unlock_dir(self._lock)
            self._lock = None

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
