"""Bad input to `fcsynth params` and the stage scripts on a temp project: one line on stderr, outputs kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl

from fcsynth.errors import DEBUG_ENV

from helpers.fabricate import conversation_row, system_prompt_row
from helpers.paths import REPO
from helpers.stage_project import jsonl, one_line, record, run_in, stage, stage_project, write

# ---------------------------------------------------------------- fcsynth params (a temp project)

def project_with_conf(tmp_path: Path) -> Path:
    project = tmp_path / "proj"
    shutil.copytree(REPO / "conf", project / "conf")
    shutil.copy(REPO / "params.yaml", project / "params.yaml")
    write(project / "dvc.yaml", "stages: {}\n")
    return project


def test_params_bad_override_and_bad_value_keep_params_yaml(tmp_path):
    project = project_with_conf(tmp_path)
    before = (project / "params.yaml").read_bytes()
    for override, needles in (("nosuchgroup=x", ("conf/", "nosuchgroup")),
                              ("scenarios.count=many", ("scenarios.count",)),
                              ("scenarios.nosuchkey=1", ("nosuchkey",))):
        proc = run_in(project, "-m", "fcsynth.cli", "params", override)
        assert proc.returncode == 1, proc.stderr
        one_line(proc.stderr, *needles)
        assert (project / "params.yaml").read_bytes() == before


def test_params_check_on_a_damaged_params_yaml(tmp_path):
    project = project_with_conf(tmp_path)
    write(project / "params.yaml", "scenarios: [unclosed\n")
    proc = run_in(project, "-m", "fcsynth.cli", "params", "--check")
    assert proc.returncode == 1
    one_line(proc.stderr, "params.yaml", "not valid YAML")


# ---------------------------------------------------------------- stage scripts (a temp project)


def test_scenarios_empty_selection_keeps_the_persisted_scenarios(tmp_path):
    project = stage_project(tmp_path, toolkits__toolkits=[], toolkits__bundles=[])
    out = project / "data" / "scenarios.parquet"
    pl.DataFrame({"id": ["gmail-0000"], "scenario": ["an accepted scenario"]}).write_parquet(out)
    before = out.read_bytes()
    proc = stage(project, "scenarios")
    assert proc.returncode == 1
    one_line(proc.stderr, "toolkits", prefix="fcsynth scenarios: error: ")
    assert out.read_bytes() == before
    assert not (project / "metrics" / "scenarios.json").exists()


def test_stage_with_damaged_params_yaml(tmp_path):
    project = stage_project(tmp_path)
    write(project / "params.yaml", "seed: 1\nscenarios: {count: [\n")
    proc = stage(project, "scenarios")
    assert proc.returncode == 1
    one_line(proc.stderr, "params.yaml", "not valid YAML", prefix="fcsynth scenarios: error: ")


def test_stage_with_a_damaged_input_table(tmp_path):
    project = stage_project(tmp_path)
    write(project / "data" / "scenarios.parquet", b"not parquet at all")
    proc = stage(project, "blueprints")
    assert proc.returncode == 1
    one_line(proc.stderr, "scenarios.parquet", "not a readable Parquet file", "dvc repro scenarios",
             prefix="fcsynth blueprints: error: ")
    assert not (project / "data" / "blueprints.parquet").exists()


def test_stage_debug_env_shows_traceback(tmp_path):
    project = stage_project(tmp_path)
    write(project / "data" / "scenarios.parquet", b"not parquet at all")
    proc = stage(project, "blueprints", env={DEBUG_ENV: "1"})
    assert proc.returncode == 1 and "Traceback (most recent call last)" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("fcsynth blueprints: error: ")


def test_curate_that_accepts_nothing_and_export_of_nothing_keep_outputs(tmp_path):
    # the fake judge answers 1 everywhere: a threshold of 5 rejects every conversation
    project = stage_project(tmp_path, curate__thresholds={"tool_use_quality": 5})
    conv = [conversation_row(s, k) for s in ("gmail", "googlecalendar") for k in range(2)]
    pl.DataFrame(conv).write_parquet(project / "data" / "conversations.parquet")
    pl.DataFrame([system_prompt_row(r["id"]) for r in conv]).write_parquet(project / "data" / "system_prompts.parquet")
    assert stage(project, "judge").returncode == 0
    curated = write(project / "data" / "curated.parquet", b"previous curated table")
    decisions = write(project / "data" / "curation.parquet", b"previous decisions")
    proc = stage(project, "curate")
    assert proc.returncode == 1
    one_line(proc.stderr, "0 of 4 judged conversations accepted", "score_tool_use_quality: 4", "nothing written",
             prefix="fcsynth curate: error: ")
    assert curated.read_bytes() == b"previous curated table" and decisions.read_bytes() == b"previous decisions"

    # an empty curated table (as an older run could leave) exports nothing and keeps the dataset
    pl.DataFrame({"id": []}, schema={"id": pl.String}).write_parquet(project / "data" / "curated.parquet")
    train = write(project / "data" / "dataset" / "train.jsonl", jsonl(record("kept")))
    proc = stage(project, "export")
    assert proc.returncode == 1
    one_line(proc.stderr, "curated.parquet", "no curated conversations", prefix="fcsynth export: error: ")
    assert train.read_text() == jsonl(record("kept"))
