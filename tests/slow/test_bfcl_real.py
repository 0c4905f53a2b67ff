"""BFCL in the evaluate stage for real: a tiny run on the embedded model."""

from __future__ import annotations

import pytest

from fcsynth.bfcl.evaluate import evaluate_bfcl
from fcsynth.bfcl.run import summarize
from fcsynth.bfcl.suite import CATEGORIES
from fcsynth.checkpoint import Checkpoint
from fcsynth.config import conf_defaults


@pytest.mark.slow
def test_real_tiny_bfcl_run_on_the_embedded_model(vllm_engine):
    cfg = conf_defaults()
    cfg = cfg.model_copy(update={"evaluate": cfg.evaluate.model_copy(update={
        "bfcl": cfg.evaluate.bfcl.model_copy(update={"per_category": 2, "category_sizes": {}, "max_steps_per_turn": 2})})})
    rows = evaluate_bfcl(cfg, lambda: vllm_engine, vllm_engine.tokenizer,
                         Checkpoint("evaluate", "real", directory=None), 4096, "base")
    summary = summarize(rows, list(CATEGORIES))
    assert len(rows) == 2 * len(CATEGORIES)
    per = summary["categories"]
    assert set(per) == set(CATEGORIES) and all(v["entries"] == 2 for v in per.values())
    for v in per.values():
        assert 0.0 <= v["accuracy"] <= 1.0 and v["correct"] + v["skipped_too_long"] <= v["entries"]
    assert summary["overall"] == pytest.approx(sum(v["accuracy"] for v in per.values()) / len(per), abs=1e-3)
    assert all(r["prediction"] or r["status"] != "ok" for r in rows)
