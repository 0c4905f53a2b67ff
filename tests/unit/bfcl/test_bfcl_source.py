"""BFCL's multi-turn APIs as a tool source (`format: bfcl`) and as the simulation's executable
tool environment (`fcsynth.bfcl.apis:BfclApis`), and `experiment=bfcl` wiring them up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fcsynth.bfcl.apis import MULTI_TURN_APIS, BfclApis, docs
from fcsynth.catalog.bfcl import import_bfcl
from fcsynth.catalog.build import build_catalog, import_source
from fcsynth.catalog.schema_validity import schema_error
from fcsynth.catalog.selection import select
from fcsynth.config import compose, parse_config
from fcsynth.errors import FcsynthError
from fcsynth.simulation import environment


def _types(node: Any) -> set[str]:
    """Every `type` value anywhere in a schema."""
    if isinstance(node, dict):
        own = {node["type"]} if isinstance(node.get("type"), str) else set()
        return own.union(*(_types(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_types(v) for v in node))
    return set()


@pytest.mark.parametrize("api", MULTI_TURN_APIS)
def test_each_multi_turn_api_imports_whole_with_json_schema_types(api: str) -> None:
    result = import_bfcl(api)
    assert [t.name for t in result.tools] == [d["name"] for d in docs(api)]
    assert not result.skipped
    for tool in result.tools:
        assert schema_error(tool.parameters) is None, tool.name
        assert not _types(tool.parameters) & {"dict", "float", "tuple", "any"}, tool.name
        assert tool.response is not None and schema_error(tool.response) is None, tool.name
        assert tool.source == f"bfcl-eval:{api}"
    assert len({t.toolkit for t in result.tools}) == 1


def test_doc_file_source_and_its_errors(tmp_path: Path) -> None:
    lines = [{"name": "get_weather", "description": "Weather.", "parameters": {"type": "dict", "properties": {
        "city": {"type": "string"}, "days": {"type": "float"}}, "required": ["city"]}}, {"description": "no name"}]
    path = tmp_path / "weather_api.json"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    result = import_source("bfcl", str(path))
    (tool,) = result.tools
    assert (tool.toolkit, tool.name) == ("weather_api", "get_weather")
    assert tool.parameters["properties"]["days"] == {"type": "number"}
    assert result.skipped == {"missing_name": 1}
    (tmp_path / "obj.json").write_text('{"name": "x"}')
    with pytest.raises(FcsynthError, match=r"obj.json: not BFCL function docs .*GorillaFileSystem"):
        import_source("bfcl", str(tmp_path / "obj.json"))
    with pytest.raises(FcsynthError, match="NoSuchAPI: not found"):
        import_source("bfcl", "NoSuchAPI")


def test_catalog_reads_apis_by_name_from_the_wheel_and_does_not_call_them_untracked(tmp_path: Path) -> None:
    cfg = parse_config(compose(["experiment=bfcl"]), "conf/").catalog
    build = build_catalog(cfg, tmp_path)  # nothing on disk: the docs come from the installed package
    assert build.untracked == []
    assert {s["path"]: s["tools"] for s in build.sources} == {api: len(docs(api)) for api in MULTI_TURN_APIS}


def test_environment_keeps_state_across_replayed_calls_and_reports_errors() -> None:
    made = {"role": "assistant", "tool_calls": [
        {"function": {"name": "mkdir", "arguments": {"dir_name": "reports"}}},
        {"function": {"name": "touch", "arguments": {"file_name": "notes.txt"}}},
    ]}
    listing = environment.respond(BfclApis, [made], "ls", {})
    assert sorted(listing["current_directory_content"]) == ["notes.txt", "reports"]
    assert "reports" not in str(environment.respond(BfclApis, [], "ls", {}))  # each conversation starts afresh
    assert environment.respond(BfclApis, [], "add", {"a": 2, "b": 3}) == {"result": 5}
    assert environment.respond(BfclApis, [], "send_email", {})["error"]["code"] == "unknown_tool"
    assert environment.respond(BfclApis, [], "_load_scenario", {})["error"]["code"] == "unknown_tool"
    assert environment.respond(BfclApis, [], "ls", {"bogus": 1})["error"]["code"] == "TypeError"
    # BFCL's own refusals are answers, as its environments give them
    assert "authenticate" in str(environment.respond(BfclApis, [], "post_tweet", {"content": "hi"}))


def test_every_documented_function_is_a_method_of_the_environment() -> None:
    apis = BfclApis()
    for api in MULTI_TURN_APIS:
        for doc in docs(api):
            assert callable(getattr(apis, doc["name"])), f"{api}.{doc['name']}"


def test_experiment_bfcl_selects_the_apis_and_runs_them_as_the_environment(tmp_path: Path) -> None:
    cfg = parse_config(compose(["experiment=bfcl"]), "conf/")
    assert environment.load_class(cfg.conversations.environment_class) is BfclApis
    assert cfg.conversations.environment == "executable"
    assert "multi_turn_base" in cfg.evaluate.bfcl.categories
    selections = select(build_catalog(cfg.catalog, tmp_path).result.tools, cfg.toolkits)
    assert "gorilla_file_system+posting_api" in selections
    assert {t.toolkit for t in selections["gorilla_file_system+posting_api"]} == {"gorilla_file_system", "posting_api"}
