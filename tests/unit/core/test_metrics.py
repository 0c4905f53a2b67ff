"""The metrics helper and the checkpoint store."""

from __future__ import annotations

import json

from fcsynth.checkpoint import Checkpoint, fingerprint
from fcsynth.metrics import StageMetrics


def test_stage_metrics_written(tmp_path):
    m = StageMetrics("scenarios", records_in=10, records_out=7)
    m.reject("duplicate", 2)
    m.reject("unparseable")
    m.tokens = {"prompt_tokens": 100, "completion_tokens": 50}
    m.extra["dedup_rate"] = 0.2
    path = m.write(tmp_path)
    data = json.loads(path.read_text())
    assert path.name == "scenarios.json"
    assert data["records_in"] == 10 and data["records_out"] == 7
    assert data["rejected"] == {"duplicate": 2, "unparseable": 1}
    assert data["tokens"]["completion_tokens"] == 50
    assert data["dedup_rate"] == 0.2
    assert data["wall_time_s"] >= 0


def test_checkpoint_resumes_and_survives_torn_line(tmp_path):
    key = fingerprint({"a": 1}, "template")
    cp = Checkpoint("demo", key, tmp_path)
    cp.add({"id": "r1", "text": "one"})
    cp.add({"id": "r2", "text": "two"})
    with open(cp.path, "a") as f:
        f.write('{"id": "r3", "te')  # killed mid-write
    again = Checkpoint("demo", key, tmp_path)
    assert set(again.rows) == {"r1", "r2"}
    assert again.missing(["r1", "r2", "r3"]) == ["r3"]
    again.add({"id": "r3", "text": "three"})
    assert set(Checkpoint("demo", key, tmp_path).rows) == {"r1", "r2", "r3"}


def test_checkpoint_key_changes_with_inputs(tmp_path):
    assert fingerprint({"t": 0.3}) != fingerprint({"t": 0.9})
    a = Checkpoint("demo", fingerprint(1), tmp_path)
    a.add({"id": "x"})
    b = Checkpoint("demo", fingerprint(2), tmp_path)
    assert "x" not in b
    b.clear_others()
    assert not a.path.exists()
