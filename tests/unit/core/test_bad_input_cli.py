"""Bad input to every entry point: one line on stderr naming the problem, non-zero exit, no
traceback (unless --debug / FCSYNTH_DEBUG=1), and outputs that already existed unchanged.

The CLI runs in-process through `fcsynth.cli.main` (what the console script calls); stage
scripts and `fcsynth params` run as subprocesses on a temp project (FCSYNTH_ROOT).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest

from fcsynth.errors import DEBUG_ENV
from fcsynth.tables import write_rows
from fcsynth.tools import Tool, write_catalog

from helpers.fabricate import conversation_row, system_prompt_row
from helpers.paths import REPO
from helpers.stage_project import PARAMS, fcsynth, jsonl, one_line, record, run_in, stage, stage_project, write

GOOD_TOOL = {"toolkit": "kit", "name": "search", "description": "Search.", "parameters": PARAMS}


# ---------------------------------------------------------------- fcsynth validate

@pytest.mark.parametrize(
    ("name", "content", "needles"),
    [
        ("empty.jsonl", b"", ("empty.jsonl", "no records")),
        ("blank.jsonl", b"\n  \n\n", ("blank.jsonl", "no records")),
        ("latin1.jsonl", "{\"id\": \"caf\xe9\"}\n".encode("latin-1"), ("latin1.jsonl", "not UTF-8", "0xe9")),
        ("broken.jsonl", jsonl(record("a")) + '{"id": "b", "messages": [\n', ("broken.jsonl:2", "not valid JSON")),
        ("garbage.parquet", b"PAR1 not really", ("garbage.parquet", "not a readable Parquet file")),
    ],
)
def test_validate_bad_files(monkeypatch, capsys, tmp_path, name, content, needles):
    path = write(tmp_path / name, content)
    code, _, err = fcsynth(monkeypatch, capsys, "validate", str(path))
    assert code == 1
    one_line(err, *needles)


def test_validate_directory_and_missing_file(monkeypatch, capsys, tmp_path):
    code, _, err = fcsynth(monkeypatch, capsys, "validate", str(tmp_path))
    assert code == 1
    one_line(err, str(tmp_path), "is a directory")
    code, _, err = fcsynth(monkeypatch, capsys, "validate", str(tmp_path / "nope.jsonl"))
    assert code == 1
    one_line(err, "nope.jsonl", "not found")


def test_validate_invalid_record_counts_and_fails(monkeypatch, capsys, tmp_path):
    bad = record("b", messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "",
                 "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "nosuch", "arguments": {}}}]}])
    path = write(tmp_path / "d.jsonl", jsonl(record("a"), bad))
    code, out, err = fcsynth(monkeypatch, capsys, "validate", str(path))
    assert code == 1
    assert "2 records, 1 valid, 1 invalid" in out and "unknown_tool" in out
    one_line(err, "d.jsonl", "1 of 2 records invalid")


# ---------------------------------------------------------------- fcsynth grammar

@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (b"\xff\xfe[]", ("not UTF-8", "0xff")),
        ('{"tools": []}', ("expected a JSON list of tool records",)),
        ("[1, 2]", ("[0]: not a tool record", "int")),
        (json.dumps([GOOD_TOOL, "search"]), ("[1]: not a tool record", "str")),
        (json.dumps([{"toolkit": "kit", "parameters": PARAMS}]), ("[0]: `name` is missing",)),
        (json.dumps([{**GOOD_TOOL, "parameters": "a string"}]), ("tool 'search'", "`parameters` must be a JSON Schema object", "str")),
        (json.dumps([{**GOOD_TOOL, "parameters": ["q"]}]), ("`parameters` must be a JSON Schema object", "list")),
        (json.dumps([{**GOOD_TOOL, "name": 7}]), ("`name` is missing or not a string",)),
        ("[]", ("no tools",)),
        ('[{"toolkit": "kit",', ("not valid JSON",)),
    ],
)
def test_grammar_bad_tools_files(monkeypatch, capsys, tmp_path, content, needles):
    path = write(tmp_path / "tools.json", content)
    code, out, err = fcsynth(monkeypatch, capsys, "grammar", str(path))
    assert code == 1 and out == ""
    one_line(err, "tools.json", *needles)


def test_grammar_directory(monkeypatch, capsys, tmp_path):
    code, _, err = fcsynth(monkeypatch, capsys, "grammar", str(tmp_path))
    assert code == 1
    one_line(err, "is a directory")


def test_grammar_good_file_still_prints_a_grammar(monkeypatch, capsys, tmp_path):
    path = write(tmp_path / "tools.json", json.dumps([GOOD_TOOL]))
    code, out, err = fcsynth(monkeypatch, capsys, "grammar", str(path))
    assert code == 0 and "search" in out and "Traceback" not in err


def test_usage_error_is_one_line_exit_2(monkeypatch, capsys, tmp_path):
    path = write(tmp_path / "tools.json", json.dumps([GOOD_TOOL]))
    code, _, err = fcsynth(monkeypatch, capsys, "grammar", str(path), "--max-calls", "many")
    assert code == 2
    one_line(err, "--max-calls", "integer", prefix="fcsynth grammar: error: ")
    code, _, err = fcsynth(monkeypatch, capsys, "validate")
    assert code == 2
    one_line(err, "Missing argument", prefix="fcsynth validate: error: ")


# ---------------------------------------------------------------- debug and the catch-all

def test_unexpected_exception_is_one_line_with_type_and_hint(monkeypatch, capsys, tmp_path):
    import fcsynth.dml.validate_file as validate

    def broken(path):
        raise RuntimeError("internal\nbug")

    monkeypatch.setattr(validate, "validate_file", broken)
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    code, _, err = fcsynth(monkeypatch, capsys, "validate", str(write(tmp_path / "d.jsonl", jsonl(record("a")))))
    assert code == 1
    one_line(err, "RuntimeError: internal bug", "--debug", f"{DEBUG_ENV}=1")


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_traceback_then_the_line(monkeypatch, capsys, tmp_path, how):
    args = ["validate", str(tmp_path)]
    if how == "flag":
        args.insert(0, "--debug")
    else:
        monkeypatch.setenv(DEBUG_ENV, "1")
    code, _, err = fcsynth(monkeypatch, capsys, *args)
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1] == f"fcsynth: error: {tmp_path}: is a directory, expected a file"


# ---------------------------------------------------------------- fcsynth diff

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


# ---------------------------------------------------------------- outputs already produced are kept

def test_write_rows_is_atomic_and_refuses_nothing(tmp_path, monkeypatch):
    from fcsynth.errors import FcsynthError

    out = tmp_path / "t.parquet"
    write_rows([{"id": "a", "x": 1}], out)
    before = out.read_bytes()
    with pytest.raises(FcsynthError, match=r"t\.parquet: the stage produced 0 rows, so nothing was written"):
        write_rows([], out)
    assert out.read_bytes() == before

    def crash(self, path, *args, **kwargs):  # a kill mid-write leaves half a file behind
        Path(path).write_bytes(b"PAR1 half")
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", crash)
    with pytest.raises(OSError, match="disk full"):
        write_rows([{"id": "b", "x": 2}], out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]  # no temp file left


def test_write_json_replaces_whole_file_only(tmp_path):
    from fcsynth.metrics import write_json

    out = write_json(tmp_path / "m" / "x.json", {"a": 1})
    with pytest.raises(TypeError):
        write_json(out, {"a": {1, 2}})  # not JSON-serializable: the old metrics stay
    assert json.loads(out.read_text()) == {"a": 1}
    write_json(out, {"b": 2})
    assert json.loads(out.read_text()) == {"b": 2} and [p.name for p in out.parent.iterdir()] == ["x.json"]


def scenario_ctx(tmp_path: Path, **overrides):
    from fcsynth.config import compose, parse_config
    from fcsynth.llm.context import StageContext
    from fcsynth.llm.fake_backend import FakeBackend

    def respond(request):  # a distinct scenario per slot, whatever the round
        slot = request.id.rsplit("-", 1)[0]
        topics = ["lease renewal", "newsletter cleanup", "recruiter reply", "invoice dispute", "team offsite"]
        return json.dumps({"scenario": f"The user needs help with the {topics[int(slot[-1]) % 5]} for {slot} this week."})

    cfg = parse_config(compose(["llm=fake", *[f"{k}={v}" for k, v in overrides.items()]]))
    ctx = StageContext(cfg, tmp_path)
    ctx.backend = FakeBackend(respond)
    return ctx


def test_scenarios_store_never_shrinks_on_a_lower_count(tmp_path):
    from fcsynth.generation.scenarios import ScenarioTask, active_rows

    tools = [Tool("mail", f"mail_op{i}", f"Operation {i}.", PARAMS) for i in range(4)]
    catalog = tmp_path / "tools.parquet"
    write_catalog(tools, catalog)
    sel = {"mail": tools}
    four, _ = ScenarioTask(sel, catalog).run(scenario_ctx(tmp_path / "a", **{"scenarios.count": 4}), [])
    assert [r["id"] for r in active_rows(four)] == [f"mail-000{k}" for k in range(4)]

    ctx = scenario_ctx(tmp_path / "b", **{"scenarios.count": 2})
    two, m = ScenarioTask(sel, catalog).run(ctx, four)
    assert len(two) == 4 and ctx.backend.calls == []  # nothing regenerated, nothing dropped
    assert [r["id"] for r in active_rows(two)] == ["mail-0000", "mail-0001"]
    assert m.as_dict()["kept_inactive"] == 2 and m.records_out == 2

    ctx = scenario_ctx(tmp_path / "c", **{"scenarios.count": 4})
    back, _ = ScenarioTask(sel, catalog).run(ctx, two)
    assert ctx.backend.calls == [] and back == four  # the stored scenarios come back as they were

    ctx = scenario_ctx(tmp_path / "d", **{"scenarios.count": 2, "scenarios.allow_shrink": "true"})
    shrunk, m = ScenarioTask(sel, catalog).run(ctx, four)
    assert [r["id"] for r in shrunk] == ["mail-0000", "mail-0001"] and m.as_dict()["dropped_from_previous_run"] == 2


def test_scenarios_changed_settings_keep_old_scenarios_inactive(tmp_path):
    from fcsynth.generation.scenarios import ScenarioTask, active_rows

    tools = [Tool("mail", f"mail_op{i}", f"Operation {i}.", PARAMS) for i in range(4)]
    catalog = tmp_path / "tools.parquet"
    write_catalog(tools, catalog)
    first, _ = ScenarioTask({"mail": tools}, catalog).run(scenario_ctx(tmp_path / "a", **{"scenarios.count": 2}), [])
    ctx = scenario_ctx(tmp_path / "b", **{"scenarios.count": 2, "scenarios.workflow_description": "'Sales follow-ups.'"})
    second, _ = ScenarioTask({"mail": tools}, catalog).run(ctx, first)
    assert len(second) == 4 and len(ctx.backend.calls) == 1
    active = active_rows(second)
    assert [r["id"] for r in active] == ["mail-0000", "mail-0001"]
    assert {r["fingerprint"] for r in active}.isdisjoint({r["fingerprint"] for r in first})
    assert [dict(r, active=True) for r in second if not r["active"]] == first
