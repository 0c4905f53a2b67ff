"""MCP, OpenAI and Funcdex importers on small inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fcsynth.catalog.funcdex import import_funcdex
from fcsynth.catalog.mcp import import_mcp
from fcsynth.catalog.openai_tools import import_openai
from fcsynth.errors import FcsynthError


def _write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


MCP_TOOLS = [
    {
        "name": "get_weather",
        "title": "Weather",
        "description": "Current weather for a city.",
        "inputSchema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "units": {"$ref": "#/$defs/Units"}},
            "required": ["city"],
            "$defs": {"Units": {"type": "string", "enum": ["metric", "imperial"]}},
        },
        "outputSchema": {"type": "object", "properties": {"temperature": {"type": "number"}}, "required": ["temperature"]},
        "annotations": {"readOnlyHint": True},
    },
    {"name": "ping", "inputSchema": {"type": "object"}},
    {"description": "no name"},
]


@pytest.mark.parametrize(
    "payload",
    [
        {"jsonrpc": "2.0", "id": 1, "result": {"tools": MCP_TOOLS}},
        {"tools": MCP_TOOLS},
        MCP_TOOLS,
        [{"jsonrpc": "2.0", "id": 1, "result": {"tools": MCP_TOOLS[:1], "nextCursor": "2"}},
         {"jsonrpc": "2.0", "id": 2, "result": {"tools": MCP_TOOLS[1:]}}],
    ],
    ids=["jsonrpc", "result", "bare-list", "pages"],
)
def test_mcp_tools_list_shapes(tmp_path: Path, payload: Any) -> None:
    result = import_mcp(_write(tmp_path, "weather-server.json", payload))
    assert [t.name for t in result.tools] == ["get_weather", "ping"]
    assert result.skipped == {"missing_name": 1} and result.entries == 3
    weather = result.tools[0]
    assert weather.toolkit == "weather-server"
    assert weather.parameters["properties"]["units"] == {"type": "string", "enum": ["metric", "imperial"]}
    assert "$defs" not in weather.parameters and weather.parameters["required"] == ["city"]
    assert weather.response == MCP_TOOLS[0]["outputSchema"]
    assert result.tools[1].parameters == {"type": "object"} and result.tools[1].description == ""


def test_mcp_error_response_and_wrong_shape(tmp_path: Path) -> None:
    with pytest.raises(FcsynthError, match="MCP server answered with an error: Method not found"):
        import_mcp(_write(tmp_path, "e.json", {"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "Method not found"}}))
    with pytest.raises(FcsynthError, match="not an MCP tools/list result"):
        import_mcp(_write(tmp_path, "w.json", {"resources": []}))


def test_mcp_dangling_and_cyclic_defs(tmp_path: Path) -> None:
    tools = [
        {"name": "broken", "inputSchema": {"type": "object", "properties": {"x": {"$ref": "#/$defs/Missing"}}}},
        {"name": "tree", "inputSchema": {"type": "object", "properties": {"root": {"$ref": "#/$defs/Node"}},
                                         "$defs": {"Node": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}}}},
    ]
    result = import_mcp(_write(tmp_path, "m.json", {"tools": tools}), toolkit="kit")
    assert [t.name for t in result.tools] == ["tree"] and result.skipped == {"dangling_ref": 1}
    assert result.tools[0].parameters["properties"]["root"]["properties"]["kids"]["items"] == {"type": "object"}
    assert result.flagged["ref_cycle_broken"] == 1


def test_openai_tool_shapes(tmp_path: Path) -> None:
    params = {"type": "object", "properties": {"q": {"type": "string", "description": "query"}}, "required": ["q"]}
    tools = [
        {"type": "function", "function": {"name": "search", "description": "Search.", "parameters": params, "strict": True}},
        {"type": "function", "name": "lookup", "description": "Responses API style.", "parameters": params},
        {"name": "legacy", "description": "functions= style", "parameters": params},
        {"type": "function", "function": {"name": "no_params", "description": "Takes nothing."}},
        {"type": "web_search_preview"},
        {"type": "function", "function": {"name": "bad", "parameters": {"type": "object", "properties": {"n": {"type": "integr"}}}}},
        {"type": "function", "function": {"name": "scalar", "parameters": {"type": "string"}}},
    ]
    for payload in (tools, {"tools": tools}):
        result = import_openai(_write(tmp_path, "my tools.json", payload))
        assert [t.name for t in result.tools] == ["search", "lookup", "legacy", "no_params"]
        assert result.tools[0].toolkit == "my_tools"
        assert result.tools[0].parameters == params and result.tools[0].response is None
        assert result.tools[3].parameters == {"type": "object", "properties": {}}
        assert result.skipped == {"not_a_function": 1, "invalid_schema": 1, "parameters_not_object": 1}
        assert "properties/n/type" in result.examples["invalid_schema"][0]
        assert result.entries == 7
    with pytest.raises(FcsynthError, match="not an OpenAI tool list"):
        import_openai(_write(tmp_path, "x.json", {"nothing": 1}))


FUNCDEX = [
    {
        "toolkit_name": "gmail",
        "tool_id": "LIST_THREADS",
        "tool_description": "Lists email threads.",
        "tool_input_parameters": json.dumps({
            "max_results": {"type": "integer", "required": False},
            "query": {"type": "string", "required": False, "description": "Gmail search query"},
            "user_id": {"type": "string", "required": True},
            "label_ids": {"type": "array", "required": False},
            "verbose": {"type": "bool", "required": False},
            "weird": {"type": "datetime-ish", "required": False},
        }),
        "tool_response_parameters": json.dumps({"data": {"type": "object", "required": True}, "successful": {"type": "boolean", "required": True}}),
    },
    {"toolkit_name": "Google Calendar", "tool_id": "CREATE_EVENT", "tool_description": "Creates an event.",
     "tool_input_parameters": {"summary": {"type": "string", "required": True}}, "tool_response_parameters": ""},
    {"toolkit_name": "gmail", "tool_id": "BROKEN", "tool_input_parameters": "{not json"},
    {"toolkit_name": "gmail"},
]


def test_funcdex_records(tmp_path: Path) -> None:
    result = import_funcdex(_write(tmp_path, "funcdex.json", FUNCDEX))
    assert [(t.toolkit, t.name) for t in result.tools] == [("gmail", "LIST_THREADS"), ("google_calendar", "CREATE_EVENT")]
    threads = result.tools[0]
    props = threads.parameters["properties"]
    assert props["max_results"] == {"type": "integer"} and props["label_ids"] == {"type": "array"}
    assert props["query"]["description"] == "Gmail search query"
    assert props["verbose"] == {"type": "boolean"} and props["weird"] == {}
    assert threads.parameters["required"] == ["user_id"]
    assert threads.response == {"type": "object", "properties": {"data": {"type": "object"}, "successful": {"type": "boolean"}},
                                "required": ["data", "successful"]}
    assert result.tools[1].response is None
    assert result.skipped == {"invalid_parameters": 1, "missing_name": 1}
    assert result.flagged["funcdex_unknown_type"] == 1


def test_funcdex_jsonl_and_toolkit_override(tmp_path: Path) -> None:
    text = "\n".join(json.dumps(r) for r in FUNCDEX[:2]) + "\n"
    result = import_funcdex(_write(tmp_path, "funcdex.jsonl", text), toolkit="mine")
    assert {t.toolkit for t in result.tools} == {"mine"} and len(result.tools) == 2
    with pytest.raises(FcsynthError, match="not a Funcdex file"):
        import_funcdex(_write(tmp_path, "f.json", {"a": 1}))
