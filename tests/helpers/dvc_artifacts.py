"""What a DVC project produced: its outputs compared byte for byte, its experiments, its queue."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.project import dvc


def lock_outs(project: Path) -> list[str]:
    """Every output path recorded in dvc.lock."""
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    return sorted({o["path"] for stage in lock["stages"].values() for o in stage.get("outs", [])})


def files_under(project: Path, rel: str) -> dict[str, bytes]:
    """Relative path -> bytes of the file `rel` or of every file below the directory `rel`."""
    path = project / rel
    if path.is_file():
        return {rel: path.read_bytes()}
    return {str(p.relative_to(project)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def assert_same_artifacts(a: Path, b: Path) -> int:
    """Every DVC output of `a` exists in `b` byte for byte; returns how many files were compared."""
    outs = lock_outs(a)
    assert outs == lock_outs(b)
    compared = 0
    for rel in outs:
        fa, fb = files_under(a, rel), files_under(b, rel)
        assert fa, f"{rel} is missing in {a}"
        assert sorted(fa) == sorted(fb), f"{rel}: different files"
        for name in fa:
            assert fa[name] == fb[name], f"{name} differs"
        compared += len(fa)
    return compared


def exp_rows(shown: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flatten `dvc exp show --json` into {name, rev, params, metrics} per experiment (baselines excluded)."""
    rows = []
    for baseline in shown:
        for exp in baseline.get("experiments") or []:
            for rev in exp.get("revs") or []:
                data = rev.get("data") or {}
                rows.append({
                    "name": rev.get("name") or exp.get("name"),
                    "rev": rev.get("rev"),
                    "params": (data.get("params") or {}).get("params.yaml", {}).get("data", {}),
                    "metrics": {k: v.get("data", {}) for k, v in (data.get("metrics") or {}).items()},
                })
    return rows


def wait_for_queue(project: Path, timeout_s: float = 480) -> str:
    """Wait until `dvc queue status` shows nothing queued or running; returns the last status."""
    deadline = time.time() + timeout_s
    while True:
        status = dvc(project, "queue", "status").stdout
        if not any(word in status for word in ("Queued", "Running")):
            return status
        if time.time() > deadline:
            pytest.fail(f"dvc queue did not finish in {timeout_s:.0f} s:\n{status}")
        time.sleep(3)
