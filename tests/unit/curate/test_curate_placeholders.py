"""The placeholder check of curate: generic values, copies of the prompt example, both ways (caught and passed)."""

from __future__ import annotations

import copy
import json

import pytest

from fcsynth.catalog.tools_file import read_tools_file
from fcsynth.constraints.example import example_messages
from fcsynth.constraints.example_values import example_strings
from fcsynth.dml import parse_dml, render_dml, validate_record
from fcsynth.quality.leaves import argument_leaves
from fcsynth.quality.placeholders import is_generic, placeholders
from fcsynth.quality.repeats import repeated_calls

from helpers.curate_checks import CFG, FAB_TOOLS, SCHEMAS, call, decide, response, row_with
from helpers.fabricate import SEND, grammar_options, messages_for
from helpers.paths import REPO


@pytest.mark.parametrize("value", [
    "example id", "Example fileId", "example_thread_id", "<file_id>", "{{recipient}}", "string", "xxx", "XXXXXX",
    "TODO", "base64 content", "Base64-encoded file content", "Lorem ipsum dolor sit amet", "your_api_key",
    "insert name here", "placeholder", "n/a", "...",
])
def test_generic_placeholders_are_caught(value):
    assert is_generic(value)


@pytest.mark.parametrize("value", [
    "Quarterly budget review", "person1@example.com", "string quartet tickets", "todo list for friday",
    "xxl t-shirt", "base64 decoder notes", "Test plan for the Q3 release", "2025-03-10T13:00:00Z", "Your order shipped",
])
def test_real_values_are_no_generic_placeholders(value):
    assert not is_generic(value)


def test_placeholder_words_count_only_where_the_schema_says_free():
    """'text', 'none', 'base64' are real enum members of APIs: flagged only as free arguments."""
    schemas = {"send": {"type": "object", "properties": {"kind": {"type": "string", "enum": ["text", "image"]},
                                                         "body": {"type": "string"}}}}
    msgs = [{"role": "user", "content": "Send 'hello' as a text message."},
            {"role": "assistant", "content": "", "tool_calls": [call("send", {"kind": "text", "body": "hello"}, 1)]},
            response(1, "send", {"type": "text", "encoding": "base64", "status": "none"}),
            {"role": "assistant", "content": "Sent."}]
    assert placeholders("r-1", msgs, schemas, 90)[1] == []
    msgs[1]["tool_calls"][0]["function"]["arguments"]["body"] = "text"
    msgs[2]["content"] = json.dumps({"type": "text", "data": "base64 content"})
    assert placeholders("r-1", msgs, schemas, 90)[1] == [
        "send argument /body: generic placeholder 'text'", "send response /data: generic placeholder 'base64 content'"]


def test_a_copied_example_is_rejected_and_its_values_named():
    options = grammar_options()
    row_id = "gmail_googlecalendar-0007"
    copied = example_messages(FAB_TOOLS, options, key=row_id)
    _, found_ = placeholders(row_id, copied, SCHEMAS, CFG.example_similarity)
    args = copied[1]["tool_calls"][0]["function"]["arguments"]
    assert any(args["to"] in f and "copied from the prompt example" in f for f in found_), found_
    assert any("user turn copies the prompt example" in f for f in found_)
    by_id, metrics = decide(row_with(copied, row_id))
    assert by_id[row_id]["reason"] == "placeholder" and by_id[row_id]["placeholder_values"] == len(found_)
    assert metrics["rejected"]["placeholder"] == 1 and metrics["quality"]["before"]["placeholder_rate"] > 0.5


def test_the_example_of_another_conversation_is_no_copy():
    """Values vary per record id: the example drawn for one id is not a copy for another."""
    other = example_messages(FAB_TOOLS, grammar_options(), key="some-other-id")
    _, found_ = placeholders("gmail_googlecalendar-0007", other, SCHEMAS, CFG.example_similarity)
    assert not [f for f in found_ if "copied from the prompt example" in f and "user turn" not in f]


def test_near_copies_and_truncations_are_caught_but_nearby_dates_are_not():
    row_id = "gmail-0042"
    strings = sorted(example_strings(row_id, "send_email", SEND["function"]["parameters"]))
    subject = next(s for s in strings if " " in s)  # a "word noun 1234" text value
    for variant, caught in [(subject.upper() + ".", True), (subject[: len(subject) - 2], True), ("Quarterly budget review", False)]:
        msgs = copy.deepcopy(messages_for("gmail", 1))
        msgs[1]["tool_calls"][0]["function"]["arguments"]["subject"] = variant
        _, found_ = placeholders(row_id, msgs, SCHEMAS, CFG.example_similarity)
        assert bool(found_) is caught, (variant, found_)
    ex = example_messages(FAB_TOOLS[1:], grammar_options(), key=row_id)
    start = ex[1]["tool_calls"][0]["function"]["arguments"]["start"]
    next_day = start[:8] + f"{int(start[8:10]) % 28 + 1:02d}" + start[10:]
    msgs = copy.deepcopy(messages_for("googlecalendar", 1))
    for value, caught in [(start, True), (next_day, False)]:
        msgs[1]["tool_calls"][0]["function"]["arguments"]["start"] = value
        _, found_ = placeholders(row_id, msgs, SCHEMAS, CFG.example_similarity)
        assert bool(found_) is caught, (value, found_)


def test_placeholders_in_tool_responses_are_caught():
    msgs = copy.deepcopy(messages_for("gmail", 3))
    msgs[2]["content"] = json.dumps({"status": "sent", "id": "example id"})
    by_id, _ = decide(row_with(msgs))
    d = next(iter(by_id.values()))
    assert d["reason"] == "placeholder" and "send_email response /id" in d["detail"]


@pytest.mark.parametrize("key", ["gmail-0000", "calendly-0003", "jira+todoist-0011"])
def test_examples_stay_valid_per_key_and_curate_knows_them(key):
    for path in sorted((REPO / "data" / "builtin_tools").glob("*.json"))[:5]:
        tools = read_tools_file(path)[:6]
        for options in (grammar_options(), grammar_options(thinking=True)):
            msgs = example_messages(tools, options, key=key)
            text = render_dml(msgs)
            assert parse_dml(text) == msgs
            assert validate_record({"messages": msgs, "tools": [t.to_openai() for t in tools]}) == []
            schemas = {t.name: t.parameters for t in tools}
            _, found_ = placeholders(key, msgs, schemas, CFG.example_similarity)
            strings = [leaf.value for m in msgs for c in m.get("tool_calls") or []
                       for leaf in argument_leaves(c["function"]["arguments"], schemas[c["function"]["name"]])
                       if isinstance(leaf.value, str) and leaf.free]
            assert strings and len([f for f in found_ if " argument " in f]) == len(strings), (path.name, found_)
    a, b = (render_dml(example_messages(tools, grammar_options(), key=k)) for k in ("a-0001", "a-0002"))
    assert a != b and "example" not in a.lower()


def test_the_example_never_repeats_a_call():
    tools = read_tools_file(REPO / "data" / "builtin_tools" / "gmail.json")
    msgs = example_messages(tools, grammar_options(), key="x")
    assert repeated_calls(msgs)[1] == []
    assert sum(len(m.get("tool_calls") or []) for m in msgs) >= 2
