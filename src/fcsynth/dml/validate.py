"""Validate exported records (`{"messages", "tools", ...}`) without any LLM.

Each failure is `"<reason>: <detail>"`; `reason` is a stable label counted by
`fcsynth validate`. `arguments` may be an object or a JSON string; in Parquet `messages`
and `tools` may be JSON strings.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from fcsynth.errors import FcsynthError
from fcsynth.tables import json_cell
from fcsynth.userfiles import check_user_file, read_user_text

ROLES = ("system", "user", "assistant", "tool")




def tool_schemas(tools: Any) -> dict[str, Any]:
    """name -> parameters schema, from OpenAI-style `tools` (or flat tool records)."""
    tools = json_cell(tools)
    out: dict[str, Any] = {}
    if not isinstance(tools, list):
        return out
    for entry in tools:
        entry = json_cell(entry)
        if not isinstance(entry, dict):
            continue
        fn = entry.get("function", entry)
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            out[fn["name"]] = json_cell(fn.get("parameters", {"type": "object"}))
    return out


@lru_cache(maxsize=2048)
def _validator(schema_json: str) -> Any:
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema)


def argument_errors(schema: Any, arguments: Any) -> list[str]:
    """jsonschema messages for `arguments` against `schema` ([] when valid)."""
    try:
        validator = _validator(json.dumps(schema, sort_keys=True))
    except jsonschema.SchemaError as err:
        return [f"tool schema is invalid: {err.message}"]
    return [e.message for e in validator.iter_errors(arguments)]


def validate_record(record: dict[str, Any]) -> list[str]:
    """Failure reasons of one record ([] when valid)."""
    messages = json_cell(record.get("messages"))
    if not isinstance(messages, list) or not messages:
        return ["no_messages: messages must be a non-empty list"]
    schemas = tool_schemas(record.get("tools"))
    failures: list[str] = []
    pending: list[dict[str, Any]] = []  # calls of the last assistant step still unanswered
    seen_ids: set[str] = set()
    expect = "user"  # what may come next: user | assistant | tool | after_tools | after_final
    for i, raw in enumerate(messages):
        msg = json_cell(raw)
        if not isinstance(msg, dict) or msg.get("role") not in ROLES:
            failures.append(f"bad_message: message {i} is not a message with a known role")
            return failures
        role = msg["role"]
        if role == "system":
            if i != 0:
                failures.append(f"turn_order: system message at position {i}")
            continue
        if role == "tool":
            if not pending:
                failures.append(f"unexpected_tool_message: message {i} answers no pending call")
                return failures
            call_id = msg.get("tool_call_id")
            match = next((c for c in pending if c.get("id") == call_id), None)
            if match is None:
                failures.append(f"tool_call_id_mismatch: message {i} answers {call_id!r}, not a pending call")
                return failures
            pending.remove(match)
            if "name" in msg and msg["name"] != match.get("function", {}).get("name"):
                failures.append(f"tool_name_mismatch: message {i} is named {msg['name']!r}")
            if not isinstance(msg.get("content"), str):
                failures.append(f"bad_tool_content: message {i} content must be a string")
            expect = "tool" if pending else "after_tools"
            continue
        if pending:
            names = ", ".join(str(c.get("function", {}).get("name")) for c in pending)
            failures.append(f"missing_tool_response: {names} not answered before message {i}")
            return failures
        if role == "user":
            if expect not in ("user", "after_final"):
                failures.append(f"turn_order: user message {i} before the assistant finished its turn")
                return failures
            if not isinstance(msg.get("content"), str) or not msg["content"].strip():
                failures.append(f"empty_text: user message {i}")
            expect = "assistant"
            continue
        # assistant
        if expect not in ("assistant", "after_tools"):
            failures.append(f"turn_order: assistant message {i} where a {expect} message was expected")
            return failures
        if "reasoning_content" in msg and msg["reasoning_content"] is not None and not isinstance(msg["reasoning_content"], str):
            failures.append(f"bad_reasoning: message {i} reasoning_content must be a string")
        calls = msg.get("tool_calls") or []
        if not calls:
            if not isinstance(msg.get("content"), str) or not msg["content"].strip():
                failures.append(f"empty_text: assistant message {i} has neither tool calls nor text")
            expect = "after_final"
            continue
        for call in calls:
            failures.extend(_check_call(call, i, schemas, seen_ids))
        pending = [c for c in calls if isinstance(c, dict)]
        expect = "tool"
    if pending:
        failures.append("missing_tool_response: the conversation ends with unanswered calls")
    elif expect != "after_final":
        failures.append("turn_order: the conversation does not end with assistant text")
    return failures


def _check_call(call: Any, i: int, schemas: dict[str, Any], seen_ids: set[str]) -> list[str]:
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        return [f"bad_tool_call: message {i} has a malformed tool call"]
    out: list[str] = []
    call_id = call.get("id")
    if not isinstance(call_id, str) or not call_id:
        out.append(f"bad_tool_call_id: message {i} has a call without an id")
    elif call_id in seen_ids:
        out.append(f"duplicate_tool_call_id: {call_id}")
    else:
        seen_ids.add(call_id)
    if call.get("type", "function") != "function":
        out.append(f"bad_tool_call: message {i} call type {call.get('type')!r}")
    name = call["function"].get("name")
    if name not in schemas:
        return [*out, f"unknown_tool: {name!r} is not in the record's tools"]
    args = call["function"].get("arguments", {})
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            return [*out, f"arguments_not_json: {name}"]
    if not isinstance(args, dict):
        return [*out, f"arguments_not_object: {name}"]
    errors = argument_errors(schemas[name], args)
    if errors:
        out.append(f"arguments_invalid: {name}: {errors[0]}")
    return out


def reason_label(failure: str) -> str:
    """The stable label of a failure string (`"unknown_tool: ..."` -> `"unknown_tool"`)."""
    return failure.split(":", 1)[0]


@dataclass
class FileReport:
    """What `fcsynth validate` found in one file."""

    records: int = 0
    invalid: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # reason -> first "id: failure"


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records of a JSONL or Parquet dataset file."""
    check_user_file(path)
    if path.suffix == ".parquet":
        import polars as pl

        try:
            return pl.read_parquet(path).to_dicts()
        except Exception as err:  # polars raises many kinds for a bad file
            raise FcsynthError(f"{path}: not a readable Parquet file: {err}") from None
    records = []
    for n, line in enumerate(read_user_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise FcsynthError(f"{path}:{n}: not valid JSON: {err.msg}") from None
    return records


def validate_file(path: Path) -> FileReport:
    """Validate every record of a dataset file."""
    report = FileReport()
    for n, record in enumerate(read_records(path)):
        report.records += 1
        failures = validate_record(record) if isinstance(record, dict) else ["bad_record: not an object"]
        if failures:
            report.invalid += 1
            for failure in failures:
                label = reason_label(failure)
                report.reasons[label] += 1
                report.examples.setdefault(label, f"{record.get('id', n) if isinstance(record, dict) else n}: {failure}")
    return report
