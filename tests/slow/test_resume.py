"""A stage killed with SIGKILL halfway resumes under `dvc repro`, keeping finished rows."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from helpers.project import checkpoint_lines, dvc, kill_after_rows, project_env
from helpers.project import make_project as _make_project

pytestmark = pytest.mark.slow

OVERRIDES = ["llm=fake", "experiment=tiny", "scenarios.count=6", "scenarios.similarity_threshold=0.995"]


def make_project(repo: Path, dest: Path) -> Path:
    """A runnable copy of the project with the fake backend (this test is about resuming, not the model)."""
    return _make_project(repo, dest, OVERRIDES)


def test_conversations_resume_after_sigkill(repo_root, tmp_path):
    """The simulation checkpoints every turn: killed mid-round, it resumes at the first
    unfinished turn, and the result equals an uninterrupted run's."""
    killed = make_project(repo_root, tmp_path / "killed")
    dvc(killed, "repro", "blueprints")
    env = {**project_env(killed), "FCSYNTH_FAKE_LATENCY_S": "0.3"}
    conversations = pl.read_parquet(killed / "data" / "blueprints.parquet").filter(pl.col("status") == "ok").height
    before = kill_after_rows(killed, ["dvc", "repro", "conversations"], env, "conversations", rows=conversations + 2)
    assert conversations < len(before), "the kill must land after the first round (one turn per conversation)"
    assert not (killed / "data" / "conversations.parquet").exists()

    dvc(killed, "repro", "conversations")
    after = checkpoint_lines(killed, "conversations")
    assert len(after) > len(before), "the kill must land before the last turn"
    assert after[: len(before)] == before, "turns finished before the kill are kept byte for byte"
    ids = [json.loads(line)["id"] for line in after]
    assert len(ids) == len(set(ids)), "nothing finished was generated twice"
    resumed = pl.read_parquet(killed / "data" / "conversations.parquet")

    clean = make_project(repo_root, tmp_path / "clean")
    dvc(clean, "repro", "conversations")
    uninterrupted = pl.read_parquet(clean / "data" / "conversations.parquet")
    assert resumed["id"].to_list() == uninterrupted["id"].to_list()
    assert resumed.drop("prompt_tokens", "completion_tokens").equals(
        uninterrupted.drop("prompt_tokens", "completion_tokens")
    )
