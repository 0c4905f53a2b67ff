"""The OpenAPI importer on the shared real-world specs (../shared/openapi/): every operation, the default budget."""

from __future__ import annotations

import csv
import functools
import json

import pytest

from fcsynth.catalog.openapi import import_openapi
from fcsynth.catalog.schema_validity import schema_error
from fcsynth.tools import TOOL_NAME_RE

from helpers.openapi_import import find_tool as _tool
from helpers.paths import SHARED_OPENAPI

MANIFEST = SHARED_OPENAPI / "MANIFEST.tsv"
needs_shared = pytest.mark.skipif(not MANIFEST.exists(), reason=f"{SHARED_OPENAPI} (shared OpenAPI specs) is absent")


def _manifest() -> list[dict[str, str]]:
    if not MANIFEST.exists():
        return []
    with MANIFEST.open() as f:
        return list(csv.DictReader(f, delimiter="\t"))


@functools.cache
def _shared(filename: str, budget: int | None = None, oversize: str = "skip"):
    return import_openapi(SHARED_OPENAPI / filename, budget_tokens=budget, oversize=oversize)


@needs_shared
@pytest.mark.parametrize("row", _manifest() or [pytest.param({}, marks=pytest.mark.skip("no manifest"))], ids=lambda r: r.get("filename", "none"))
def test_shared_spec_imports_every_operation(row: dict[str, str]) -> None:
    result = _shared(row["filename"])
    assert result.entries == int(row["operations"])
    assert len(result.tools) == int(row["operations"]), result.summary()["skipped"]
    assert not result.skipped
    names = [t.name for t in result.tools]
    assert len(set(names)) == len(names)
    for tool in result.tools:
        assert TOOL_NAME_RE.match(tool.name) and TOOL_NAME_RE.match(tool.toolkit)
        assert tool.parameters["type"] == "object"
        assert schema_error(tool.parameters) is None
        assert tool.response is None or schema_error(tool.response) is None
        assert "$ref" not in json.dumps(tool.parameters)
        assert tool.operation and tool.operation.split()[0] in {"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"}


@needs_shared
@pytest.mark.parametrize("row", _manifest() or [pytest.param({}, marks=pytest.mark.skip("no manifest"))], ids=lambda r: r.get("filename", "none"))
def test_shared_spec_fits_the_default_budget_when_trimmed(row: dict[str, str]) -> None:
    from fcsynth.catalog.tool_size import tool_tokens

    result = _shared(row["filename"], 2048, "trim")
    assert len(result.tools) == int(row["operations"]), result.summary()["skipped"]
    assert all(tool_tokens(t) <= 2048 for t in result.tools)
    for tool in result.tools:
        assert schema_error(tool.parameters) is None


@needs_shared
def test_petstore_v2_parameters_came_through() -> None:
    result = _shared("swagger_petstore_v2.yaml")
    get_pet = _tool(result, "getPetById")
    assert get_pet.parameters["properties"]["petId"]["type"] == "integer"
    assert "petId" in get_pet.parameters["required"]  # a required path parameter
    assert get_pet.response["properties"]["name"]["type"] == "string"
    status = _tool(result, "findPetsByStatus").parameters["properties"]["status"]
    assert status["type"] == "array" and status["items"]["enum"] == ["available", "pending", "sold"]
    add = _tool(result, "addPet").parameters  # in: body, flattened
    assert add["properties"]["category"]["properties"]["name"]["type"] == "string"  # nested body object
    assert add["properties"]["photoUrls"]["items"]["type"] == "string"  # array item type
    assert {"name", "photoUrls"} <= set(add["required"])
    upload = _tool(result, "uploadFile").parameters["properties"]  # multipart formData
    assert upload["file"] == {"type": "string", "format": "binary", "description": "file to upload"}
    assert "api_key" not in _tool(result, "deletePet").parameters["properties"]  # an apiKey credential


@needs_shared
def test_petstore_v3_parameters_came_through() -> None:
    result = _shared("swagger_petstore_v3.yaml")
    status = _tool(result, "findPetsByStatus").parameters["properties"]["status"]
    assert status["enum"] == ["available", "pending", "sold"]
    update = _tool(result, "updatePet").parameters
    assert update["properties"]["tags"]["items"]["properties"]["name"]["type"] == "string"
    assert "id" in update["properties"] and update["properties"]["category"]["type"] == "object"


@needs_shared
def test_gmail_parameters_came_through() -> None:
    result = _shared("googleapis_gmail_v1.yaml")
    listing = _tool(result, "gmail_users_messages_list").parameters
    assert "userId" in listing["required"]
    assert listing["properties"]["labelIds"]["items"]["type"] == "string"
    assert listing["properties"]["alt"]["enum"] == ["json", "media", "proto"]
    send = _tool(result, "gmail_users_messages_send")
    headers = send.parameters["properties"]["payload"]["properties"]["headers"]
    assert headers["type"] == "array" and headers["items"]["properties"]["name"]["type"] == "string"
    # MessagePart.parts refers to MessagePart: the recursive use is cut, not expanded forever
    assert send.parameters["properties"]["payload"]["properties"]["parts"]["items"]["type"] == "object"
    assert result.flagged["ref_cycle_broken"] >= 1


@needs_shared
def test_slack_formdata_and_calendly_enum() -> None:
    post = _tool(_shared("slack_web_1.7.0.json"), "chat_postMessage").parameters
    assert post["properties"]["channel"]["type"] == "string" and "channel" in post["required"]
    invitees = _tool(_shared("calendly_api_2.0.0.yaml"), "getInvitees").parameters
    assert invitees["properties"]["status"]["enum"] == ["active", "canceled"]
    assert "uuid" in invitees["required"]
