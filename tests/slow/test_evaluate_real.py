"""The evaluate stage on the real embedded model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from fcsynth.checkpoint import Checkpoint
from fcsynth.evaluate.run import evaluate, write_steps

from helpers.eval_records import fabricated_split
from helpers.fabricate import conf_section


@pytest.mark.slow
def test_real_embedded_model(vllm_engine: Any, tmp_path: Path) -> None:
    result = evaluate(
        fabricated_split(), lambda: vllm_engine, vllm_engine.tokenizer,
        conf_section("evaluate", max_tokens=48, temperature=0.0), seed=1234,
        checkpoint=Checkpoint("evaluate", "real", tmp_path), max_model_len=4096,
    )
    overall = result.summary["overall"]
    assert overall["steps"] == 7 and result.generated == 7
    for key in ("exact_match", "function_call_match", "tool_name_accuracy", "argument_f1",
                "no_call_accuracy", "step_accuracy"):
        assert 0.0 <= overall[key] <= 1.0, key
    assert overall["prompt_tokens"] > 7 * 100 and 0 < overall["completion_tokens"] <= 7 * 48
    write_steps(result.rows, tmp_path / "steps.parquet")
    table = pl.read_parquet(tmp_path / "steps.parquet")
    assert table.height == 7 and table["prediction"].str.len_chars().sum() > 0
    assert len(Checkpoint("evaluate", "real", tmp_path).rows) == 7
