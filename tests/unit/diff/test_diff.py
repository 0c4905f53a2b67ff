"""`fcsynth diff` on two versions of a small handmade dataset in a temp git + DVC repo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fcsynth.diff.compare import diff_revs, diff_versions, record_hash
from fcsynth.diff.revisions import DatasetVersion, load_version
from fcsynth.errors import FcsynthError

from helpers.diff_repo import VERSION_A, env_for, git_commit, record, sh

VERSION_B = [
    record("c1", "gmail", "send_email", 4),                 # unchanged
    record("c2", "gmail", "list_emails", 5, text="hi!"),     # changed (content + score)
    record("c4", "googledrive", "list_files", 4),            # unchanged; c3 removed
    record("c5", "gmail+googledrive", "share_file", 5),      # added, new selection and tool
]


def write_version(root: Path, records: list[dict], acceptance_rate: float) -> None:
    """Write data/dataset/{train,test}.jsonl (last record is test) and metrics/curate.json."""
    out = root / "data" / "dataset"
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[:-1]))
    (out / "test.jsonl").write_text(json.dumps(records[-1]) + "\n")
    (root / "metrics").mkdir(exist_ok=True)
    (root / "metrics" / "curate.json").write_text(json.dumps({"stage": "curate", "acceptance_rate": acceptance_rate}))


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> dict[str, object]:
    """A git + DVC repo: commit `empty` (no dataset), `v1` (VERSION_A), `v2` (VERSION_B); workspace = v2 + c6."""
    root = tmp_path_factory.mktemp("diffrepo")
    sh(root, "git", "init", "-q")
    sh(root, "dvc", "init", "-q")
    empty = git_commit(root, "empty")
    write_version(root, VERSION_A, 0.5)
    sh(root, "dvc", "add", "-q", "data/dataset")
    v1 = git_commit(root, "v1")
    write_version(root, VERSION_B, 0.75)
    sh(root, "dvc", "add", "-q", "data/dataset")
    v2 = git_commit(root, "v2")
    sh(root, "git", "tag", "v2")
    write_version(root, [*VERSION_B, record("c6", "gmail", "send_email", 2)], 0.8)
    return {"root": root, "empty": empty, "v1": v1, "v2": v2}


def test_record_hash_ignores_key_order_only():
    r = record("x", "gmail", "send_email", 4)
    assert record_hash(r) == record_hash(dict(reversed(list(r.items()))))
    assert record_hash(r) != record_hash(record("x", "gmail", "send_email", 3))


def test_diff_between_two_commits(repo):
    report = diff_revs(repo["v1"], "v2", repo["root"])
    conv = report["conversations"]
    assert conv == {"added": ["c5"], "removed": ["c3"], "changed": ["c2"], "unchanged": 2}
    assert report["a"]["records"] == 4 and report["b"]["records"] == 4
    assert report["a"]["splits"] == {"test": 1, "train": 3}
    assert report["selections"] == {
        "gmail": {"a": 2, "b": 2, "delta": 0},
        "gmail+googledrive": {"a": 0, "b": 1, "delta": 1},
        "googledrive": {"a": 2, "b": 1, "delta": -1},
    }
    tq = report["scores"]["tool_use_quality"]
    assert tq["a"]["mean"] == 4.0 and tq["b"]["mean"] == 4.5 and tq["mean_delta"] == 0.5
    assert tq["a"]["histogram"] == {"1": 0, "2": 0, "3": 1, "4": 2, "5": 1}
    assert tq["b"]["histogram"] == {"1": 0, "2": 0, "3": 0, "4": 2, "5": 2}
    cov = report["tool_coverage"]
    assert (cov["a"], cov["b"]) == (4, 4)
    assert cov["newly_covered"] == ["share_file"] and cov["lost"] == ["upload_file"]
    assert report["acceptance_rate"] == {"a": 0.5, "b": 0.75, "delta": 0.25}


def test_default_is_head_against_workspace(repo):
    report = diff_revs("HEAD", "workspace", repo["root"])
    assert report["conversations"] == {"added": ["c6"], "removed": [], "changed": [], "unchanged": 4}
    assert report["acceptance_rate"]["b"] == 0.8
    assert report["scores"]["naturalness"]["b"]["histogram"]["2"] == 1


def test_same_revision_has_no_changes(repo):
    report = diff_revs(repo["v1"], repo["v1"], repo["root"])
    assert report["conversations"] == {"added": [], "removed": [], "changed": [], "unchanged": 4}
    assert all(row["mean_delta"] == 0 for row in report["scores"].values())


def test_unknown_rev_and_rev_without_dataset_are_one_line_errors(repo):
    with pytest.raises(FcsynthError, match="unknown revision or experiment 'nope'"):
        load_version("nope", repo["root"])
    with pytest.raises(FcsynthError, match="no exported dataset"):
        load_version(repo["empty"], repo["root"])


def test_versions_without_scores_or_metrics():
    a = DatasetVersion("a", {"x": {**record("x", "gmail", "send_email", 4), "scores": None}})
    b = DatasetVersion("b", {})
    report = diff_versions(a, b)
    assert report["scores"] == {}
    assert report["conversations"]["removed"] == ["x"]
    assert report["acceptance_rate"] == {"a": None, "b": None, "delta": None}
    assert report["tool_coverage"]["lost"] == ["send_email"]


def test_cli_json_table_and_errors(repo):
    root = repo["root"]
    cli = [sys.executable, "-m", "fcsynth.cli", "diff"]
    out = subprocess.run([*cli, repo["v1"], "v2", "--json"], cwd=root, env=env_for(root), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["conversations"]["changed"] == ["c2"]

    table = subprocess.run([*cli, "v2"], cwd=root, env={**env_for(root), "COLUMNS": "160"}, capture_output=True, text=True)
    assert table.returncode == 0, table.stderr
    for text in ("dataset diff: v2 → workspace", "acceptance rate", "tool_use_quality", "added", "c6"):
        assert text in table.stdout

    bad = subprocess.run([*cli, "no-such-rev"], cwd=root, env=env_for(root), capture_output=True, text=True)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == ["fcsynth: error: unknown revision or experiment 'no-such-rev' in " + str(root)]
    missing = subprocess.run([*cli, repo["empty"]], cwd=root, env=env_for(root), capture_output=True, text=True)
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1
    assert "no exported dataset" in missing.stderr
