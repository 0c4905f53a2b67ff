"""A damaged or foreign upstream table, through the stage scripts as users run them: one line
naming the file and the stage to rerun, exit status 1, never the "unexpected error" form."""

from __future__ import annotations

import polars as pl
import pytest

from fcsynth.chat.record import RECORD_INPUT_COLUMNS
from fcsynth.curate import curate
from fcsynth.curate.decide import DECISION_COLUMNS, JUDGED_COLUMNS
from fcsynth.errors import DEBUG_HINT, FcsynthError
from fcsynth.generation import conversations
from fcsynth.generation.blueprints import BlueprintTask
from fcsynth.generation.scenarios import ScenarioTask
from fcsynth.generation.system_prompts import SystemPromptTask
from fcsynth.judge import JudgeTask
from fcsynth.report.page import JUDGED_COLUMNS as REPORT_JUDGED_COLUMNS
from fcsynth.tables import read_rows
from fcsynth.tools import CATALOG_COLUMNS, CATALOG_REQUIRED

from helpers.fabricate import conversation_row, good_scores, judged_row, system_prompt_row
from helpers.stage_project import one_line, stage, stage_project, write


def check_one_line(proc, name: str, *needles: str) -> str:
    assert proc.returncode == 1, proc.stderr
    line = one_line(proc.stderr, *needles, prefix=f"fcsynth {name}: error: ")
    assert DEBUG_HINT not in line and "--debug" not in line
    return line


def truncated(path):
    data = path.read_bytes()
    write(path, data[: len(data) // 2])


# ---------------------------------------------------------------- tools.parquet

@pytest.mark.parametrize(("name", "damage"), [
    ("blueprints", truncated),
    ("conversations", lambda p: write(p, bytes(range(256)) * 4)),
    ("scenarios", lambda p: write(p, b"")),
])
def test_a_damaged_catalog_names_itself_and_the_catalog_stage(tmp_path, name, damage):
    project = stage_project(tmp_path)
    catalog = project / "data" / "catalog" / "tools.parquet"
    damage(catalog)
    proc = stage(project, name)
    check_one_line(proc, name, f"{catalog}: not a readable Parquet file (", "rerun the stage that writes it (`dvc repro catalog`)")


def test_a_catalog_without_parameters_or_with_bad_json_names_itself(tmp_path):
    project = stage_project(tmp_path)
    catalog = project / "data" / "catalog" / "tools.parquet"
    good = pl.read_parquet(catalog)
    good.drop("parameters").write_parquet(catalog)
    check_one_line(stage(project, "scenarios"), "scenarios", f"{catalog}: missing column(s) 'parameters'", "`dvc repro catalog`")
    good.with_columns(parameters=pl.lit("{not json")).write_parquet(catalog)
    check_one_line(stage(project, "scenarios"), "scenarios", f"{catalog}: tool 'gmail_op0': `parameters` is not JSON text",
                   "`dvc repro catalog`")


# ---------------------------------------------------------------- tables of the later stages

def downstream_project(tmp_path):
    """A project with fabricated conversations, system prompts, judged rows and decisions."""
    project = stage_project(tmp_path)
    data = project / "data"
    conv = [conversation_row(s, k) for s in ("gmail", "googlecalendar") for k in range(2)]
    pl.DataFrame(conv).write_parquet(data / "conversations.parquet")
    pl.DataFrame([system_prompt_row(r["id"]) for r in conv]).write_parquet(data / "system_prompts.parquet")
    judged = [judged_row(r, good_scores()) for r in conv]
    pl.DataFrame(judged).write_parquet(data / "judged.parquet")
    pl.DataFrame(judged).write_parquet(data / "curated.parquet")
    _, decisions, _ = curate(judged, _curate_cfg())
    pl.DataFrame(decisions).write_parquet(data / "curation.parquet")
    return project


def _curate_cfg():
    from fcsynth.config import conf_defaults

    return conf_defaults().curate


@pytest.mark.parametrize(("name", "table", "column", "writer"), [
    ("system_prompts", "conversations", "status", "conversations"),
    ("judge", "conversations", "status", "conversations"),
    ("judge", "system_prompts", "id", "system_prompts"),
    ("curate", "judged", "judge_status", "judge"),
    ("export", "curated", "messages", "curate"),
    ("report", "curation", "accepted", "curate"),
])
def test_a_table_missing_a_column_names_the_file_and_the_column(tmp_path, name, table, column, writer):
    project = downstream_project(tmp_path)
    path = project / "data" / f"{table}.parquet"
    pl.read_parquet(path).drop(column).write_parquet(path)
    proc = stage(project, name)
    check_one_line(proc, name, f"{path}: missing column(s) '{column}'", f"rerun the stage that writes it (`dvc repro {writer}`)")


@pytest.mark.parametrize(("name", "table", "writer"), [
    ("judge", "conversations", "conversations"),
    ("curate", "judged", "judge"),
    ("report", "curation", "curate"),
])
def test_a_truncated_table_names_the_file(tmp_path, name, table, writer):
    project = downstream_project(tmp_path)
    path = project / "data" / f"{table}.parquet"
    truncated(path)
    check_one_line(stage(project, name), name, f"{path}: not a readable Parquet file (", f"`dvc repro {writer}`")


def test_a_damaged_previous_scenarios_table_says_to_remove_it(tmp_path):
    project = stage_project(tmp_path)
    out = write(project / "data" / "scenarios.parquet", b"PAR1 garbage")
    check_one_line(stage(project, "scenarios"), "scenarios", f"{out}: not a readable Parquet file (",
                   "remove it to generate the scenarios afresh")


# ---------------------------------------------------------------- the helper, and one source of truth

def test_read_rows_checks_columns_only_where_there_are_rows(tmp_path):
    path = tmp_path / "t.parquet"
    pl.DataFrame({"id": []}, schema={"id": pl.String}).write_parquet(path)
    assert read_rows(path, "x", ("id", "status")) == []
    pl.DataFrame({"id": ["a"], "n": [1]}).write_parquet(path)
    with pytest.raises(FcsynthError, match=r"t.parquet: missing column\(s\) 'status', 'reason' .*`dvc repro x`"):
        read_rows(path, "x", ("id", "status", "reason"))
    assert read_rows(path, "x", ("id",)) == [{"id": "a", "n": 1}]


def test_required_columns_are_columns_their_upstream_stage_declares():
    conv = conversations.schema()
    judged = JudgeTask.schema(conv)
    for needed, upstream in (
        (ScenarioTask.inputs, ScenarioTask.schema()),
        (BlueprintTask.inputs, ScenarioTask.schema()),
        (conversations.BLUEPRINT_COLUMNS, BlueprintTask.schema()),
        (SystemPromptTask.inputs, conv),
        (JudgeTask.inputs, conv),
        (JudgeTask.system_prompt_inputs, SystemPromptTask.schema()),
        (JUDGED_COLUMNS, judged),
        (RECORD_INPUT_COLUMNS, judged),
        (REPORT_JUDGED_COLUMNS, judged),
        (CATALOG_REQUIRED, CATALOG_COLUMNS),
    ):
        assert set(needed) <= set(upstream), set(needed) - set(upstream)
    rows = [judged_row(conversation_row("gmail", k), good_scores()) for k in range(2)]
    _, decisions, _ = curate(rows, _curate_cfg())
    assert all(list(d) == list(DECISION_COLUMNS) for d in decisions)  # what curate writes to curation.parquet
