"""The merged catalog, toolkit selection, the `catalog` stage and `fcsynth import`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from fcsynth.catalog.build import build_catalog, import_records, import_source
from fcsynth.catalog.graph import KINDS
from fcsynth.catalog.schema_validity import schema_error
from fcsynth.catalog.selection import select
from fcsynth.catalog.tools_file import read_tools_file
from fcsynth.cli import app
from fcsynth.config import ToolkitsConfig, ToolSource
from fcsynth.errors import FcsynthError
from fcsynth.stage_cmd import stage_command
from fcsynth.tools import TOOL_NAME_RE, Tool, read_catalog

from helpers.fabricate import conf_section
from helpers.paths import REPO

BUILTIN = REPO / "data" / "builtin_tools"

SPEC = """
swagger: "2.0"
info: {title: Notes, version: "1"}
paths:
  /notes/{id}:
    post:
      operationId: addNote
      parameters:
        - {name: id, in: path, required: true, type: string}
        - {name: text, in: formData, type: string, required: true}
      responses: {"200": {description: ok, schema: {type: object, properties: {ok: {type: boolean}}}}}
    delete:
      operationId: deleteNote
      parameters:
        - {name: id, in: path, required: true, type: string}
      responses: {"204": {description: gone}}
"""

KIT = [
    {"toolkit": "kit", "name": "addNote", "description": "Built-in note adder.",
     "parameters": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}},
    {"toolkit": "kit", "name": "listNotes", "description": "List notes.", "parameters": {"type": "object", "properties": {}},
     "response": {"type": "array", "items": {"type": "string"}}},
]


def _project(tmp_path: Path, catalog: dict, toolkits: dict) -> Path:
    """A minimal project: the repo's params.yaml with its catalog/toolkits replaced."""
    (tmp_path / "data" / "builtin_tools").mkdir(parents=True)
    (tmp_path / "data" / "sources").mkdir()
    (tmp_path / "data" / "builtin_tools" / "kit.json").write_text(json.dumps(KIT))
    (tmp_path / "data" / "sources" / "notes.yaml").write_text(SPEC)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["catalog"] = {**params["catalog"], **catalog}
    params["toolkits"] = toolkits
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


def _stage_main():
    sys.path.insert(0, str(REPO / "stages"))
    try:
        import catalog as stage  # stages/catalog.py
    finally:
        sys.path.pop(0)
    return stage.main


def test_builtin_catalog_passes_the_same_validation() -> None:
    files = sorted(BUILTIN.glob("*.json"))
    if not files:
        pytest.skip("data/builtin_tools/ has no toolkit files yet")
    defaults = conf_section("catalog")
    for path in files:
        result = import_records(path, budget_tokens=defaults.prompt_budget_tokens, oversize=defaults.oversize)
        assert not result.skipped and not result.flagged, (path.name, result.summary())
        assert [t.to_record() | {"source": ""} for t in result.tools] == [
            t.to_record() | {"source": ""} for t in read_tools_file(path)
        ], f"{path.name}: normalization changed a built-in tool"
        for tool in result.tools:
            assert TOOL_NAME_RE.match(tool.name) and schema_error(tool.parameters) is None
            assert tool.response is None or schema_error(tool.response) is None


def test_build_merges_sources_and_renames_across_them(tmp_path: Path) -> None:
    root = _project(tmp_path, {}, {"toolkits": ["kit"]})
    cfg = conf_section("catalog", sources=[ToolSource(format="openapi", path="data/sources/notes.yaml", toolkit="kit"),
                                 ToolSource(format="openapi", path="data/sources/notes.yaml", toolkit="notes")])
    build = build_catalog(cfg, root)
    names = sorted((t.toolkit, t.name) for t in build.result.tools)
    assert names == [("kit", "addNote"), ("kit", "addNote_2"), ("kit", "deleteNote"), ("kit", "listNotes"),
                     ("notes", "addNote"), ("notes", "deleteNote")]
    assert build.result.flagged["renamed_collision"] == 1
    assert build.sources[1] == {"format": "openapi", "path": "data/sources/notes.yaml", "toolkit": "kit",
                                "entries": 2, "tools": 2, "skipped": 0, "skipped_by_reason": {}, "flagged_by_reason": {}}
    assert {t.source for t in build.result.tools} == {"data/builtin_tools/kit.json", "data/sources/notes.yaml"}
    assert build.untracked == []


def test_build_errors_are_one_line(tmp_path: Path) -> None:
    root = _project(tmp_path, {}, {"toolkits": ["kit"]})
    with pytest.raises(FcsynthError, match=r"catalog.sources: .*missing.yaml: not found"):
        build_catalog(conf_section("catalog", sources=[ToolSource(format="mcp", path="missing.yaml")]), root)
    with pytest.raises(FcsynthError, match="no tools to import"):
        build_catalog(conf_section("catalog", builtin=False), root)
    with pytest.raises(FcsynthError, match="no built-in toolkit files"):
        build_catalog(conf_section("catalog"), tmp_path / "data")
    with pytest.raises(FcsynthError, match="toolkit name"):
        import_source("openapi", str(root / "data/sources/notes.yaml"), toolkit="a+b")


def test_select_toolkits_and_bundles() -> None:
    tools = [Tool(toolkit=k, name=n, description="", parameters={"type": "object"}) for k, n in
             [("gmail", "send"), ("gmail", "list"), ("jira", "create"), ("asana", "task")]]
    selections = select(tools, _toolkits(toolkits=["gmail", "asana"], bundles=[["jira", "gmail"]], weights={"jira+gmail": 2.0}))
    assert list(selections) == ["gmail", "asana", "jira+gmail"]
    assert [t.name for t in selections["jira+gmail"]] == ["create", "send", "list"]
    with pytest.raises(FcsynthError) as err:
        select(tools, _toolkits(toolkits=["gmail"], bundles=[["jira", "slack"]]))
    assert str(err.value) == "toolkits.bundles[0]: unknown toolkit 'slack' (the catalog has: asana, gmail, jira)"
    with pytest.raises(FcsynthError, match="toolkits.weights: 'gmail\\+asana' is not a selection"):
        select(tools, _toolkits(toolkits=["gmail"], weights={"gmail+asana": 1.0}))


def test_catalog_stage_writes_parquet_and_metrics(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        {"sources": [{"format": "openapi", "path": "data/sources/notes.yaml", "toolkit": "notes"}], "prompt_budget_tokens": 60},
        {"toolkits": ["kit", "notes"], "bundles": [["kit", "notes"]], "weights": {}},
    )
    _stage_main()(root / "data" / "catalog" / "tools.parquet", root / "data" / "catalog" / "graph.parquet", root)
    tools = read_catalog(root / "data" / "catalog" / "tools.parquet")
    assert [(t.toolkit, t.name) for t in tools] == [("kit", "addNote"), ("kit", "listNotes"), ("notes", "deleteNote")]
    assert tools[1].response == {"type": "array", "items": {"type": "string"}}
    metrics = json.loads((root / "metrics" / "catalog.json").read_text())
    assert metrics["records_in"] == 4 and metrics["records_out"] == 3
    assert metrics["tools_per_toolkit"] == {"kit": 2, "notes": 1}
    # trim is the default; at 60 tokens even the required parameters of POST /notes/{id} do not fit
    assert metrics["rejected"] == {"oversize_untrimmable": 1} and metrics["flagged_oversize"] == 1
    assert metrics["skipped"]["oversize_untrimmable"]["examples"][0].startswith("notes/POST /notes/{id}")
    assert metrics["selections"] == {"kit": 2, "notes": 1, "kit+notes": 3}
    graph = pl.read_parquet(root / "data" / "catalog" / "graph.parquet")
    assert graph.columns == ["id", "toolkit", "source", "target_toolkit", "target", "kind", "via"]
    assert set(metrics["graph"]) == {"kit", "notes"} and metrics["graph"]["kit"]["tools"] == 2
    assert sum(v[kind] for v in metrics["graph"].values() for kind in KINDS) == graph.height


def test_catalog_stage_unknown_toolkit_is_a_one_line_error(tmp_path: Path) -> None:
    root = _project(tmp_path, {}, {"toolkits": ["kit", "gmial"], "bundles": [], "weights": {}})
    proc = subprocess.run(
        stage_command("catalog", REPO, root / "params.yaml"), cwd=root, capture_output=True, text=True,
        env={**os.environ, "FCSYNTH_ROOT": str(root)}, timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == "fcsynth catalog: error: toolkits.toolkits: unknown toolkit 'gmial' (the catalog has: kit)"
    assert not (root / "data" / "catalog" / "tools.parquet").exists()


@pytest.mark.parametrize(
    ("fmt", "payload", "expected"),
    [
        ("openapi", SPEC, ["addNote", "deleteNote"]),
        ("mcp", json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"tools": [{"name": "ping", "inputSchema": {"type": "object"}}]}}), ["ping"]),
        ("openai", json.dumps([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]), ["f"]),
        ("funcdex", json.dumps([{"toolkit_name": "x", "tool_id": "T", "tool_input_parameters": "{}"}]), ["T"]),
    ],
)
def test_cli_import_writes_catalog_records(tmp_path: Path, fmt: str, payload: str, expected: list[str]) -> None:
    source = tmp_path / ("in.yaml" if fmt == "openapi" else "in.json")
    source.write_text(payload)
    out = tmp_path / "out" / "tools.json"
    run = CliRunner().invoke(app, ["import", fmt, str(source), "--toolkit", "mine", "--out", str(out)])
    assert run.exit_code == 0, run.output
    noun = "operations" if fmt == "openapi" else "entries"
    assert run.output.startswith(f"{len(expected)} of {len(expected)} {noun} became tools, 0 skipped (toolkit: mine)")
    records = json.loads(out.read_text())
    assert [r["name"] for r in records] == expected
    assert set(records[0]) == {"toolkit", "name", "description", "parameters", "response", "source", "operation"}
    assert [t.name for t in read_tools_file(out)] == expected
    assert [t.name for t in import_records(out).tools] == expected  # usable as a `catalog` source


def test_cli_import_reports_skips_by_reason(tmp_path: Path) -> None:
    source = tmp_path / "notes.yaml"
    source.write_text(SPEC)
    out = tmp_path / "tools.json"
    run = CliRunner().invoke(app, ["import", "openapi", str(source), "--out", str(out), "--prompt-budget-tokens", "60", "--oversize", "skip"])
    assert run.exit_code == 0, run.output
    assert "1 of 2 operations became tools, 1 skipped (toolkit: notes)" in run.output
    assert "skipped oversize: 1  e.g. notes/POST /notes/{id}" in run.output and "hint: --oversize trim" in run.output
    run = CliRunner().invoke(app, ["import", "openapi", str(source), "--out", str(out), "--prompt-budget-tokens", "60"])
    assert "skipped oversize_untrimmable: 1  e.g. notes/POST /notes/{id}" in run.output  # trim is the default
    run = CliRunner().invoke(app, ["import", "openapi", str(source), "--out", str(out), "--prompt-budget-tokens", "70"])
    assert "2 of 2 operations became tools" in run.output and "flagged oversize_trimmed: 1" in run.output
    assert json.loads(out.read_text())[0]["response"] is None  # the response schema went first


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("openapi: 3.0.0\npaths: {/x: [unclosed\n", "not valid JSON or YAML"),
        ("- just\n- a list\n", "not an OpenAPI 3.x or Swagger 2.0 document"),
    ],
)
def test_cli_bad_input_is_one_line_exit_1(tmp_path: Path, content: str | None, message: str) -> None:
    source = tmp_path / "spec.yaml"
    if content is not None:
        source.write_text(content)
    proc = subprocess.run(
        [sys.executable, "-m", "fcsynth.cli", "import", "openapi", str(source), "--out", str(tmp_path / "o.json")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"fcsynth: error: {source}") and message in lines[0]
    assert not (tmp_path / "o.json").exists()


def test_bundle_with_clashing_tool_names_gets_toolkit_prefixes():
    """asana and todoist both have create_task: a bundle of both keeps both, uniquely named."""
    from fcsynth.catalog.selection import select
    from fcsynth.tools import Tool

    params = {"type": "object", "properties": {}}
    tools = [Tool("asana", "create_task", "", params), Tool("todoist", "create_task", "", params), Tool("todoist", "close_task", "", params)]
    sel = select(tools, _toolkits(toolkits=["asana"], bundles=[["asana", "todoist"]]))
    assert [t.name for t in sel["asana"]] == ["create_task"]
    assert [t.name for t in sel["asana+todoist"]] == ["asana_create_task", "todoist_create_task", "close_task"]


def _toolkits(toolkits: list[str], bundles: list[list[str]] | None = None, weights: dict[str, float] | None = None):
    return ToolkitsConfig(toolkits=toolkits, bundles=bundles or [], weights=weights or {})
