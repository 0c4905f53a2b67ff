"""The judge stage on the real embedded model."""

from __future__ import annotations

import json

import pytest

from fcsynth.config import load_params
from fcsynth.judge import DIMENSIONS

from helpers.fabricate import conversation_row, system_prompt_row
from helpers.judge_run import run_judge
from helpers.paths import REPO


@pytest.fixture()
def cfg():
    return load_params(REPO / "params.yaml")


@pytest.mark.slow
def test_real_judge_on_embedded_model(vllm_engine, cfg, tmp_path):
    rows = [conversation_row("gmail", 0), conversation_row("googlecalendar", 1), conversation_row("gmail+googlecalendar", 2, thinking=True)]
    sps = [system_prompt_row(r["id"]) for r in rows]
    small = cfg.model_copy(update={"judge": cfg.judge.model_copy(update={"max_tokens": 256, "max_reasoning_chars": 200})})
    judged, metrics = run_judge(small, rows, sps, tmp_path, vllm_engine)
    ok = [r for r in judged if r["judge_status"] == "ok"]
    assert len(ok) >= 2, [r["judge_raw"] for r in judged]
    for r in ok:
        scores = json.loads(r["scores"])
        assert set(scores) == set(DIMENSIONS) and all(1 <= v <= 5 for v in scores.values())
        assert r["judge_reasoning"]
    assert metrics.as_dict()["tokens"]["completion_tokens"] > 0
