"""The rule-based curate checks on fabricated records, each both ways (caught and passed):
placeholder values, repeated calls, argument grounding, degenerate text; their metrics and
the check registry."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass

import pytest

from fcsynth.catalog.tools_file import read_tools_file
from fcsynth.constraints.example import example_messages
from fcsynth.constraints.example_values import example_strings
from fcsynth.curate import QUALITY_COLUMNS, QUALITY_REASONS, Check, Measured, assess, curate, judge_agreement, registry, summarize
from fcsynth.dml import parse_dml, render_dml, validate_record
from fcsynth.quality.degenerate import markup_fragments, repeated_ngram_share
from fcsynth.quality.grounding import found, grounding
from fcsynth.quality.leaves import argument_leaves
from fcsynth.quality.placeholders import is_generic, placeholders
from fcsynth.quality.repeats import repeated_calls
from fcsynth.tools import Tool

from helpers.fabricate import EVENT, SEND, conversation_row, curate_config, good_scores, grammar_options, judged_row, messages_for
from helpers.paths import REPO

CFG = curate_config(thresholds={"tool_use_quality": 4}, min_grounding=0.5)
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in (SEND, EVENT)}
FAB_TOOLS = [Tool("fab", t["function"]["name"], t["function"]["description"], t["function"]["parameters"]) for t in (SEND, EVENT)]


def call(name: str, args: dict, n: int) -> dict:
    return {"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": args}}


def response(n: int, name: str, content: dict) -> dict:
    return {"role": "tool", "tool_call_id": f"call_{n}", "name": name, "content": json.dumps(content)}


def row_with(messages: list[dict], row_id: str = "gmail_googlecalendar-0100", scores: dict | None = None) -> dict:
    """A judged row of the bundle selection carrying `messages`."""
    row = judged_row(conversation_row("gmail+googlecalendar", 1), scores or good_scores())
    return {**row, "id": row_id, "messages": json.dumps(messages)}


def decide(*rows: dict, cfg=CFG):
    _, decisions, metrics = curate(list(rows), cfg, lambda r: [])
    return {d["id"]: d for d in decisions}, metrics.as_dict()


# ---------------------------------------------------------------- placeholders


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


# ---------------------------------------------------------------- repeated calls

SEND_ARGS = {"to": "ana@corp.io", "subject": "Budget", "body": "See you."}
EVENT_ARGS = {"title": "Budget", "start": "2025-01-02T10:00:00Z"}


def test_identical_calls_without_new_information_are_caught():
    parallel = [{"role": "user", "content": "Email ana@corp.io about Budget."},
                {"role": "assistant", "content": "", "tool_calls": [call("send_email", SEND_ARGS, 1), call("send_email", SEND_ARGS, 2)]},
                response(1, "send_email", {"ok": True}), response(2, "send_email", {"ok": True}),
                {"role": "assistant", "content": "Sent."}]
    assert repeated_calls(parallel) == (2, [f"send_email {json.dumps(SEND_ARGS, sort_keys=True)}"])
    again = [*parallel[:2], response(1, "send_email", {"ok": True}),
             {"role": "assistant", "content": "", "tool_calls": [call("send_email", SEND_ARGS, 3)]}]
    again[1] = {"role": "assistant", "content": "", "tool_calls": [call("send_email", SEND_ARGS, 1)]}
    again += [response(3, "send_email", {"ok": True}), {"role": "assistant", "content": "Sent."}]
    assert len(repeated_calls(again)[1]) == 1  # its own response is no new information
    by_id, metrics = decide(row_with(again))
    assert next(iter(by_id.values()))["reason"] == "repeated_call" and metrics["rejected"]["repeated_call"] == 1
    assert metrics["quality"]["before"]["repeated_call_rate"] == 0.5


def test_calls_repeated_after_new_information_pass():
    other_args = {**SEND_ARGS, "subject": "Budget v2"}
    msgs = [{"role": "user", "content": "Email ana@corp.io about Budget."},
            {"role": "assistant", "content": "", "tool_calls": [call("send_email", SEND_ARGS, 1)]}, response(1, "send_email", {"ok": True}),
            {"role": "assistant", "content": "", "tool_calls": [call("create_event", EVENT_ARGS, 2)]}, response(2, "create_event", {"id": "e1"}),
            {"role": "assistant", "content": "", "tool_calls": [call("send_email", SEND_ARGS, 3)]}, response(3, "send_email", {"ok": True}),
            {"role": "assistant", "content": "Done."},
            {"role": "user", "content": "Send it once more please, and a v2."},
            {"role": "assistant", "content": "", "tool_calls": [call("send_email", SEND_ARGS, 4), call("send_email", other_args, 5)]},
            response(4, "send_email", {"ok": True}), response(5, "send_email", {"ok": True}), {"role": "assistant", "content": "Sent twice."}]
    assert repeated_calls(msgs) == (5, [])


# ---------------------------------------------------------------- grounding

SCHEMA = {
    "type": "object",
    "properties": {
        "query": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"]},
        "limit": {"type": "integer", "default": 10}, "urgent": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "when": {"anyOf": [{"type": "string", "const": "now"}, {"type": "string", "format": "date"}]},
    },
}


def test_enum_default_const_and_boolean_values_are_not_counted():
    args = {"query": "harbor", "unit": "C", "limit": 10, "urgent": True, "tags": ["a", "b"], "when": "now"}
    leaves = {(leaf.path, leaf.free) for leaf in argument_leaves(args, SCHEMA)}
    assert leaves == {("/query", True), ("/unit", False), ("/limit", False), ("/tags/[]", True), ("/when", False)}
    assert {leaf.free for leaf in argument_leaves({"limit": 25, "when": "2025-01-01"}, SCHEMA)} == {True}


def test_values_from_user_system_and_earlier_responses_are_grounded():
    msgs = [{"role": "system", "content": "You help the Finance team (team id FIN-22)."},
            {"role": "user", "content": "Find the Harbor Report, top 25 results, for our team."},
            {"role": "assistant", "content": "", "tool_calls": [call("search", {"query": "harbor report", "limit": 25, "team": "FIN-22"}, 1)]},
            response(1, "search", {"items": [{"doc_id": "d-991", "title": "Harbor Report \"2024\""}]}),
            {"role": "assistant", "content": "", "tool_calls": [call("open", {"doc_id": "d-991", "title": 'Harbor Report "2024"'}, 2)]},
            response(2, "open", {"ok": True}), {"role": "assistant", "content": "Opened."}]
    g = grounding(msgs, {"search": {"type": "object"}, "open": {"type": "object"}}, CFG.grounding_similarity)
    assert (g.values, g.grounded, g.share) == (5, 5, 1.0)


def test_invented_and_later_values_are_ungrounded():
    msgs = [{"role": "user", "content": "Find the report."},
            {"role": "assistant", "content": "", "tool_calls": [call("search", {"query": "report", "owner": "zed@corp.io", "limit": 7}, 1)]},
            response(1, "search", {"items": []}), {"role": "assistant", "content": "Nothing."},
            {"role": "user", "content": "Try zed@corp.io, limit 7."}]
    g = grounding(msgs, {"search": {"type": "object"}}, CFG.grounding_similarity)
    assert (g.values, g.grounded) == (3, 1) and g.share == round(1 / 3, 4)
    assert g.ungrounded == ["search /owner='zed@corp.io'", "search /limit=7"]
    assert found(1500, "a budget of 1,500 dollars", 90) and not found(15, "a budget of 1,500 dollars", 90)
    assert found("Quarterly budget review", "about 'quarterly budget-review' today", 90)
    assert not found("ab", "cabin", 90) and found("ab", "plan ab now", 90)


def test_curate_rejects_below_min_grounding_and_passes_above():
    invented = copy.deepcopy(messages_for("gmail", 2))
    invented[1]["tool_calls"][0]["function"]["arguments"].update(to="mo@other.org", subject="Unrelated subject line")
    grounded_row, ungrounded_row = row_with(messages_for("gmail", 2), "a-1"), row_with(invented, "b-1")
    by_id, metrics = decide(grounded_row, ungrounded_row)
    assert by_id["a-1"]["accepted"] and by_id["a-1"]["grounding"] >= CFG.min_grounding
    assert by_id["b-1"]["reason"] == "ungrounded" and by_id["b-1"]["grounding"] < CFG.min_grounding
    assert "mo@other.org" in json.loads(by_id["b-1"]["quality_notes"])["ungrounded"][0]
    q = metrics["quality"]
    assert q["after"]["grounding_mean"] == by_id["a-1"]["grounding"] > q["before"]["grounding_mean"]
    off, _ = decide(grounded_row, ungrounded_row, cfg=curate_config(thresholds={"tool_use_quality": 4}, min_grounding=0.0))
    assert off["b-1"]["accepted"] and off["b-1"]["grounding"] == by_id["b-1"]["grounding"]


# ---------------------------------------------------------------- degenerate text


def test_repeated_ngrams_are_caught_and_varied_text_passes():
    loop = ["I will check the calendar for you now. " * 6]
    assert repeated_ngram_share(loop, 4) > 0.7
    assert repeated_ngram_share([m["content"] for m in messages_for("gmail", 1) if m.get("content")], 4) == 0.0
    msgs = copy.deepcopy(messages_for("gmail", 4))
    msgs[-1]["content"] = "Done. " + "The email was sent to the team. " * 8
    by_id, metrics = decide(row_with(msgs))
    d = next(iter(by_id.values()))
    assert d["reason"] == "degenerate_text" and "4-gram share" in d["detail"] and metrics["rejected"]["degenerate_text"] == 1


@pytest.mark.parametrize("text", [
    'Sure! {"name": "send_email", "arguments": {}}', "Here it is: ```print(1)```", "Sent.&lt;br&gt;",
    "Done /assistant> user> hi", "ok<|im_end|>".replace("<", ""), "def send():\n    pass",
])
def test_markup_and_code_fragments_are_caught(text):
    assert markup_fragments(["Please email Ana.", text], asked="Email a colleague about the budget.")


def test_markup_passes_when_asked_for_and_plain_text_passes():
    assert markup_fragments(['Here is the JSON: {"a": 1}'], asked="Send me the config as JSON.") == []
    assert markup_fragments(["I sent the e-mail (subject: Budget) at 3 pm; Ana will reply.",
                             "Your link: https://calendly.test/user/ana-30min (a 30 min slot)."], asked="") == []
    msgs = copy.deepcopy(messages_for("gmail", 5))
    msgs[-1]["content"] = 'Done {"status": "sent"}'
    by_id, _ = decide(row_with(msgs))
    assert next(iter(by_id.values()))["reason"] == "degenerate_text"
    by_id, _ = decide(row_with(msgs), cfg=curate_config(thresholds={"tool_use_quality": 4}, reject_markup=False))
    d = next(iter(by_id.values()))
    assert d["accepted"] and d["markup_fragments"] == 1


# ---------------------------------------------------------------- metrics


def test_quality_values_metrics_and_off_switches():
    rows = [judged_row(conversation_row("gmail", k), good_scores()) for k in range(3)]
    rows.append(judged_row(conversation_row("gmail", 9, status="truncated"), None, "skipped"))
    copied = example_messages(FAB_TOOLS[:1], grammar_options(), key="gmail-0005")
    rows.append(row_with(copied, "gmail-0005"))
    by_id, m = decide(*rows)
    assert by_id["gmail-0009"]["grounding"] is None and by_id["gmail-0009"]["tool_calls"] is None
    assert m["quality_failures"]["placeholder"] == 1 and m["rejected"]["placeholder"] == 1
    before, after = m["quality"]["before"], m["quality"]["after"]
    assert before["conversations"] == 4 and after["conversations"] == 3
    assert before["placeholder_values"] > 0 and after["placeholder_values"] == after["placeholder_rate"] == 0
    assert after["repeated_call_rate"] == 0.0 and after["grounding_mean"] is not None
    assert summarize([by_id["gmail-0009"]])["grounding_mean"] is None
    off = curate_config(thresholds={"tool_use_quality": 4}, max_placeholder_values=None)
    by_id, m = decide(*rows, cfg=off)
    assert by_id["gmail-0005"]["reason"] != "placeholder" and m["quality_failures"]["placeholder"] == 0


def test_judge_agreement_spearman_and_means():
    decisions = [{"id": str(i), "tool_calls": 1, "grounding": g} for i, g in enumerate([0.1, 0.4, 0.5, 0.9])]
    scores = {str(i): {"argument_grounding": s} for i, s in enumerate([1, 2, 2, 5])}
    a = judge_agreement(decisions, scores)
    assert a["pairs"] == 4 and a["spearman"] == pytest.approx(0.9487, abs=1e-3)
    assert a["mean_grounding_by_score"] == {"1": 0.1, "2": 0.45, "5": 0.9}
    same = judge_agreement(decisions, {k: {"argument_grounding": 3} for k in scores})
    assert same["spearman"] is None and same["mean_grounding_by_score"] == {"3": 0.475}


def test_assess_reads_the_exported_record_shape():
    from fcsynth.chat.record import build_record

    q = assess(build_record(judged_row(conversation_row("gmail+googlecalendar", 2), good_scores())), registry(CFG))
    columns = q.columns()
    assert tuple(columns) == QUALITY_COLUMNS and q.failures() == []
    assert columns["tool_calls"] == 2 and 0.5 <= columns["grounding"] < 1


# ---------------------------------------------------------------- registry


@dataclass(frozen=True)
class LongConversation(Check):
    """A check only this test knows: more than `max_turns` messages."""

    name = "long_conversation"
    columns = ("turns",)
    max_turns: int

    def measure(self, record):
        return Measured({"turns": len(record["messages"])}, [f"{len(record['messages'])} messages"])

    def reject(self, measured):
        return f"{measured.values['turns']} turns" if measured.values["turns"] > self.max_turns else None


def test_the_registry_reads_each_checks_config_in_order():
    checks = registry(CFG)
    assert tuple(c.name for c in checks) == QUALITY_REASONS == ("placeholder", "repeated_call", "ungrounded", "degenerate_text")
    assert checks[2].min_grounding == CFG.min_grounding and checks[3].reject_markup is CFG.reject_markup


def test_a_check_added_to_the_registry_gets_its_own_reason_count():
    rows = [row_with(messages_for("gmail", k), f"gmail-{k:04d}") for k in range(3)]
    long_ = copy.deepcopy(messages_for("gmail", 3))
    long_ += [{"role": "user", "content": "And thank Ana, please."}, {"role": "assistant", "content": "I thanked Ana for you."}]
    rows.append(row_with(long_, "gmail-0003"))
    turns = len(long_) + 1  # the exported record starts with the system prompt
    checks = (*registry(CFG), LongConversation(max_turns=turns - 1))
    _, decisions, metrics = curate(rows, CFG, lambda r: [], checks)
    m = metrics.as_dict()
    assert m["rejected"]["long_conversation"] == m["quality_failures"]["long_conversation"] == 1
    assert sum(m["rejected"].values()) + m["records_out"] == m["records_in"] == 4
    d = next(d for d in decisions if d["id"] == "gmail-0003")
    assert d["reason"] == "long_conversation" and d["detail"] == f"{turns} turns" and d["turns"] == turns
    assert json.loads(d["quality_notes"]) == {"long_conversation": [f"{turns} messages"]}
    assert list(d)[-2:] == ["turns", "quality_notes"] and m["records_out"] == 3
