"""`$ref`s in OpenAPI specs: into paths, chains and external files, cycles cut, dangling ones skipped."""

from __future__ import annotations

import json
from pathlib import Path

from fcsynth.catalog.openapi import import_openapi

from helpers.openapi_import import find_tool as _tool
from helpers.openapi_import import write_spec as _write


def test_refs_into_paths_with_percent_encoding(tmp_path: Path) -> None:
    spec = {
        "openapi": "3.0.0", "info": {"title": "refs", "version": "1"},
        "paths": {
            "/a/{x}": {"get": {"operationId": "first", "parameters": [
                {"name": "x", "in": "path", "required": True, "schema": {"type": "string", "enum": ["p", "q"]}}],
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object", "properties": {"n": {"type": "integer"}}}}}}}}},
            "/b/{x}": {"get": {"operationId": "second", "parameters": [{"$ref": "#/paths/~1a~1%7Bx%7D/get/parameters/0"}],
                "responses": {"200": {"$ref": "#/paths/~1a~1%7Bx%7D/get/responses/200"}}}},
            "/c": {"$ref": "#/paths/~1a~1%7Bx%7D"},
        },
    }
    result = import_openapi(_write(tmp_path, "refs.json", json.dumps(spec)))
    second = _tool(result, "second")
    assert second.parameters["properties"]["x"]["enum"] == ["p", "q"] and second.parameters["required"] == ["x"]
    assert second.response["properties"]["n"]["type"] == "integer"
    assert len(result.tools) == 3  # the /c path item is a $ref to /a/{x}: its operation too (renamed)
    assert result.flagged["renamed_collision"] == 1 and _tool(result, "first_2")


def test_ref_chain_and_external_file(tmp_path: Path) -> None:
    _write(tmp_path, "common.yaml", "Id: {type: string, pattern: '^[a-z]+$'}\nAlias: {$ref: '#/Id'}\n")
    spec = {"openapi": "3.0.0", "info": {"title": "ext", "version": "1"}, "paths": {"/u/{id}": {"get": {
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"$ref": "#/components/schemas/A"}}],
        "responses": {"200": {"description": "ok"}}}}},
        "components": {"schemas": {"A": {"$ref": "#/components/schemas/B"}, "B": {"$ref": "common.yaml#/Alias"}}}}
    result = import_openapi(_write(tmp_path, "ext.json", json.dumps(spec)))
    assert result.tools[0].parameters["properties"]["id"] == {"type": "string", "pattern": "^[a-z]+$"}


def test_ref_cycle_is_cut_and_counted(tmp_path: Path) -> None:
    spec = {"openapi": "3.0.0", "info": {"title": "tree", "version": "1"}, "paths": {"/nodes": {"post": {
        "operationId": "addNode",
        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}},
        "responses": {"200": {"description": "ok"}}}}},
        "components": {"schemas": {"Node": {"type": "object", "description": "A tree node", "properties": {
            "label": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}}}}}
    result = import_openapi(_write(tmp_path, "tree.json", json.dumps(spec)))
    params = result.tools[0].parameters
    assert params["properties"]["children"]["items"] == {"type": "object", "description": "A tree node"}
    assert result.flagged["ref_cycle_broken"] == 1 and "#/components/schemas/Node" in result.examples["ref_cycle_broken"][0]


def test_dangling_refs_skip_or_drop_with_reasons(tmp_path: Path) -> None:
    spec = {"openapi": "3.0.0", "info": {"title": "dangling", "version": "1"}, "paths": {
        "/a": {"get": {"operationId": "badParam", "parameters": [{"$ref": "#/components/parameters/Nope"}],
                       "responses": {"200": {"description": "ok"}}}},
        "/b": {"get": {"operationId": "badResponse", "responses": {"200": {"description": "ok", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Gone"}}}}}}},
        "/c": {"get": {"operationId": "badFile", "parameters": [{"name": "q", "in": "query", "schema": {"$ref": "missing.yaml#/Q"}}],
                       "responses": {"200": {"description": "ok"}}}},
    }}
    result = import_openapi(_write(tmp_path, "d.json", json.dumps(spec)))
    assert [t.name for t in result.tools] == ["badResponse"] and result.tools[0].response is None
    assert result.skipped == {"dangling_ref": 2}
    assert result.flagged["dangling_ref_response_dropped"] == 1
    assert result.entries == len(result.tools) + sum(result.skipped.values())
    assert any("#/components/parameters/Nope" in e for e in result.examples["dangling_ref"])
