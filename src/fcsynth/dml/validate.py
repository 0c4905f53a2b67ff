"""Validate exported records (`{"messages", "tools", ...}`) without any LLM.

Each failure is `"<reason>: <detail>"`; `reason` is a stable label counted by
`fcsynth validate`. `arguments` may be an object or a JSON string; in Parquet `messages`
and `tools` may be JSON strings.

Hostile records fail with a reason instead of hanging or crashing: a tool schema's regexes
run with a time limit (fcsynth.schema_regex), and a tool schema or arguments nested deeper
than MAX_DEPTH levels (the catalog's limit) are `schema_too_deep` / `arguments_too_deep`,
a JSONL line too deep for Python's JSON parser included.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import jsonschema

from fcsynth import schema_regex
from fcsynth.schema_keywords import MAX_DEPTH

ROLES = ("system", "user", "assistant", "tool")
# A JSONL line too deep for json.loads is read with containers below this depth emptied: a
# tool schema or arguments (at most 6 levels below the record) cut so is still too deep.
CUT_DEPTH = MAX_DEPTH + 16
_RECURSION = "too deeply for jsonschema to check (Python's recursion limit)"
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


_TOO_DEEP: Any = object()  # tool_schemas value of a schema nested too deeply (reported once)


class SchemaTooDeep(Exception):
    """A tool schema nested too deeply to check (the message says how)."""


def _loads(text: str) -> Any:
    """json.loads; a text nested too deeply for it (RecursionError) is read with the
    containers below CUT_DEPTH emptied (so it is too deep, not unreadable)."""
    try:
        return json.loads(text)
    except RecursionError:
        return json.loads(cut_deep(text, CUT_DEPTH))


def cut_deep(text: str, depth_limit: int) -> str:
    """JSON `text` with the contents of every container below `depth_limit` levels removed."""
    kept: list[str] = []
    depth, keep_from, cut_at = 0, 0, None
    for m in _JSON_TOKEN.finditer(text):
        token = m.group()
        if token[0] == '"':
            continue
        if token in "[{":
            depth += 1
            if depth == depth_limit + 1 and cut_at is None:
                kept.append(text[keep_from:m.end()])
                cut_at = depth
        else:
            if depth == cut_at:
                keep_from, cut_at = m.start(), None
            depth -= 1
    if cut_at is None:
        kept.append(text[keep_from:])
    return "".join(kept)


def _cell(value: Any) -> Any:
    """fcsynth.tables.json_cell, reading text too deep for json.loads as `_loads` does."""
    if isinstance(value, str):
        try:
            return _loads(value)
        except ValueError:  # not JSON, or an integer past Python's digit limit
            return value
    return value


def deeper_than(value: Any, levels: int) -> bool:
    """True when `value` nests lists and objects more than `levels` deep (without recursing)."""
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        if depth > levels:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def tool_schemas(tools: Any) -> dict[str, Any]:
    """name -> parameters schema, from OpenAI-style `tools` (or flat tool records)."""
    tools = _cell(tools)
    out: dict[str, Any] = {}
    if not isinstance(tools, list):
        return out
    for entry in tools:
        entry = _cell(entry)
        if not isinstance(entry, dict):
            continue
        fn = entry.get("function", entry)
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            out[fn["name"]] = _cell(fn.get("parameters", {"type": "object"}))
    return out


@lru_cache(maxsize=2048)
def _validator(schema_json: str) -> Any:
    schema = json.loads(schema_json)
    if deeper_than(schema, MAX_DEPTH):
        raise SchemaTooDeep(f"nests deeper than {MAX_DEPTH} levels")
    cls = schema_regex.validator_for(schema)
    try:
        schema_regex.check_schema(cls, schema)
    except RecursionError:
        raise SchemaTooDeep(f"nests {_RECURSION}") from None
    return cls(schema)


def _argument_errors(schema: Any, arguments: Any) -> list[str]:
    """argument_errors; SchemaTooDeep for a schema nested too deeply to check."""
    try:
        validator = _validator(json.dumps(schema, sort_keys=True))
    except RecursionError:
        raise SchemaTooDeep(f"nests {_RECURSION}") from None
    except jsonschema.SchemaError as err:
        cause = f" ({err.cause})" if err.cause is not None else ""
        return [f"tool schema is invalid: {err.message}{cause}"]
    try:
        return [e.message for e in validator.iter_errors(arguments)]
    except RecursionError:
        return [f"the arguments nest {_RECURSION}"]


def argument_errors(schema: Any, arguments: Any) -> list[str]:
    """jsonschema messages for `arguments` against `schema` ([] when valid); a schema's
    regexes run with a time limit (fcsynth.schema_regex)."""
    try:
        return _argument_errors(schema, arguments)
    except SchemaTooDeep as err:
        return [f"tool schema {err}"]


def validate_record(record: dict[str, Any]) -> list[str]:
    """Failure reasons of one record ([] when valid)."""
    messages = _cell(record.get("messages"))
    if not isinstance(messages, list) or not messages:
        return ["no_messages: messages must be a non-empty list"]
    schemas = tool_schemas(record.get("tools"))
    deep = [name for name, schema in schemas.items() if deeper_than(schema, MAX_DEPTH)]
    failures = [_too_deep(name, f"nests deeper than {MAX_DEPTH} levels") for name in deep]
    schemas.update(dict.fromkeys(deep, _TOO_DEEP))
    pending: list[dict[str, Any]] = []  # calls of the last assistant step still unanswered
    seen_ids: set[str] = set()
    expect = "user"  # what may come next: user | assistant | tool | after_tools | after_final
    for i, raw in enumerate(messages):
        msg = _cell(raw)
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
            args = _loads(args)
        except ValueError:  # not JSON, or an integer past Python's digit limit
            return [*out, f"arguments_not_json: {name}"]
    if not isinstance(args, dict):
        return [*out, f"arguments_not_object: {name}"]
    if schemas[name] is _TOO_DEEP:
        return out  # said once for the record
    if deeper_than(args, MAX_DEPTH):
        return [*out, f"arguments_too_deep: {name}: the arguments nest deeper than {MAX_DEPTH} levels"]
    try:
        errors = _argument_errors(schemas[name], args)
    except SchemaTooDeep as err:
        return [*out, _too_deep(name, str(err))]
    if errors:
        out.append(f"arguments_invalid: {name}: {errors[0]}")
    return out


def _too_deep(tool: str, how: str) -> str:
    return f"schema_too_deep: tool {tool!r} schema {how}"


def reason_label(failure: str) -> str:
    """The stable label of a failure string (`"unknown_tool: ..."` -> `"unknown_tool"`)."""
    return failure.split(":", 1)[0]
