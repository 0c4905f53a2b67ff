"""A stage killed with SIGKILL halfway resumes under `dvc repro`, keeping finished rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import polars as pl
import pytest

from project import dvc, project_env
from project import make_project as _make_project

pytestmark = pytest.mark.slow

OVERRIDES = ["llm=fake", "experiment=tiny", "scenarios.count=6", "scenarios.similarity_threshold=0.995"]


def make_project(repo: Path, dest: Path) -> Path:
    """A runnable copy of the project with the fake backend (this test is about resuming, not the model)."""
    return _make_project(repo, dest, OVERRIDES)


def checkpoint_lines(dest: Path) -> list[str]:
    files = list((dest / "data" / "checkpoints" / "conversations").glob("*.jsonl"))
    return files[0].read_text().splitlines() if files else []


def test_conversations_resume_after_sigkill(repo_root, tmp_path):
    killed = make_project(repo_root, tmp_path / "killed")
    dvc(killed, "repro", "blueprints")
    env = {**project_env(killed), "FCSYNTH_FAKE_LATENCY_S": "1.0"}
    proc = subprocess.Popen(["dvc", "repro", "conversations"], cwd=killed, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(checkpoint_lines(killed)) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = checkpoint_lines(killed)
    total = pl.read_parquet(killed / "data" / "blueprints.parquet").filter(pl.col("status") == "ok").height
    assert 2 <= len(before) < total, "the kill must land halfway"
    assert not (killed / "data" / "conversations.parquet").exists()

    dvc(killed, "repro", "conversations")
    after = checkpoint_lines(killed)
    assert after[: len(before)] == before, "rows finished before the kill are kept byte for byte"
    ids = [json.loads(line)["id"] for line in after]
    assert len(ids) == len(set(ids)) == total, "nothing finished was generated twice"
    resumed = pl.read_parquet(killed / "data" / "conversations.parquet")
    for line in before:
        row = json.loads(line)
        assert resumed.filter(pl.col("id") == row["id"])["dml"].item() == row["text"]

    clean = make_project(repo_root, tmp_path / "clean")
    dvc(clean, "repro", "conversations")
    uninterrupted = pl.read_parquet(clean / "data" / "conversations.parquet")
    assert resumed["id"].to_list() == uninterrupted["id"].to_list()
    assert resumed.drop("prompt_tokens", "completion_tokens").equals(
        uninterrupted.drop("prompt_tokens", "completion_tokens")
    )
