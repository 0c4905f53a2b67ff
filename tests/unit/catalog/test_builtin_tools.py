"""The built-in toolkits in data/builtin_tools/: loadable, valid, prompt-sized, and true to the real APIs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from fcsynth.catalog.tools_file import read_tools_file
from fcsynth.tools import TOOL_NAME_RE, Tool, read_catalog, write_catalog

from helpers.paths import REPO

BUILTIN = REPO / "data" / "builtin_tools"
TOOLKITS = (
    "gmail", "googlecalendar", "googledrive", "googledocs", "jira",
    "stripe", "asana", "calendly", "whatsapp", "todoist",
)
# Compact JSON characters per schema: a small model sees every schema in its prompt.
SCHEMA_BUDGET = 1600


def load(toolkit: str) -> list[Tool]:
    return read_tools_file(BUILTIN / f"{toolkit}.json")


def tool(toolkit: str, name: str) -> Tool:
    return next(t for t in load(toolkit) if t.name == name)


def all_tools() -> list[Tool]:
    return [t for tk in TOOLKITS for t in load(tk)]


def subschemas(schema: dict[str, Any], path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (sub)schema reachable through properties / items / additionalProperties."""
    yield path, schema
    for key, sub in schema.get("properties", {}).items():
        yield from subschemas(sub, f"{path}.{key}")
    if isinstance(schema.get("items"), dict):
        yield from subschemas(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from subschemas(schema["additionalProperties"], f"{path}.*")


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_exactly_the_ten_toolkits_are_shipped() -> None:
    assert sorted(p.stem for p in BUILTIN.glob("*.json")) == sorted(TOOLKITS)


@pytest.mark.parametrize("toolkit", TOOLKITS)
def test_toolkit_file_is_well_formed(toolkit: str) -> None:
    path = BUILTIN / f"{toolkit}.json"
    raw = json.loads(path.read_text())
    assert path.read_text() == json.dumps(raw, indent=2, ensure_ascii=False) + "\n", "keep files pretty-printed (indent 2)"
    assert all(set(r) == {"toolkit", "name", "description", "parameters", "response"} for r in raw)
    tools = load(toolkit)
    assert len(tools) >= 8
    names = [t.name for t in tools]
    assert len(set(names)) == len(names), "tool names must be unique within a toolkit"
    for t in tools:
        assert t.toolkit == toolkit
        assert TOOL_NAME_RE.match(t.name), t.name
        assert len(t.description) >= 20, t.name


@pytest.mark.parametrize("t", all_tools(), ids=lambda t: f"{t.toolkit}.{t.name}")
def test_parameters_schema(t: Tool) -> None:
    params = t.parameters
    Draft202012Validator.check_schema(params)
    assert params["type"] == "object" and params["additionalProperties"] is False
    assert isinstance(params["required"], list)
    assert "$ref" not in json.dumps(params)
    assert len(json.dumps(params, separators=(",", ":"))) <= SCHEMA_BUDGET
    for path, sub in subschemas(params):
        if path != "$" and not path.endswith(("[]", ".*")):  # array items / map values may go undescribed
            assert sub.get("description"), f"{path}: every property needs a description"
        assert set(sub.get("required", [])) <= set(sub.get("properties", {})), f"{path}: required key not declared"
        if sub.get("type") == "array":
            assert "type" in sub.get("items", {}), f"{path}: arrays declare their item type"
        if "(?" in sub.get("pattern", ""):
            pytest.fail(f"{path}: no lookaround/group-flag patterns")
        if "default" in sub:
            assert validator(sub).is_valid(sub["default"]), f"{path}: default {sub['default']!r} violates its own schema"
    # The empty call is valid exactly when nothing is required.
    assert validator(params).is_valid({}) == (not params["required"])
    assert not validator(params).is_valid({"not_a_real_parameter": 1})


@pytest.mark.parametrize("t", all_tools(), ids=lambda t: f"{t.toolkit}.{t.name}")
def test_response_schema(t: Tool) -> None:
    if t.response is None:  # only endpoints that answer 204 / an empty body
        assert any(s in t.description for s in ("204", "empty body")), f"{t.name}: null response must say why"
        return
    Draft202012Validator.check_schema(t.response)
    assert t.response.get("type") in ("object", "array")
    assert "$ref" not in json.dumps(t.response)
    assert len(json.dumps(t.response, separators=(",", ":"))) <= SCHEMA_BUDGET
    for path, sub in subschemas(t.response):
        assert set(sub.get("required", [])) <= set(sub.get("properties", {})), f"{path}: required key not declared"


def test_catalog_round_trip(tmp_path: Path) -> None:
    tools = all_tools()
    write_catalog(tools, tmp_path / "tools.parquet")
    back = read_catalog(tmp_path / "tools.parquet")
    assert len(back) == len(tools)
    assert {(t.toolkit, t.name): t.parameters for t in back} == {(t.toolkit, t.name): t.parameters for t in tools}
    assert tools[0].to_openai()["function"]["parameters"] == tools[0].parameters


# --- spot checks against the real APIs ---------------------------------------------------------


def test_gmail_spot_checks() -> None:
    get = tool("gmail", "get_message").parameters["properties"]
    assert get["format"]["enum"] == ["minimal", "full", "raw", "metadata"]
    lst = tool("gmail", "list_messages").parameters
    assert {"q", "maxResults", "labelIds", "pageToken"} <= set(lst["properties"])
    assert lst["properties"]["labelIds"]["items"]["type"] == "string"
    send = validator(tool("gmail", "send_message").parameters)
    assert send.is_valid({"to": ["ana@example.com"], "subject": "Hi", "body": "Hello"})
    assert not send.is_valid({"to": ["not-an-address"], "subject": "Hi", "body": "Hello"})
    assert not send.is_valid({"to": "ana@example.com", "subject": "Hi", "body": "Hello"})  # `to` is a list
    modify = tool("gmail", "modify_message").parameters["properties"]
    assert {"addLabelIds", "removeLabelIds"} <= set(modify)


def test_stripe_amounts_are_integer_minor_units() -> None:
    amounts = [
        (t.name, sub)
        for t in load("stripe")
        for path, sub in subschemas(t.parameters)
        if path.endswith(".amount")
    ]
    assert len(amounts) >= 3
    assert all(sub["type"] == "integer" and sub["minimum"] >= 1 for _, sub in amounts), amounts
    pi = validator(tool("stripe", "create_payment_intent").parameters)
    assert pi.is_valid({"amount": 1999, "currency": "usd", "payment_method_types": ["card"]})
    assert not pi.is_valid({"amount": 19.99, "currency": "usd"})
    assert not pi.is_valid({"amount": 1999})  # currency required
    refund = tool("stripe", "create_refund").parameters["properties"]
    assert refund["reason"]["enum"] == ["duplicate", "fraudulent", "requested_by_customer"]


def test_todoist_priority_bounded_1_to_4() -> None:
    for name in ("create_task", "update_task"):
        prio = tool("todoist", name).parameters["properties"]["priority"]
        assert (prio["type"], prio["minimum"], prio["maximum"]) == ("integer", 1, 4)
    create = validator(tool("todoist", "create_task").parameters)
    assert create.is_valid({"content": "Buy milk", "due_string": "tomorrow at 5pm", "priority": 4, "labels": ["errands"]})
    assert not create.is_valid({"content": "Buy milk", "priority": 5})


def test_jira_create_and_search() -> None:
    create = tool("jira", "create_issue").parameters
    assert {"projectKey", "issueType", "summary"} <= set(create["required"])
    assert create["properties"]["priority"]["enum"] == ["Highest", "High", "Medium", "Low", "Lowest"]
    assert tool("jira", "search_issues").parameters["required"] == ["jql"]
    assert {"get_transitions", "transition_issue", "add_comment"} <= {t.name for t in load("jira")}


def test_calendar_event_times_are_nested_objects() -> None:
    props = tool("googlecalendar", "create_event").parameters["properties"]
    assert props["start"]["type"] == "object"
    assert props["start"]["properties"]["dateTime"]["format"] == "date-time"
    assert props["attendees"]["items"]["required"] == ["email"]
    v = validator(tool("googlecalendar", "create_event").parameters)
    assert v.is_valid({"summary": "Sync", "start": {"dateTime": "2024-05-02T15:00:00Z"}, "end": {"dateTime": "2024-05-02T15:30:00Z"}})
    assert not v.is_valid({"summary": "Sync", "start": {"when": "3pm"}, "end": {"date": "2024-05-02"}})


def test_whatsapp_interactive_limits() -> None:
    buttons = tool("whatsapp", "send_interactive_buttons_message").parameters["properties"]["buttons"]
    assert buttons["maxItems"] == 3
    assert buttons["items"]["properties"]["title"]["maxLength"] == 20
    assert {"send_text_message", "send_template_message", "send_media_message", "mark_as_read"} <= {t.name for t in load("whatsapp")}


def test_docs_and_drive_spot_checks() -> None:
    replace = tool("googledocs", "replace_all_text").parameters["properties"]
    assert replace["containsText"]["required"] == ["text"]
    perm = tool("googledrive", "create_permission").parameters
    assert perm["properties"]["role"]["enum"][-1] == "reader"
    assert set(perm["required"]) == {"fileId", "role", "type"}
