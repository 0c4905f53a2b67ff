"""`fcsynth diff` between DVC experiments (`dvc exp run`) of a small handmade dataset."""

from __future__ import annotations

import pytest

from fcsynth.diff.compare import diff_revs

from helpers.diff_repo import VERSION_A, git_commit, sh

MAKE_DATASET = '''
import json, sys, yaml
from pathlib import Path
sys.path.insert(0, ".")
from records import VERSION
n = yaml.safe_load(open("params.yaml"))["n"]
out = Path("data/dataset"); out.mkdir(parents=True, exist_ok=True)
(out / "train.jsonl").write_text("".join(json.dumps(r) + "\\n" for r in VERSION[: n - 1]))
(out / "test.jsonl").write_text(json.dumps(VERSION[n - 1]) + "\\n")
Path("metrics").mkdir(exist_ok=True)
Path("metrics/curate.json").write_text(json.dumps({"acceptance_rate": n / 10}))
'''


@pytest.mark.slow
def test_diff_between_experiments(tmp_path):
    """`dvc exp run -S n=2 -n small` then `fcsynth diff HEAD small`: experiment names resolve through dvc.api."""
    root = tmp_path
    sh(root, "git", "init", "-q")
    sh(root, "dvc", "init", "-q")
    (root / "records.py").write_text("VERSION = " + repr(VERSION_A) + "\n")
    (root / "make_dataset.py").write_text(MAKE_DATASET)
    (root / "params.yaml").write_text("n: 4\n")
    (root / "dvc.yaml").write_text(
        "stages:\n  export:\n    cmd: python make_dataset.py\n    deps: [make_dataset.py, records.py]\n"
        "    params: [n]\n    outs: [data/dataset]\n    metrics:\n      - metrics/curate.json:\n          cache: false\n"
    )
    sh(root, "dvc", "repro", "-q")
    git_commit(root, "baseline")
    sh(root, "dvc", "exp", "run", "-q", "-S", "n=2", "-n", "small")
    report = diff_revs("HEAD", "small", root)
    assert report["conversations"]["removed"] == ["c3", "c4"]
    assert report["acceptance_rate"] == {"a": 0.4, "b": 0.2, "delta": -0.2}
    assert report["b"]["splits"] == {"test": 1, "train": 1}
    # `dvc exp run` leaves the experiment's result in the workspace.
    assert diff_revs("small", "workspace", root)["conversations"]["unchanged"] == 2
