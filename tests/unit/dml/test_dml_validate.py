"""validate_record, `fcsynth validate` and `fcsynth grammar` (no LLM)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from fcsynth.constraints.match import match_error
from fcsynth.dml import validate_record

from helpers.dml_turns import BASE, E_ARGS, E_RESP, TOOLS, W_ARGS, W_RESP, turn

OPENAI_TOOLS = [t.to_openai() for t in TOOLS]


def record(messages: list[dict], **extra) -> dict:
    return {"id": "r1", "messages": messages, "tools": OPENAI_TOOLS, **extra}


def labels(failures: list[str]) -> list[str]:
    return [f.split(":", 1)[0] for f in failures]


def test_valid_record_with_system_prompt_and_string_arguments():
    msgs = copy.deepcopy(turn("x", [[("get_weather", W_ARGS, W_RESP), ("send_email", E_ARGS, E_RESP)]]))
    for call in msgs[1]["tool_calls"]:
        call["function"]["arguments"] = json.dumps(call["function"]["arguments"])
    assert validate_record(record([{"role": "system", "content": "You help."}, *msgs])) == []
    # Parquet style: messages and tools as JSON strings
    assert validate_record({"messages": json.dumps(msgs), "tools": json.dumps(OPENAI_TOOLS)}) == []


def _mutate(fn) -> list[str]:
    msgs = copy.deepcopy(BASE)
    fn(msgs)
    return labels(validate_record(record(msgs)))


def _set_args(args):
    return lambda m: m[1]["tool_calls"][0]["function"].__setitem__("arguments", args)


@pytest.mark.parametrize(
    "mutation, expected",
    [
        (lambda m: m[1]["tool_calls"][0]["function"].__setitem__("name", "nope"), "unknown_tool"),
        (_set_args({"city": "Paris"}), "arguments_invalid"),
        (_set_args({"city": "Paris", "unit": "K"}), "arguments_invalid"),
        (_set_args({"city": "Paris", "unit": "C", "days": "2"}), "arguments_invalid"),
        (_set_args({"city": "Paris", "unit": "C", "zip": 1}), "arguments_invalid"),
        (_set_args("{not json"), "arguments_not_json"),
        (_set_args("[1, 2]"), "arguments_not_object"),
        (lambda m: m.pop(2), "missing_tool_response"),
        (lambda m: m[2].__setitem__("tool_call_id", "call_9"), "tool_call_id_mismatch"),
        (lambda m: m[2].__setitem__("name", "send_email"), "tool_name_mismatch"),
        (lambda m: m.pop(), "turn_order"),
        (lambda m: m.pop(0), "turn_order"),
        (lambda m: m.insert(1, {"role": "user", "content": "again"}), "turn_order"),
        (lambda m: m[-1].__setitem__("content", "  "), "empty_text"),
        (lambda m: m[1]["tool_calls"][0].pop("id"), "bad_tool_call_id"),
        (lambda m: m.append({"role": "tool", "tool_call_id": "x", "content": "{}"}), "unexpected_tool_message"),
        (lambda m: m.__setitem__(slice(None), []), "no_messages"),
    ],
)
def test_invalid_records_report_their_reason(mutation, expected):
    assert expected in _mutate(mutation)


def test_duplicate_call_ids_across_turns():
    msgs = turn("a", [[("get_weather", W_ARGS, W_RESP)]]) + turn("b", [[("get_weather", W_ARGS, W_RESP)]], start=1)
    assert "duplicate_tool_call_id" in labels(validate_record(record(msgs)))


def test_flat_tool_records_are_accepted_as_tools():
    flat = [{"name": t.name, "parameters": t.parameters} for t in TOOLS]
    assert validate_record({"messages": BASE, "tools": flat}) == []


def _fcsynth(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fcsynth.cli", *args], capture_output=True, text=True, cwd=cwd)


def _write_dataset(tmp_path: Path) -> tuple[Path, Path]:
    good = record(BASE, id="good")
    bad_msgs = copy.deepcopy(BASE)
    bad_msgs[1]["tool_calls"][0]["function"]["name"] = "nope"
    bad = record(bad_msgs, id="bad")
    jsonl = tmp_path / "train.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in (good, bad, good)) + "\n")
    parquet = tmp_path / "train.parquet"
    pl.DataFrame(
        [{"id": r["id"], "messages": json.dumps(r["messages"]), "tools": json.dumps(r["tools"])} for r in (good, bad)]
    ).write_parquet(parquet)
    return jsonl, parquet


def test_cli_validate_counts_reasons_and_exits_nonzero(tmp_path):
    jsonl, parquet = _write_dataset(tmp_path)
    out = _fcsynth("validate", str(jsonl))
    assert out.returncode == 1
    assert "3 records, 2 valid, 1 invalid" in out.stdout and "unknown_tool: 1" in out.stdout
    out = _fcsynth("validate", str(parquet))
    assert out.returncode == 1 and "2 records, 1 valid, 1 invalid" in out.stdout
    clean = tmp_path / "clean.jsonl"
    clean.write_text(json.dumps(record(BASE)) + "\n")
    out = _fcsynth("validate", str(clean))
    assert out.returncode == 0 and "1 valid, 0 invalid" in out.stdout
    out = _fcsynth("validate", str(tmp_path / "missing.jsonl"))
    assert out.returncode == 1 and out.stderr.startswith("fcsynth: error:") and "Traceback" not in out.stderr


def test_cli_grammar_prints_an_assistant_turn_grammar(tmp_path):
    """`fcsynth grammar`: a turn of two parallel calls with known identifiers only; an
    unknown email is rejected, and without known values the email tool is not offered."""
    from dataclasses import replace

    email = replace(TOOLS[1], parameters={**TOOLS[1].parameters, "properties": {
        **TOOLS[1].parameters["properties"], "to": {"type": "string", "format": "email"}}})
    tools_file = tmp_path / "tools.json"
    tools_file.write_text(json.dumps([t.to_record() for t in (TOOLS[0], email, TOOLS[2])]))
    out = _fcsynth("grammar", str(tools_file), "--thinking", "--mode", "call", "--min-calls", "2", "--max-calls", "2",
                   "--known", "bob@example.com", "--max-text-chars", "100")
    assert out.returncode == 0, out.stderr
    lark = out.stdout
    assert "max_tokens: " in out.stderr
    calls = "\n".join(
        f'<tool_call>\n{{"name": "{name}", "arguments": {json.dumps(args)}}}\n</tool_call>'
        for name, args in (("get_weather", W_ARGS), ("send_email", E_ARGS)))
    assert match_error(lark, "<think>Need the weather.</think>" + calls) is None
    assert match_error(lark, "<think>x</think>" + calls.replace("bob@example.com", "eve@example.com")) is not None
    assert match_error(lark, "<think>x</think>Just text.") is not None  # --mode call: calls only
    unknown = _fcsynth("grammar", str(tools_file))
    assert '"send_email"' not in unknown.stdout and "not offered" in unknown.stderr and "send_email" in unknown.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    out = _fcsynth("grammar", str(bad))
    assert out.returncode == 1 and "expected a JSON list" in out.stderr


# -- hostile records: regexes that backtrack forever, schemas nested thousands deep ------------

def _one_call_record(rid: str, parameters: dict | str, arguments: dict | str, **extra) -> str:
    """A JSONL line: one call of tool 'x' (schema `parameters`, raw JSON text when a str)."""
    params = parameters if isinstance(parameters, str) else json.dumps(parameters)
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    call = f'{{"id": "call_1", "type": "function", "function": {{"name": "x", "arguments": {args}}}}}'
    tool = f'{{"type": "function", "function": {{"name": "x", "description": "X.", "parameters": {params}}}}}'
    messages = (f'[{{"role": "user", "content": "do x"}}, {{"role": "assistant", "content": "", "tool_calls": [{call}]}}, '
                '{"role": "tool", "tool_call_id": "call_1", "name": "x", "content": "{}"}, '
                '{"role": "assistant", "content": "done"}]')
    more = "".join(f", {json.dumps(k)}: {v}" for k, v in extra.items())
    return f'{{"id": "{rid}", "messages": {messages}, "tools": [{tool}]{more}}}\n'


def _validate_cli(path: Path) -> subprocess.CompletedProcess:
    """`fcsynth validate PATH` as users run it; a hang fails the test instead of blocking it."""
    return subprocess.run([sys.executable, "-m", "fcsynth.cli", "validate", str(path)],
                          capture_output=True, text=True, timeout=60)


def test_cli_validate_bounds_the_time_of_tool_schema_regexes(tmp_path):
    """A catastrophically backtracking `pattern` (in `re`: hours) fails its record with a reason
    naming the pattern within the time limit; `(a+)+$` (the `regex` engine needs no backtracking)
    is a plain mismatch, and an ECMA-262 `\\p{L}` class works."""
    string = {"type": "object", "properties": {"q": {"type": "string", "pattern": "^(a|aa)+$"}}}
    nested = {"type": "object", "properties": {"q": {"type": "string", "pattern": "(a+)+$"}}}
    letters = {"type": "object", "properties": {"q": {"type": "string", "pattern": "^\\p{L}+$"}}}
    keys = {"type": "object", "patternProperties": {"^(a|aa)+$": {}}, "additionalProperties": False}
    path = tmp_path / "hostile.jsonl"
    path.write_text(_one_call_record("redos", string, {"q": "a" * 60 + "!"})
                    + _one_call_record("nested", nested, {"q": "a" * 36 + "!"})
                    + _one_call_record("letters", letters, {"q": "héllo"})
                    + _one_call_record("keys", keys, {"a" * 60 + "!": 1}))
    out = _validate_cli(path)
    assert out.returncode == 1, out.stderr
    assert "4 records, 1 valid, 3 invalid" in out.stdout
    assert ("arguments_invalid: 3  (e.g. line 1 (id 'redos'): arguments_invalid: x: pattern '^(a|aa)+$' took over "
            "0.1 s on a 61-char value; treated as not matching)") in out.stdout
    assert out.stderr == f"fcsynth: error: {path}: 3 of 4 records invalid\n"


def test_cli_validate_names_the_tool_whose_schema_nests_too_deeply(tmp_path):
    """5,000 levels (json.loads itself gives up at about 1,000): a reason naming the record's line,
    id and tool, not a RecursionError; deep arguments and a deep unchecked field too."""
    deep_schema = '{"type": "object", "properties": {"a": ' * 5000 + '{"type": "string"}' + "}}" * 5000
    deep_value = "[" * 5000 + "]" * 5000
    flat = {"type": "object", "properties": {"a": {}}}
    path = tmp_path / "deep.jsonl"
    path.write_text(_one_call_record("ok", flat, {"a": 1})
                    + _one_call_record("deep-schema", deep_schema, {"a": {}})
                    + _one_call_record("deep-args", flat, '{"a": ' + deep_value + "}")
                    + _one_call_record("deep-args-text", flat, json.dumps('{"a": ' + deep_value + "}"))
                    + _one_call_record("deep-extra", flat, {"a": 1}, meta=deep_value))
    out = _validate_cli(path)
    assert out.returncode == 1, out.stderr
    assert "5 records, 1 valid, 4 invalid" in out.stdout
    assert ("schema_too_deep: 1  (e.g. line 2 (id 'deep-schema'): schema_too_deep: tool 'x' schema nests deeper "
            "than 200 levels)") in out.stdout
    assert ("arguments_too_deep: 2  (e.g. line 3 (id 'deep-args'): arguments_too_deep: x: the arguments nest "
            "deeper than 200 levels)") in out.stdout
    assert "too_deep: 1  (e.g. line 5 (id 'deep-extra'): too_deep: the record nests deeper than 200 levels)" in out.stdout
    assert out.stderr == f"fcsynth: error: {path}: 4 of 5 records invalid\n"


def test_schemas_deep_enough_to_exhaust_jsonschema_are_a_reason():
    """Within the 200 levels, jsonschema's metaschema check can still run out of Python stack."""
    schema: dict = {"type": "string"}
    for _ in range(99):  # 199 levels of JSON
        schema = {"type": "object", "properties": {"a": schema}}
    msgs = [{"role": "user", "content": "do x"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "x", "arguments": {"a": {}}}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "{}"}, {"role": "assistant", "content": "done"}]
    failures = validate_record({"messages": msgs, "tools": [{"name": "x", "parameters": schema}]})
    assert failures == ["schema_too_deep: tool 'x' schema nests too deeply for jsonschema to check (Python's recursion limit)"]
