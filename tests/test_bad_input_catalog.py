"""Bad input to `fcsynth import`, tool files and the catalog stage: one line on stderr naming
the problem, a non-zero exit, and an existing output left as it was. Every fixture is made here."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
import yaml

from fcsynth.cli import main
from fcsynth.stage import run_stage

REPO = Path(__file__).resolve().parents[1]
GOOD = {"openapi": "3.0.0", "info": {"title": "good", "version": "1"},
        "paths": {"/a": {"get": {"operationId": "getA", "responses": {"200": {"description": "ok"}}}}}}
OLD_OUT = '[{"kept": "the earlier import"}]\n'


def fcsynth(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run the `fcsynth` entry point in-process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["fcsynth", *args])
    code = 0
    try:
        main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, *needles: str) -> str:
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def old_out(tmp_path: Path) -> Path:
    out = tmp_path / "tools.json"
    out.write_text(OLD_OUT)
    return out


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


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
    import fcsynth.catalog.source as source_mod

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


# --- the catalog stage ---------------------------------------------------------------------


def _project(tmp_path: Path, sources: list[dict]) -> Path:
    (tmp_path / "data" / "builtin_tools").mkdir(parents=True)
    (tmp_path / "data" / "sources").mkdir()
    kit = [{"toolkit": "kit", "name": "ping", "description": "Ping.", "parameters": {"type": "object", "properties": {}}}]
    (tmp_path / "data" / "builtin_tools" / "kit.json").write_text(json.dumps(kit))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["catalog"] = {**params["catalog"], "sources": sources}
    params["toolkits"] = {"toolkits": ["kit"], "bundles": [], "weights": {}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "data" / "catalog" / "tools.parquet"
    out.parent.mkdir(parents=True)
    out.write_bytes(b"the earlier catalog")
    return tmp_path


def _run_stage(root: Path, capsys) -> tuple[int, str]:
    sys.path.insert(0, str(REPO / "stages"))
    try:
        import catalog as stage  # stages/catalog.py
    finally:
        sys.path.pop(0)
    code = 0
    try:
        run_stage("catalog", lambda: stage.main(root))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    return code, capsys.readouterr().err


def test_stage_source_yielding_no_tools(tmp_path, capsys) -> None:
    root = _project(tmp_path, [{"format": "openai", "path": "data/sources/empty.json", "toolkit": "e"}])
    (root / "data" / "sources" / "empty.json").write_text("[]")
    code, err = _run_stage(root, capsys)
    one_line_error(code, err, "fcsynth catalog: error:", "data/sources/empty.json (openai) yields no tools")
    assert (root / "data" / "catalog" / "tools.parquet").read_bytes() == b"the earlier catalog"


def test_stage_catalog_file_with_non_records(tmp_path, capsys) -> None:
    root = _project(tmp_path, [{"format": "catalog", "path": "data/sources/records.json"}])
    (root / "data" / "sources" / "records.json").write_text('[{"toolkit": "x", "name": "ok", "parameters": {}}, 42]')
    code, err = _run_stage(root, capsys)
    one_line_error(code, err, "data/sources/records.json[1]: not a tool record (a int, expected an object)")
    assert (root / "data" / "catalog" / "tools.parquet").read_bytes() == b"the earlier catalog"


def test_stage_alias_bomb_source(tmp_path, capsys) -> None:
    root = _project(tmp_path, [{"format": "mcp", "path": "data/sources/bomb.yaml"}])
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    (root / "data" / "sources" / "bomb.yaml").write_text("\n".join(lines) + "\ntools: *a8\n")
    code, err = _run_stage(root, capsys)
    one_line_error(code, err, "catalog.sources:", "bomb.yaml: expands to more than")
    assert (root / "data" / "catalog" / "tools.parquet").read_bytes() == b"the earlier catalog"
