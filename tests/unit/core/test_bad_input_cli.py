"""Bad input to `fcsynth validate` and `fcsynth grammar`, usage errors and --debug: one line on stderr, non-zero exit."""

from __future__ import annotations

import json

import pytest

from fcsynth.errors import DEBUG_ENV

from helpers.stage_project import PARAMS, fcsynth, jsonl, one_line, record, write

GOOD_TOOL = {"toolkit": "kit", "name": "search", "description": "Search.", "parameters": PARAMS}


# ---------------------------------------------------------------- fcsynth validate

@pytest.mark.parametrize(
    ("name", "content", "needles"),
    [
        ("empty.jsonl", b"", ("empty.jsonl", "no records")),
        ("blank.jsonl", b"\n  \n\n", ("blank.jsonl", "no records")),
        ("latin1.jsonl", "{\"id\": \"caf\xe9\"}\n".encode("latin-1"), ("latin1.jsonl", "not UTF-8", "0xe9")),
        ("broken.jsonl", jsonl(record("a")) + '{"id": "b", "messages": [\n', ("broken.jsonl:2", "not valid JSON")),
        ("garbage.parquet", b"PAR1 not really", ("garbage.parquet", "not a readable Parquet file")),
    ],
)
def test_validate_bad_files(monkeypatch, capsys, tmp_path, name, content, needles):
    path = write(tmp_path / name, content)
    code, _, err = fcsynth(monkeypatch, capsys, "validate", str(path))
    assert code == 1
    one_line(err, *needles)


def test_validate_directory_and_missing_file(monkeypatch, capsys, tmp_path):
    code, _, err = fcsynth(monkeypatch, capsys, "validate", str(tmp_path))
    assert code == 1
    one_line(err, str(tmp_path), "is a directory")
    code, _, err = fcsynth(monkeypatch, capsys, "validate", str(tmp_path / "nope.jsonl"))
    assert code == 1
    one_line(err, "nope.jsonl", "not found")


def test_validate_invalid_record_counts_and_fails(monkeypatch, capsys, tmp_path):
    bad = record("b", messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "",
                 "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "nosuch", "arguments": {}}}]}])
    path = write(tmp_path / "d.jsonl", jsonl(record("a"), bad))
    code, out, err = fcsynth(monkeypatch, capsys, "validate", str(path))
    assert code == 1
    assert "2 records, 1 valid, 1 invalid" in out and "unknown_tool" in out
    one_line(err, "d.jsonl", "1 of 2 records invalid")


# ---------------------------------------------------------------- fcsynth grammar

@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (b"\xff\xfe[]", ("not UTF-8", "0xff")),
        ('{"tools": []}', ("expected a JSON list of tool records",)),
        ("[1, 2]", ("[0]: not a tool record", "int")),
        (json.dumps([GOOD_TOOL, "search"]), ("[1]: not a tool record", "str")),
        (json.dumps([{"toolkit": "kit", "parameters": PARAMS}]), ("[0]: `name` is missing",)),
        (json.dumps([{**GOOD_TOOL, "parameters": "a string"}]), ("tool 'search'", "`parameters` must be a JSON Schema object", "str")),
        (json.dumps([{**GOOD_TOOL, "parameters": ["q"]}]), ("`parameters` must be a JSON Schema object", "list")),
        (json.dumps([{**GOOD_TOOL, "name": 7}]), ("`name` is missing or not a string",)),
        ("[]", ("no tools",)),
        ('[{"toolkit": "kit",', ("not valid JSON",)),
    ],
)
def test_grammar_bad_tools_files(monkeypatch, capsys, tmp_path, content, needles):
    path = write(tmp_path / "tools.json", content)
    code, out, err = fcsynth(monkeypatch, capsys, "grammar", str(path))
    assert code == 1 and out == ""
    one_line(err, "tools.json", *needles)


def test_grammar_directory(monkeypatch, capsys, tmp_path):
    code, _, err = fcsynth(monkeypatch, capsys, "grammar", str(tmp_path))
    assert code == 1
    one_line(err, "is a directory")


def test_grammar_good_file_still_prints_a_grammar(monkeypatch, capsys, tmp_path):
    path = write(tmp_path / "tools.json", json.dumps([GOOD_TOOL]))
    code, out, err = fcsynth(monkeypatch, capsys, "grammar", str(path))
    assert code == 0 and "search" in out and "Traceback" not in err


def test_usage_error_is_one_line_exit_2(monkeypatch, capsys, tmp_path):
    path = write(tmp_path / "tools.json", json.dumps([GOOD_TOOL]))
    code, _, err = fcsynth(monkeypatch, capsys, "grammar", str(path), "--max-calls", "many")
    assert code == 2
    one_line(err, "--max-calls", "integer", prefix="fcsynth grammar: error: ")
    code, _, err = fcsynth(monkeypatch, capsys, "validate")
    assert code == 2
    one_line(err, "Missing argument", prefix="fcsynth validate: error: ")


# ---------------------------------------------------------------- debug and the catch-all

def test_unexpected_exception_is_one_line_with_type_and_hint(monkeypatch, capsys, tmp_path):
    import fcsynth.dml.validate_file as validate

    def broken(path):
        raise RuntimeError("internal\nbug")

    monkeypatch.setattr(validate, "validate_file", broken)
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    code, _, err = fcsynth(monkeypatch, capsys, "validate", str(write(tmp_path / "d.jsonl", jsonl(record("a")))))
    assert code == 1
    one_line(err, "RuntimeError: internal bug", "--debug", f"{DEBUG_ENV}=1")


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_traceback_then_the_line(monkeypatch, capsys, tmp_path, how):
    args = ["validate", str(tmp_path)]
    if how == "flag":
        args.insert(0, "--debug")
    else:
        monkeypatch.setenv(DEBUG_ENV, "1")
    code, _, err = fcsynth(monkeypatch, capsys, *args)
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1] == f"fcsynth: error: {tmp_path}: is a directory, expected a file"
