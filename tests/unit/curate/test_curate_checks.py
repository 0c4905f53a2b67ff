"""The rule-based curate checks on fabricated records, both ways: repeated calls, argument grounding, degenerate text."""

from __future__ import annotations

import copy
import json

import pytest

from fcsynth.quality.degenerate import markup_fragments, repeated_ngram_share
from fcsynth.quality.grounding import found, grounding
from fcsynth.quality.leaves import argument_leaves
from fcsynth.quality.repeats import repeated_calls

from helpers.curate_checks import CFG, call, decide, response, row_with
from helpers.fabricate import curate_config, messages_for

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
