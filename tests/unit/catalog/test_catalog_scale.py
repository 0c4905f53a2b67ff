"""Pathological specs (deep chains, wide oneOf fan-out, cycles, densely interlinked schemas),
trimming that keeps required parameters, and required-ness of request bodies."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import yaml

from fcsynth.catalog.normalize import normalize
from fcsynth.catalog.openapi import import_openapi
from fcsynth.catalog.result import ImportResult
from fcsynth.catalog.schema import MAX_REF_NESTING
from fcsynth.catalog.schema_validity import schema_error
from fcsynth.catalog.tool_size import tool_tokens
from fcsynth.catalog.trim import BODY_OPTIONAL_NOTE
from fcsynth.tools import Tool

from helpers.paths import REPO

BUDGET = 2048


def _bench():
    spec = importlib.util.spec_from_file_location("catalog_import", REPO / "benchmarks" / "catalog_import.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _import(tmp_path: Path, spec: dict, **kw) -> ImportResult:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return import_openapi(path, budget_tokens=kw.pop("budget", BUDGET), oversize=kw.pop("oversize", "trim"), **kw)


def _spec(schemas: dict, body_ref: str, **op) -> dict:
    return {"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "components": {"schemas": schemas},
            "paths": {"/x": {"post": {"operationId": "op", "responses": {}, **op,
                                      "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": body_ref}}}}}}}}


def _valid(result: ImportResult, n: int) -> None:
    assert len(result.tools) == n and not result.skipped, result.summary()
    for tool in result.tools:
        assert schema_error(tool.parameters) is None and tool_tokens(tool) <= BUDGET
        assert "$ref" not in json.dumps(tool.parameters)


def test_deep_ref_chain_is_bounded(tmp_path: Path) -> None:
    depth = 5 * MAX_REF_NESTING
    schemas = {f"S{i}": {"type": "object", "required": ["v"], "properties": {"v": {"type": "string"}, "next": {"$ref": f"#/components/schemas/S{i + 1}"}}}
               for i in range(depth)}
    schemas[f"S{depth}"] = {"type": "string"}
    result = _import(tmp_path, _spec(schemas, "#/components/schemas/S0"), budget=None)
    assert len(result.tools) == 1 and result.flagged["expansion_bounded"] == 1
    params = result.tools[0].parameters
    assert params["required"] == ["v"] and params["properties"]["next"]["properties"]["next"]["type"] == "object"
    assert schema_error(params) is None


def test_wide_one_of_fan_out_is_trimmed_to_fit(tmp_path: Path) -> None:
    schemas = {f"V{i}": {"type": "object", "description": f"Variant {i}. " * 5, "required": [f"k{i}"],
                         "properties": {f"k{i}": {"type": "string", "description": "A key."}, "n": {"type": "integer"}}}
               for i in range(400)}
    schemas["Body"] = {"type": "object", "required": ["choice"], "properties": {
        "choice": {"oneOf": [{"$ref": f"#/components/schemas/V{i}"} for i in range(400)]}, "note": {"type": "string"}}}
    result = _import(tmp_path, _spec(schemas, "#/components/schemas/Body"))
    _valid(result, 1)
    assert result.flagged["oversize_trimmed"] == 1
    assert result.tools[0].parameters["required"] == ["choice"]


def test_ref_cycles_are_cut_once(tmp_path: Path) -> None:
    schemas = {
        "Node": {"type": "object", "description": "A tree node.", "properties": {"children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}},
        "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}, "node": {"$ref": "#/components/schemas/Node"}}},
        "B": {"type": "object", "properties": {"c": {"$ref": "#/components/schemas/C"}}},
        "C": {"type": "object", "properties": {"a": {"$ref": "#/components/schemas/A"}}},
    }
    result = _import(tmp_path, _spec(schemas, "#/components/schemas/A"))
    _valid(result, 1)
    params = result.tools[0].parameters
    assert params["properties"]["b"]["properties"]["c"]["properties"]["a"] == {"type": "object"}  # A inside A: the stub
    assert params["properties"]["node"]["properties"]["children"]["items"] == {"type": "object", "description": "A tree node."}
    assert result.flagged["ref_cycle_broken"] == 2


def test_densely_interlinked_spec_imports_in_bounded_time(tmp_path: Path) -> None:
    bench = _bench()
    spec = bench.dense_spec(schemas=300, operations=120)
    start = time.monotonic()
    result = _import(tmp_path, spec)
    elapsed = time.monotonic() - start
    _valid(result, 120)
    assert result.flagged["expansion_bounded"] == 1
    assert all(t.parameters["required"] == ["a"] for t in result.tools)  # the form body's required field
    assert elapsed < 60, f"{elapsed:.1f} s (cycle-exact inlining of this spec does not finish in minutes)"


def test_shared_chains_keep_every_operation(tmp_path: Path) -> None:
    result = _import(tmp_path, _bench().chains_spec(300))
    _valid(result, 300)
    assert all({"id", "f0"} <= set(t.parameters["required"]) for t in result.tools)


def test_optional_form_body_keeps_its_required_fields_and_says_so(tmp_path: Path) -> None:
    """Twilio's CreateMessage: `required: [To]` in a form body whose requestBody has no `required: true`."""
    form = {"type": "object", "required": ["To"], "properties": {"To": {"type": "string"}, "Body": {"type": "string"}}}
    spec = {"openapi": "3.0.1", "info": {"title": "twilio", "version": "1"}, "paths": {
        "/Messages.json": {"post": {"operationId": "CreateMessage", "summary": "Send a message.", "responses": {},
                                    "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": form}}}}},
        "/Calls.json": {"post": {"operationId": "CreateCall", "responses": {},
                                 "requestBody": {"required": True, "content": {"application/json": {"schema": form}}}}},
    }}
    result = _import(tmp_path, spec)
    message, call = result.tools
    assert message.parameters["required"] == ["To"] and call.parameters["required"] == ["To"]
    assert message.description == f"Send a message.\n\n{BODY_OPTIONAL_NOTE}"
    assert BODY_OPTIONAL_NOTE not in call.description


def test_trim_never_drops_a_required_parameter() -> None:
    deep = {"type": "object", "description": "d" * 300, "required": ["inner"], "properties": {
        "inner": {"type": "object", "required": ["leaf"], "properties": {"leaf": {"type": "string", "enum": ["a", "b"]},
                                                                         "extra": {"type": "string", "description": "e" * 500}}},
        **{f"opt{i}": {"type": "object", "properties": {f"x{j}": {"type": "string", "description": "x" * 80} for j in range(10)}} for i in range(10)}}}
    params = {"type": "object", "required": ["id", "config"], "properties": {
        "id": {"type": "string"}, "config": deep,
        **{f"filter{i}": {"type": "string", "description": "f" * 200} for i in range(60)}}}
    tool = Tool(toolkit="kit", name="big", description="Big. " * 200, parameters=params, response={"type": "object", "description": "r" * 3000})
    result = ImportResult(entries=1)
    kept = normalize([tool], result, budget_tokens=300, oversize="trim")
    assert len(kept) == 1 and tool_tokens(kept[0]) <= 300 and result.flagged["oversize_trimmed"] == 1
    out = kept[0].parameters
    assert out["required"] == ["id", "config"] and {"id", "config"} <= set(out["properties"])
    assert out["properties"]["config"]["properties"]["inner"]["properties"]["leaf"]["enum"] == ["a", "b"]  # required chain kept
    assert schema_error(out) is None


def test_trim_is_the_default() -> None:
    conf = yaml.safe_load((REPO / "conf" / "catalog" / "default.yaml").read_text())
    params = yaml.safe_load((REPO / "params.yaml").read_text())["catalog"]
    assert conf["oversize"] == params["oversize"] == "trim" and conf["prompt_budget_tokens"] == params["prompt_budget_tokens"]
