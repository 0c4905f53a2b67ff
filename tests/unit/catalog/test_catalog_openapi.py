"""OpenAPI / Swagger importer on small specs written here: parameters, bodies, responses, names, bad documents."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path

import pytest

from fcsynth.catalog.openapi import import_openapi
from fcsynth.errors import FcsynthError
from fcsynth.tools import TOOL_NAME_RE

from helpers.openapi_import import find_tool as _tool
from helpers.openapi_import import write_spec as _write

PETS_30 = {
    "openapi": "3.0.3",
    "info": {"title": "Pets API", "version": "1"},
    "paths": {
        "/pets/{petId}": {
            "parameters": [{"name": "petId", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {
                "operationId": "getPet",
                "parameters": [
                    {"name": "fields", "in": "query", "schema": {"type": "string"}},
                    {"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}, "description": "override"},
                    {"name": "Authorization", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}},
            },
            "put": {
                "summary": "Replace a pet",
                "requestBody": {"$ref": "#/components/requestBodies/PetBody"},
                "responses": {"204": {"description": "done"}},
            },
        },
        "/pets": {
            "post": {
                "operationId": "createPets",
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": {"type": "object", "required": ["photo"],
                                "properties": {"photo": {"type": "string", "format": "binary"}, "caption": {"type": "string"}}}}},
                },
                "responses": {"201": {"description": "created", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}}}}}},
            },
            "patch": {
                "operationId": "patchPets",
                "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {"name": {"type": "string"}}}}}},
                "responses": {"200": {"description": "ok"}},
            },
        },
    },
    "components": {
        "schemas": {
            "Pet": {
                "allOf": [
                    {"$ref": "#/components/schemas/Base"},
                    {"type": "object", "required": ["name"], "properties": {
                        "name": {"type": "string", "nullable": True, "example": "Rex"},
                        "kind": {"oneOf": [{"type": "string", "enum": ["cat", "dog"]}, {"type": "integer"}]},
                        "weight": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
                        "secret": {"type": "string", "writeOnly": True},
                        "x-internal": {"type": "string"},
                    }, "x-vendor": 1},
                ]
            },
            "Base": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer", "readOnly": True}}},
        },
        "requestBodies": {"PetBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}},
    },
}


def test_oas30_parameters_bodies_and_responses(tmp_path: Path) -> None:
    result = import_openapi(_write(tmp_path, "pets.json", json.dumps(PETS_30)))
    assert result.entries == 4 and len(result.tools) == 4 and result.tools[0].toolkit == "pets_api"
    get = _tool(result, "getPet")
    assert get.parameters["properties"]["petId"] == {"type": "integer", "description": "override"}  # operation overrides path level
    assert get.parameters["required"] == ["petId"] and "Authorization" not in get.parameters["properties"]
    pet = get.response
    assert pet["required"] == ["id", "name"]  # allOf merged
    assert pet["properties"]["name"]["type"] == ["string", "null"] and pet["properties"]["name"]["examples"] == ["Rex"]
    assert pet["properties"]["weight"] == {"type": "number", "exclusiveMinimum": 0}
    assert "oneOf" in pet["properties"]["kind"]  # kept
    assert "secret" not in pet["properties"] and "x-internal" in pet["properties"]  # writeOnly dropped in a response
    assert not any(k.startswith("x-") for k in pet)
    put = _tool(result, "put_pets_petId")  # no operationId: method + path
    assert put.description == "Replace a pet" and put.response is None
    assert set(put.parameters["properties"]) == {"petId", "name", "kind", "weight", "secret", "x-internal"}  # readOnly id dropped
    assert put.parameters["required"] == ["petId", "name"]
    create = _tool(result, "createPets")
    assert create.parameters["properties"]["photo"]["format"] == "binary" and create.parameters["required"] == ["photo"]
    assert create.response["items"]["properties"]["id"]["type"] == "integer"
    assert _tool(result, "patchPets").parameters["properties"]["name"] == {"type": "string"}


def test_non_object_body_becomes_a_body_property(tmp_path: Path) -> None:
    spec = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/tags/{id}": {"post": {
        "operationId": "setTags",
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "array", "items": {"type": "string"}}}}},
        "responses": {"200": {"description": "ok", "content": {"application/vnd.api+json": {"schema": {"type": ["object", "null"]}}}}}}}}}
    tool = import_openapi(_write(tmp_path, "t.json", json.dumps(spec))).tools[0]
    assert tool.parameters["properties"]["body"] == {"type": "array", "items": {"type": "string"}}
    assert tool.parameters["required"] == ["id", "body"]
    assert tool.response == {"type": ["object", "null"]}


SWAGGER = """
swagger: "2.0"
info: {title: Store, version: "1"}
paths:
  /orders/{id}:
    parameters:
      - {name: id, in: path, required: true, type: string}
    post:
      operationId: addNote
      consumes: [application/x-www-form-urlencoded]
      parameters:
        - {name: note, in: formData, type: string, required: true}
        - {name: tags, in: formData, type: array, items: {type: string}, collectionFormat: csv}
        - {name: when, in: query, type: string, format: date, default: 2020-01-01}
      responses:
        200: {description: ok, schema: {$ref: "#/definitions/Order"}}
    put:
      operationId: replaceOrder
      parameters:
        - {name: order, in: body, required: true, schema: {$ref: "#/definitions/Order"}}
        - {name: on, in: query, type: boolean}
      responses:
        default: {description: error}
definitions:
  Order:
    type: object
    required: [total]
    properties:
      total: {type: number, minimum: 0, exclusiveMinimum: true}
      on: {type: string}
"""


def test_swagger_formdata_body_and_yaml12_scalars(tmp_path: Path) -> None:
    result = import_openapi(_write(tmp_path, "store.yaml", SWAGGER))
    note = _tool(result, "addNote")
    props = note.parameters["properties"]
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert props["when"]["default"] == "2020-01-01"  # YAML dates stay strings
    assert set(note.parameters["required"]) == {"id", "note"}
    assert note.response["properties"]["total"] == {"type": "number", "exclusiveMinimum": 0}
    replace = _tool(result, "replaceOrder").parameters
    # the body clashes with the `on` query parameter, so it stays one property named after it
    assert "on" in replace["properties"] and replace["properties"]["order"]["required"] == ["total"]
    assert set(replace["required"]) == {"id", "order"}


def test_yaml_the_safe_loader_rejects_falls_back(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    text = f"""
openapi: 3.0.0
info: {{title: tagged, version: "1"}}
x-hook: !!python/object/apply:os.system ["touch {marker}"]
paths:
  /x:
    get:
      operationId: getX
      x-custom: !Sub "${{Stage}}"
      parameters:
        - name: q
          in: query
          schema: !Schema {{type: string}}
      responses: {{"200": {{description: ok}}}}
"""
    result = import_openapi(_write(tmp_path, "tagged.yaml", text))
    assert not marker.exists()  # nothing was constructed or executed
    assert result.flagged["yaml_unknown_tags"] == 1
    assert result.tools[0].parameters["properties"]["q"] == {"type": "string"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("openapi: 3.0.0\npaths: {/x: [unclosed\n", "not valid JSON or YAML: line"),
        ("just: a mapping\n", "not an OpenAPI 3.x or Swagger 2.0 document"),
        ('{"openapi": "3.0.0", "paths": [', "not valid JSON"),
        ("openapi: 3.0.0\npaths: 7\n", "`paths` is missing or not a mapping"),
    ],
)
def test_bad_documents_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, "bad.json" if text.startswith("{") else "bad.yaml", text)
    with pytest.raises(FcsynthError) as err:
        import_openapi(path)
    assert message in str(err.value) and "\n" not in str(err.value) and str(path) in str(err.value)


def test_missing_file_and_unreachable_url() -> None:
    with pytest.raises(FcsynthError, match="not found"):
        import_openapi("/no/such/spec.yaml")
    with pytest.raises(FcsynthError, match="cannot fetch"):
        import_openapi("http://127.0.0.1:9/spec.yaml")


def test_names_are_sanitized_and_collisions_renamed(tmp_path: Path) -> None:
    long_id = "a.very.long.operation.id." * 4
    spec = {"openapi": "3.0.0", "info": {"title": "names", "version": "1"}, "paths": {
        "/one": {"get": {"operationId": "list pets", "responses": {}}},
        "/two": {"get": {"operationId": "list/pets", "responses": {}}},
        "/three": {"get": {"operationId": "list_pets", "responses": {}}},
        "/four": {"get": {"operationId": long_id, "responses": {}}},
    }}
    result = import_openapi(_write(tmp_path, "n.json", json.dumps(spec)))
    names = [t.name for t in result.tools]
    assert names[:3] == ["list_pets", "list_pets_2", "list_pets_3"]
    assert len(names[3]) <= 64 and TOOL_NAME_RE.match(names[3])
    assert names == [t.name for t in import_openapi(_write(tmp_path, "n2.json", json.dumps(spec))).tools]  # deterministic
    assert result.flagged["renamed_collision"] == 2
    assert {"toolkit": "names", "from": "list_pets", "to": "list_pets_2", "operation": "GET /two"} in result.renamed
    assert {"toolkit": "names", "from": "list pets", "to": "list_pets", "operation": "GET /one"} in result.renamed
    assert result.flagged["renamed_invalid_name"] == 3


def test_url_source(tmp_path: Path) -> None:
    _write(tmp_path, "spec.yaml", SWAGGER)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/spec.yaml"
        result = import_openapi(url, toolkit="store")
    finally:
        server.shutdown()
    assert {t.name for t in result.tools} == {"addNote", "replaceOrder"}
    assert all(t.source == url and t.toolkit == "store" for t in result.tools)
