"""Bad input to `fcsynth diff`: unknown revisions, malformed or uncached datasets, each one line on stderr."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers.stage_project import fcsynth, jsonl, one_line, record, write


def sh(root: Path, *cmd: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "DVC_NO_ANALYTICS": "1"}
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def dataset(root: Path, train: str, test: str | None = None) -> None:
    write(root / "data" / "dataset" / "train.jsonl", train)
    if test is not None:
        write(root / "data" / "dataset" / "test.jsonl", test)


@pytest.fixture(scope="module")
def diff_repo(tmp_path_factory) -> Path:
    """A git + DVC repo whose HEAD has a cached dataset (dvc add)."""
    root = tmp_path_factory.mktemp("diffbad")
    sh(root, "git", "init", "-q")
    sh(root, "dvc", "init", "-q")
    write(root / "dvc.yaml", "stages: {}\n")
    dataset(root, jsonl(record("a"), record("b")), jsonl(record("c")))
    sh(root, "dvc", "add", "-q", "data/dataset")
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-qm", "v1")
    return root


@pytest.fixture
def diff_ws(diff_repo, monkeypatch):
    """The diff repo as project root; its workspace dataset is restored after the test."""
    monkeypatch.setenv("FCSYNTH_ROOT", str(diff_repo))
    ds = diff_repo / "data" / "dataset"
    saved = {p.name: p.read_bytes() for p in ds.iterdir()}
    yield diff_repo
    shutil.rmtree(ds, ignore_errors=True)
    for name, data in saved.items():
        write(ds / name, data)


@pytest.mark.parametrize("args", [("HEAD", "nosuchrev"), ("nosuchrev", "HEAD"), ("nosuchrev",)])
def test_diff_names_the_unknown_revision(monkeypatch, capsys, diff_ws, args):
    code, out, err = fcsynth(monkeypatch, capsys, "diff", *args)
    assert code == 1 and out == ""
    one_line(err, "unknown revision or experiment 'nosuchrev'")


@pytest.mark.parametrize(
    ("train", "test", "needles"),
    [
        (jsonl(record("a"), "{not json"), None, ("data/dataset/train.jsonl:2 at 'workspace'", "not valid JSON")),
        (jsonl(record("a"), "[1, 2]"), None, ("train.jsonl:2", "not a dataset record", "is not of type 'object'")),
        (jsonl({k: v for k, v in record("a").items() if k != "id"}), None, ("train.jsonl:1", "'id' is a required property")),
        (jsonl(record(7)), None, ("train.jsonl:1", "7 is not of type 'string'", "$.id")),
        (jsonl(record("a", messages=[{"role": "assistant", "tool_calls": [{"function": {"arguments": {}}}]}])), None,
         ("'name' is a required property", "$.messages[0].tool_calls[0].function")),
        (jsonl(record("a", tools=[{"type": "function"}])), None, ("'function' is a required property", "$.tools[0]")),
        (jsonl(record("a", scores={"tool_use_quality": 9})), None, ("9 is greater than the maximum of 5", "$.scores.tool_use_quality")),
        (jsonl(record("a", scores={"tool_use_quality": "high"})), None, ("'high' is not of type",)),
        (jsonl(record("a")), jsonl(record("a")), ("test.jsonl:1 at 'workspace'", "duplicate id 'a'", "first at data/dataset/train.jsonl:1")),
    ],
)
def test_diff_malformed_workspace_records(monkeypatch, capsys, diff_ws, train, test, needles):
    shutil.rmtree(diff_ws / "data" / "dataset")
    dataset(diff_ws, train, test)
    code, out, err = fcsynth(monkeypatch, capsys, "diff", "HEAD", "workspace")
    assert code == 1 and out == ""
    one_line(err, *needles)


def test_diff_non_utf8_dataset(monkeypatch, capsys, diff_ws):
    (diff_ws / "data" / "dataset" / "train.jsonl").unlink()
    write(diff_ws / "data" / "dataset" / "train.jsonl", b'{"id": "\xff"}\n')
    code, _, err = fcsynth(monkeypatch, capsys, "diff", "HEAD", "workspace")
    assert code == 1
    one_line(err, "train.jsonl", "not UTF-8")


def test_diff_tracked_but_not_cached_says_dvc_pull(monkeypatch, capsys, tmp_path):
    """A fresh clone: HEAD's dataset is listed in its .dvc file but is in no local cache."""
    root = tmp_path / "clone"
    root.mkdir()
    sh(root, "git", "init", "-q")
    sh(root, "dvc", "init", "-q")
    dataset(root, jsonl(record("a"), record("b")))  # no test split: absent, not "not cached"
    sh(root, "dvc", "add", "-q", "data/dataset")
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-qm", "v1")
    monkeypatch.setenv("FCSYNTH_ROOT", str(root))
    code, out, err = fcsynth(monkeypatch, capsys, "diff", "HEAD", "workspace", "--json")
    assert code == 0, err
    assert json.loads(out)["conversations"]["unchanged"] == 2

    shutil.rmtree(root / ".dvc" / "cache")
    code, _, err = fcsynth(monkeypatch, capsys, "diff", "HEAD", "workspace")
    assert code == 1
    one_line(err, "data/dataset/train.jsonl at 'HEAD'", "not in the local cache", "dvc pull", "no DVC remote is configured")

    sh(root, "dvc", "remote", "add", "-d", "backup", str(tmp_path / "remote"))
    code, _, err = fcsynth(monkeypatch, capsys, "diff", "HEAD", "workspace")
    assert code == 1
    one_line(err, "dvc pull", "dvc fetch", "remote 'backup'")


def test_diff_revision_without_dataset(monkeypatch, capsys, diff_ws):
    shutil.rmtree(diff_ws / "data" / "dataset")
    code, _, err = fcsynth(monkeypatch, capsys, "diff", "HEAD", "workspace")
    assert code == 1
    one_line(err, "tracked by DVC but not in the workspace", "dvc checkout")
