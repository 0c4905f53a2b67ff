"""Bad local input to `fcsynth import` and tool files: one line on stderr, a non-zero exit, the old output kept."""

from __future__ import annotations

import json
import time

import pytest

from helpers.catalog_import import GOOD, OLD_OUT, fcsynth, one_line_error, write

# --- bounded loading ---------------------------------------------------------------------


def test_yaml_alias_bomb_fails_fast(tmp_path, monkeypatch, capsys, old_out) -> None:
    lines = ['openapi: 3.0.0', 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    source = write(tmp_path, "bomb.yaml", "\n".join(lines) + "\npaths: {}\n")
    assert source.stat().st_size < 1000
    start = time.monotonic()
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(old_out))
    one_line_error(code, err, "bomb.yaml", "expands to more than")
    assert time.monotonic() - start < 10
    assert old_out.read_text() == OLD_OUT


def test_yaml_alias_that_contains_itself(tmp_path, monkeypatch, capsys, old_out) -> None:
    source = write(tmp_path, "loop.yaml", "openapi: 3.0.0\npaths: &p {/x: *p}\n")
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(old_out))
    one_line_error(code, err, "loop.yaml", "refers to the mapping or list that contains it")
    assert old_out.read_text() == OLD_OUT


def test_json_nested_past_the_parser(tmp_path, monkeypatch, capsys, old_out) -> None:
    source = write(tmp_path, "deep.json", "[" * 200_000 + "]" * 200_000)
    code, _, err = fcsynth(monkeypatch, capsys, "import", "mcp", str(source), "--out", str(old_out))
    one_line_error(code, err, "deep.json", "nested too deeply")
    assert old_out.read_text() == OLD_OUT


def test_yaml_nested_deeper_than_the_limit(tmp_path, monkeypatch, capsys, old_out) -> None:
    source = write(tmp_path, "deep.yaml", "tools: " + "[" * 300 + "]" * 300 + "\n")
    code, _, err = fcsynth(monkeypatch, capsys, "import", "mcp", str(source), "--out", str(old_out))
    one_line_error(code, err, "deep.yaml", "nested deeper than 200 levels")
    assert old_out.read_text() == OLD_OUT


def test_file_over_the_size_limit(tmp_path, monkeypatch, capsys, old_out) -> None:
    import fcsynth.catalog.fetch as source_mod

    monkeypatch.setattr(source_mod, "MAX_SOURCE_BYTES", 1024 * 1024)
    source = write(tmp_path, "huge.json", json.dumps({**GOOD, "x-pad": "p" * (1024 * 1024)}))
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(old_out))
    one_line_error(code, err, "huge.json", "larger than the 1 MiB limit")
    assert old_out.read_text() == OLD_OUT


def test_not_utf8(tmp_path, monkeypatch, capsys, old_out) -> None:
    source = write(tmp_path, "latin1.yaml", "openapi: 3.0.0\ninfo: {title: caf\xe9}\npaths: {}\n".encode("latin-1"))
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(old_out))
    one_line_error(code, err, "latin1.yaml", "not UTF-8")
    assert old_out.read_text() == OLD_OUT


# --- tool names ----------------------------------------------------------------------------


def test_tool_name_with_a_trailing_newline_is_renamed(tmp_path, monkeypatch, capsys) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather\n", "parameters": {"type": "object"}}}]
    source = write(tmp_path, "openai.json", json.dumps(tools))
    out = tmp_path / "out.json"
    code, stdout, err = fcsynth(monkeypatch, capsys, "import", "openai", str(source), "--out", str(out), "--toolkit", "kit")
    assert code == 0, err
    assert "  flagged renamed_invalid_name: 1  e.g. kit/get_weather\\n: 'get_weather\\n' -> get_weather\n" in stdout
    assert [r["name"] for r in json.loads(out.read_text())] == ["get_weather"]


def test_toolkit_name_with_a_trailing_newline_is_rejected(tmp_path, monkeypatch, capsys, old_out) -> None:
    source = write(tmp_path, "good.json", json.dumps(GOOD))
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(old_out), "--toolkit", "kit\n")
    one_line_error(code, err, "toolkit name 'kit\\n' must match")
    assert old_out.read_text() == OLD_OUT


# --- --out and empty imports -------------------------------------------------------------


def test_out_is_a_directory(tmp_path, monkeypatch, capsys) -> None:
    source = write(tmp_path, "good.json", json.dumps(GOOD))
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(tmp_path))
    one_line_error(code, err, "is a directory")


def test_out_under_a_regular_file(tmp_path, monkeypatch, capsys) -> None:
    source = write(tmp_path, "good.json", json.dumps(GOOD))
    blocker = write(tmp_path, "blocker", "I am a file")
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(blocker / "sub" / "t.json"))
    one_line_error(code, err, "blocker is a file, not a directory")
    assert blocker.read_text() == "I am a file"


def test_zero_tools_fails_and_keeps_the_old_out(tmp_path, monkeypatch, capsys, old_out) -> None:
    spec = {**GOOD, "paths": {"/a": {"get": {"parameters": [{"$ref": "#/components/parameters/nope"}], "responses": {}}}}}
    source = write(tmp_path, "dangling.json", json.dumps(spec))
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(old_out))
    one_line_error(code, err, "no tools imported", "dangling_ref: 1", "left unchanged")
    assert old_out.read_text() == OLD_OUT


def test_openai_parameters_not_an_object_is_not_a_no_arg_tool(tmp_path, monkeypatch, capsys, old_out) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": "a string"}},
             {"type": "function", "function": {"name": "g", "parameters": ["a", "list"]}}]
    source = write(tmp_path, "openai.json", json.dumps(tools))
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openai", str(source), "--out", str(old_out))
    one_line_error(code, err, "no tools imported", "parameters_not_object: 2")
    assert old_out.read_text() == OLD_OUT


# --- what importers drop or change is reported --------------------------------------------


def test_reports_mcp_tool_without_input_schema_and_renamed_name(tmp_path, monkeypatch, capsys) -> None:
    payload = {"tools": [{"name": "bad name!", "inputSchema": {"type": "object"}}, {"name": "ping"},
                         {"name": "str", "inputSchema": "nope"}]}
    source = write(tmp_path, "mcp.json", json.dumps(payload))
    out = tmp_path / "out.json"
    code, stdout, err = fcsynth(monkeypatch, capsys, "import", "mcp", str(source), "--out", str(out))
    assert code == 0, err
    assert stdout.startswith("2 of 3 entries became tools, 1 skipped")
    assert "skipped parameters_not_object: 1" in stdout
    assert "flagged no_input_schema: 1  e.g. mcp/ping" in stdout
    assert "flagged renamed_invalid_name: 1  e.g. mcp/bad name!: 'bad name!' -> bad_name" in stdout
    assert [r["name"] for r in json.loads(out.read_text())] == ["bad_name", "ping"]


def test_reports_duplicate_yaml_keys(tmp_path, monkeypatch, capsys) -> None:
    spec = ("openapi: 3.0.0\ninfo: {title: dup, version: '1'}\npaths:\n"
            "  /a:\n    get: {operationId: first, responses: {}}\n"
            "  /a:\n    get: {operationId: second, responses: {}}\n")
    source = write(tmp_path, "dup.yaml", spec)
    code, stdout, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(tmp_path / "o.json"))
    assert code == 0, err
    assert "flagged duplicate_key: 1  e.g. " in stdout and "line 6: key '/a' (the later value is kept)" in stdout


def test_reports_duplicate_json_keys(tmp_path, monkeypatch, capsys) -> None:
    text = ('{"openapi": "3.0.0", "info": {"title": "dup", "version": "1"}, "paths": {'
            '"/a": {"get": {"operationId": "one", "responses": {}}}, "/a": {"post": {"operationId": "two", "responses": {}}}}}')
    source = write(tmp_path, "dup.json", text)
    code, stdout, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(tmp_path / "o.json"))
    assert code == 0, err
    assert "flagged duplicate_key: 1" in stdout and "key '/a'" in stdout


def test_reports_malformed_path_items_and_operations(tmp_path, monkeypatch, capsys) -> None:
    spec = {**GOOD, "paths": {**GOOD["paths"], "/list": ["not", "a", "mapping"], "/b": {"get": "not an operation"}}}
    source = write(tmp_path, "malformed.json", json.dumps(spec))
    code, stdout, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(tmp_path / "o.json"))
    assert code == 0, err
    assert stdout.startswith("1 of 3 operations became tools, 2 skipped")
    assert "skipped malformed_path_item: 1  e.g. good//list: a path item must be a mapping, not list" in stdout
    assert "skipped malformed_operation: 1  e.g. good/GET /b: an operation must be a mapping" in stdout


def test_reports_swagger_body_mixed_with_formdata_and_dropped_parameters(tmp_path, monkeypatch, capsys) -> None:
    spec = {"swagger": "2.0", "info": {"title": "mix", "version": "1"}, "paths": {"/m": {"post": {
        "operationId": "mixed",
        "parameters": [
            {"name": "payload", "in": "body", "required": True, "schema": {"type": "object", "properties": {"x": {"type": "string"}}}},
            {"name": "file", "in": "formData", "type": "file"},
            {"in": "query", "type": "string"},
            {"name": "odd", "in": "somewhere", "type": "string"},
        ],
        "responses": {"200": {"description": "ok"}},
    }}}}
    source = write(tmp_path, "mix.json", json.dumps(spec))
    out = tmp_path / "o.json"
    code, stdout, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(out))
    assert code == 0, err
    assert "flagged body_and_formdata: 1  e.g. mix/POST /m: formData parameters dropped (file); the body is kept" in stdout
    assert "flagged parameter_dropped: 2" in stdout
    assert set(json.loads(out.read_text())[0]["parameters"]["properties"]) == {"x"}


# --- tool files (`fcsynth grammar`, `format: catalog`) ------------------------------------


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"toolkit": "k", "name": "n"}', "expected a JSON list of tool records, not a dict"),
        ('["just a string"]', "[0]: not a tool record (a str, expected an object)"),
        ('[{"toolkit": "k", "name": "bad name!", "parameters": {"type": "object"}}]', "[0]: `name` 'bad name!' must match"),
        ('[{"toolkit": "k", "name": "get_weather\\n", "parameters": {"type": "object"}}]', "[0]: `name` 'get_weather\\n' must match"),
        ('[{"toolkit": "k\\n", "name": "n", "parameters": {"type": "object"}}]', "[0]: `toolkit` 'k\\n' must match"),
        ('[{"toolkit": "k", "name": "n", "parameters": "none"}]', "[0]: tool 'n': `parameters` must be a JSON Schema object, not a str"),
        ('[{"toolkit": "k", "name": "n", "parameters": {"type": "string"}}]', "must be a JSON Schema object, not type 'string'"),
    ],
)
def test_grammar_rejects_a_bad_tools_file(tmp_path, monkeypatch, capsys, content: str, needle: str) -> None:
    tools = write(tmp_path, "tools.json", content)
    code, _, err = fcsynth(monkeypatch, capsys, "grammar", str(tools))
    one_line_error(code, err, "tools.json", needle)


def test_grammar_rejects_a_directory_as_tools_file(tmp_path, monkeypatch, capsys) -> None:
    code, _, err = fcsynth(monkeypatch, capsys, "grammar", str(tmp_path))
    one_line_error(code, err, "is a directory")
