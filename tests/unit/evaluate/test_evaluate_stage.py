"""The evaluate stage script on a temp project (fake backend), its one-line errors, and the model it evaluates."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from fcsynth.errors import FcsynthError
from fcsynth.stage_cmd import stage_command

from helpers.eval_records import fabricated_split

# --- the stage script ----------------------------------------------------------------

def _project(tmp_path: Path, repo_root: Path, records: list[dict] | None, tuned: bool = True) -> dict[str, str]:
    params = yaml.safe_load((repo_root / "params.yaml").read_text())
    params["llm"]["backend"] = "fake"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    if tuned:  # what `train` leaves (the fake backend loads no weights)
        folder = tmp_path / "data" / "models" / f"{params['model']['name']}-sft"
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
    if records is not None:
        (tmp_path / "data" / "dataset").mkdir(parents=True)
        (tmp_path / "data" / "dataset" / "test.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in records)
        )
    return {**os.environ, "FCSYNTH_ROOT": str(tmp_path)}


def test_stage_writes_steps_and_metrics(tmp_path: Path, repo_root: Path) -> None:
    env = _project(tmp_path, repo_root, fabricated_split())
    proc = subprocess.run(stage_command("evaluate", repo_root, tmp_path / "params.yaml"),
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "metrics" / "evaluate.json").read_text())
    assert metrics["stage"] == "evaluate" and metrics["records_in"] == 2 and metrics["records_out"] == 14
    for block in ("base", "tuned"):
        assert metrics[block]["text_steps"] == 4
        # The fake backend answers text: right on text steps, wrong on call steps.
        assert metrics[block]["no_call_accuracy"] == 1.0 and metrics[block]["exact_match"] == 0.0
        assert set(metrics["by_selection"][block]) == {"gmail", "gmail+googlecalendar"}
    assert metrics["delta"]["function_call_match"] == 0.0 and metrics["delta"]["no_call_accuracy"] == 0.0
    assert metrics["models"]["base"]["name"] == "smollm2-135m-instruct"
    assert metrics["models"]["tuned"] == {"name": "smollm2-135m-instruct-sft", "path": "data/models/smollm2-135m-instruct-sft",
                                          "prompt_style": "hermes_default", "generated": 7}
    steps = pl.read_parquet(tmp_path / "data" / "evaluate" / "steps.parquet")
    assert steps["model"].value_counts().sort("model").rows() == [("base", 7), ("tuned", 7)]
    plot = (tmp_path / "metrics" / "plots" / "evaluate.csv").read_text().splitlines()
    assert plot[0] == "figure,score" and "exact_match (base),0.0" in plot and "no_call_accuracy (tuned),1.0" in plot
    card = (tmp_path / "data" / "dataset" / "EVALUATION.md").read_text()
    assert "| no_call_accuracy | 1.0 | 1.0 | +0 |" in card and "`smollm2-135m-instruct-sft`" in card
    # BFCL next to the split: every category, scored for both models; text answers are right
    # only where no call is wanted (irrelevance)
    bfcl = metrics["bfcl"]
    conf = yaml.safe_load((repo_root / "params.yaml").read_text())["evaluate"]["bfcl"]
    sizes = {c: conf["category_sizes"].get(c, conf["per_category"]) for c in conf["categories"]}
    assert sizes["multi_turn_base"] < sizes["simple_python"]  # category_sizes replaces per_category
    for block in (bfcl["base"], bfcl["tuned"]):
        assert {c: v["accuracy"] for c, v in block["categories"].items()} == {
            "simple_python": 0.0, "multiple": 0.0, "parallel": 0.0, "parallel_multiple": 0.0,
            "irrelevance": 1.0, "multi_turn_base": 0.0}
        assert {c: v["entries"] for c, v in block["categories"].items()} == sizes and block["overall"] == round(1 / 6, 4)
    table = pl.read_parquet(tmp_path / "data" / "evaluate" / "bfcl.parquet")
    assert table.height == 2 * sum(sizes.values()) and set(table["model"]) == {"base", "tuned"}
    assert "irrelevance,tuned,1.0" in (tmp_path / "metrics" / "plots" / "bfcl.csv").read_text().splitlines()
    assert "## BFCL v4" in card and "| irrelevance | " in card


def test_stage_without_tuned_model_is_one_line_error(tmp_path: Path, repo_root: Path) -> None:
    env = _project(tmp_path, repo_root, fabricated_split(), tuned=False)
    proc = subprocess.run(stage_command("evaluate", repo_root, tmp_path / "params.yaml"),
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "no tuned model (run `dvc repro train`)" in proc.stderr
    assert not (tmp_path / "metrics" / "evaluate.json").exists()


def test_stage_missing_split_is_one_line_error(tmp_path: Path, repo_root: Path) -> None:
    env = _project(tmp_path, repo_root, None)
    proc = subprocess.run(stage_command("evaluate", repo_root, tmp_path / "params.yaml"),
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "test.jsonl: not found" in proc.stderr


# --- the model to evaluate ----------------------------------------------------------

def test_resolve_eval_model(repo_root: Path, tmp_path: Path) -> None:
    from fcsynth.config import parse_config
    from fcsynth.model_store import resolve_eval_model

    params = yaml.safe_load((repo_root / "params.yaml").read_text())

    def with_model(value: Any):
        return resolve_eval_model(parse_config({**params, "evaluate": {**params["evaluate"], "model": value}}))

    assert with_model(None).name == params["model"]["name"]
    hub = with_model("HuggingFaceTB/SmolLM2-360M-Instruct")
    assert (hub.source, hub.path, hub.name) == ("hub", "HuggingFaceTB/SmolLM2-360M-Instruct", "SmolLM2-360M-Instruct")
    local = with_model(str(tmp_path))
    assert local.source == "local" and local.path == str(tmp_path)
    full = with_model({**params["model"], "name": "other", "path": "data/models/other", "max_model_len": 1024})
    assert (full.name, full.max_model_len) == ("other", 1024)
    with pytest.raises(FcsynthError, match="evaluate.model"):
        with_model(3)
