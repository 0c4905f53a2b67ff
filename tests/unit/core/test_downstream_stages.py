"""judge -> curate -> export -> report as DVC runs them (stage scripts, fake backend, a temp project)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import polars as pl
import yaml

from fcsynth.stage_cmd import stage_command

from helpers.fabricate import conversation_row, system_prompt_row
from helpers.paths import REPO

SELECTIONS = ("gmail", "googlecalendar", "gmail+googlecalendar")


def run_stage(project: Path, name: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FCSYNTH_ROOT": str(project)}
    return subprocess.run(stage_command(name, REPO, project / "params.yaml"), cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)


def test_stage_scripts_end_to_end(tmp_path):
    project = tmp_path / "proj"
    (project / "data").mkdir(parents=True)
    shutil.copytree(REPO / "prompts", project / "prompts")
    shutil.copy(REPO / "dvc.yaml", project / "dvc.yaml")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["llm"]["backend"] = "fake"
    params["curate"]["thresholds"] = {"tool_use_quality": 1}  # the fake judge answers 1 everywhere
    params["export"]["test_fraction"] = 0.34  # floor(0.34 * 9) = 3: one per selection
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    conv = [conversation_row(s, k) for s in SELECTIONS for k in range(3)] + [conversation_row("gmail", 9, status="truncated")]
    pl.DataFrame(conv).write_parquet(project / "data" / "conversations.parquet")
    pl.DataFrame([system_prompt_row(r["id"], drop=r["id"].endswith("2")) for r in conv if r["status"] == "ok"]).write_parquet(
        project / "data" / "system_prompts.parquet")

    for stage in ("judge", "curate", "export", "report"):
        res = run_stage(project, stage)
        assert res.returncode == 0, f"{stage}: {res.stderr[-3000:]}"

    judged = pl.read_parquet(project / "data" / "judged.parquet")
    assert judged["id"].to_list() == sorted(r["id"] for r in conv)
    assert judged["judge_status"].value_counts().sort("judge_status").rows() == [("ok", 9), ("upstream_failed", 1)]
    curated = pl.read_parquet(project / "data" / "curated.parquet")
    assert curated.columns == judged.columns and curated.height == 9

    ds = project / "data" / "dataset"
    train = [json.loads(x) for x in (ds / "train.jsonl").read_text().splitlines()]
    test = [json.loads(x) for x in (ds / "test.jsonl").read_text().splitlines()]
    assert len(train) == 6 and len(test) == 3 and {r["selection"] for r in test} == set(SELECTIONS)
    dropped = [r for r in train + test if r["id"].endswith("2")]
    assert all(r["messages"][0]["role"] == "user" for r in dropped)
    assert all(r["messages"][0]["role"] == "system" for r in train + test if not r["id"].endswith("2"))
    assert pl.read_parquet(ds / "train.parquet").height == 6
    assert "configs:" in (ds / "README.md").read_text()

    metrics = {s: json.loads((project / "metrics" / f"{s}.json").read_text()) for s in ("judge", "curate", "export", "report")}
    assert metrics["judge"]["rejected"]["upstream_failed"] == 1 and metrics["judge"]["judge_model"]
    assert metrics["curate"]["rejected"]["upstream_truncated"] == 1 and metrics["curate"]["records_out"] == 9
    assert metrics["export"]["splits"]["test"]["records"] == 3 and metrics["export"]["test_lacks"] == []
    assert metrics["report"]["records_out"] == 10
    assert (project / "data" / "report" / "index.html").stat().st_size == metrics["report"]["page_bytes"]
    for name in ("scores", "acceptance", "rejections", "turns", "tool_calls"):
        assert (project / "metrics" / "plots" / f"{name}.csv").exists()

    # a rerun of judge reuses every checkpointed answer (the fake backend would answer the same,
    # so check the checkpoint instead: one line per judged conversation, none appended)
    cp = next((project / "data" / "checkpoints" / "judge").glob("*.jsonl"))
    lines = cp.read_bytes()
    assert run_stage(project, "judge").returncode == 0 and cp.read_bytes() == lines

    # `dvc metrics show` answers the curation figures
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=project, check=True)
    shown = subprocess.run(["dvc", "metrics", "show", "--json"], cwd=project, capture_output=True, text=True, check=True)
    data = json.loads(shown.stdout)
    cur = next(iter(data.values()))["data"]["metrics/curate.json"]["data"]  # the workspace rev
    assert cur["acceptance_rate"] == 0.9 and cur["rejected"]["near_duplicate"] == 0
    assert cur["per_selection"]["gmail"]["acceptance_rate"] == 0.75


def test_missing_input_is_one_line_error(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    shutil.copy(REPO / "params.yaml", project / "params.yaml")
    res = run_stage(project, "curate")
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [f"fcsynth curate: error: {project}/data/judged.parquet: not found (run `dvc repro judge`)"]
