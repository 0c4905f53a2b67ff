"""Evaluation metrics on hand-made (gold, predicted) pairs."""

from __future__ import annotations

import pytest

from fcsynth.evaluate.metrics import (
    Call,
    aggregate,
    canonical_call,
    canonical_calls,
    score_step,
    summarize,
)

SEND = Call("send_email", {"to": "bob@x.com", "subject": "Hi", "cc": ["a@x.com"]})
EVENT = Call("create_event", {"title": "Sync", "start": "2024-05-01T10:00", "duration": 30})


def test_identical_calls_score_one() -> None:
    s = score_step([SEND], [Call("send_email", {"subject": "Hi", "cc": ["a@x.com"], "to": "bob@x.com"})])
    assert s["exact"] and s["name_match"]
    assert s["function_call_match"] == 1.0
    assert s["arg_tp"] == s["arg_pred"] == s["arg_gold"] == 3


def test_reordered_parallel_calls_match() -> None:
    s = score_step([SEND, EVENT], [EVENT, SEND])
    assert s["exact"] and s["name_match"] and s["function_call_match"] == 1.0


def test_one_argument_off() -> None:
    wrong = Call("send_email", {**SEND.arguments, "subject": "Hello"})
    s = score_step([SEND], [wrong])
    assert not s["exact"]
    assert s["name_match"]
    assert 0.8 < s["function_call_match"] < 1.0
    assert (s["arg_tp"], s["arg_pred"], s["arg_gold"]) == (2, 3, 3)


def test_wrong_name() -> None:
    s = score_step([SEND], [Call("send_message", SEND.arguments)])
    assert not s["exact"] and not s["name_match"]
    assert s["arg_tp"] == 0  # triples carry the tool name
    assert 0.5 < s["function_call_match"] < 1.0


def test_extra_call() -> None:
    s = score_step([SEND], [SEND, EVENT])
    assert not s["exact"] and not s["name_match"]
    assert (s["arg_tp"], s["arg_pred"], s["arg_gold"]) == (3, 6, 3)
    assert s["function_call_match"] < 1.0


def test_missing_call() -> None:
    s = score_step([SEND, EVENT], [SEND])
    assert not s["exact"] and not s["name_match"]
    assert (s["arg_tp"], s["arg_pred"], s["arg_gold"]) == (3, 3, 6)


def test_text_instead_of_call() -> None:
    s = score_step([SEND], [])
    assert not s["exact"] and not s["name_match"]
    assert s["function_call_match"] < 0.2
    assert s["arg_pred"] == 0


def test_call_instead_of_text_fails_no_call() -> None:
    assert score_step(None, [SEND])["no_call"] is False
    assert score_step(None, [])["no_call"] is True
    assert score_step(None, [Call("", "{broken", malformed=True)])["no_call"] is False


def test_arguments_json_string_equals_object() -> None:
    as_string = Call("send_email", '{"cc": ["a@x.com"], "subject": "Hi", "to": "bob@x.com"}')
    assert canonical_call(as_string) == canonical_call(SEND)
    s = score_step([as_string], [SEND])
    assert s["exact"] and s["function_call_match"] == 1.0 and s["arg_tp"] == 3


def test_integral_float_equals_int() -> None:
    assert score_step([EVENT], [Call("create_event", {**EVENT.arguments, "duration": 30.0})])["exact"]
    assert not score_step([EVENT], [Call("create_event", {**EVENT.arguments, "duration": 30.5})])["exact"]


def test_canonical_list_is_order_free() -> None:
    assert canonical_calls([SEND, EVENT]) == canonical_calls([EVENT, SEND])


def test_duplicate_calls_count_as_multiset() -> None:
    assert not score_step([SEND], [SEND, SEND])["exact"]
    assert score_step([SEND, SEND], [SEND, SEND])["exact"]


def _row(selection: str, gold: list[Call] | None, pred: list[Call], **extra: object) -> dict:
    return {"selection": selection, **score_step(gold, pred), **extra}


def test_aggregate_definitions() -> None:
    rows = [
        _row("gmail", [SEND], [SEND], prompt_tokens=10, completion_tokens=5),
        _row("gmail", [SEND], [Call("send_message", SEND.arguments)], prompt_tokens=10, completion_tokens=5),
        _row("gmail", None, [], prompt_tokens=7, completion_tokens=2),
        _row("gmail", None, [SEND], prompt_tokens=7, completion_tokens=2, finish_reason="length"),
    ]
    a = aggregate(rows)
    assert (a["steps"], a["call_steps"], a["text_steps"]) == (4, 2, 2)
    assert a["exact_match"] == 0.5 and a["tool_name_accuracy"] == 0.5
    assert a["no_call_accuracy"] == 0.5
    assert a["step_accuracy"] == 0.5
    assert a["argument_precision"] == 0.5 and a["argument_recall"] == 0.5 and a["argument_f1"] == 0.5
    assert 0.5 < a["function_call_match"] < 1.0
    assert (a["prompt_tokens"], a["completion_tokens"], a["truncated"]) == (34, 14, 1)


def test_aggregate_without_call_steps_leaves_call_figures_empty() -> None:
    a = aggregate([_row("x", None, [])])
    assert a["exact_match"] is None and a["argument_f1"] is None and a["no_call_accuracy"] == 1.0


def test_argument_free_calls_have_perfect_argument_scores() -> None:
    a = aggregate([_row("x", [Call("ping", {})], [Call("ping", {})])])
    assert a["argument_precision"] == a["argument_recall"] == a["argument_f1"] == 1.0
    b = aggregate([_row("x", [Call("ping", {})], [])])
    assert b["argument_f1"] == 1.0 and b["exact_match"] == 0.0


def test_summarize_per_selection() -> None:
    rows = [_row("gmail", [SEND], [SEND]), _row("gmail+jira", [SEND], [])]
    s = summarize(rows)
    assert s["overall"]["exact_match"] == 0.5
    assert s["by_selection"]["gmail"]["exact_match"] == 1.0
    assert s["by_selection"]["gmail+jira"]["exact_match"] == 0.0
    assert list(s["by_selection"]) == ["gmail", "gmail+jira"]


@pytest.mark.parametrize(
    "message",
    [
        {"id": "c", "type": "function", "function": {"name": "send_email", "arguments": SEND.arguments}},
        {"function": {"name": "send_email", "arguments": '{"to":"bob@x.com","subject":"Hi","cc":["a@x.com"]}'}},
        {"name": "send_email", "arguments": SEND.arguments},
    ],
)
def test_call_from_message_shapes(message: dict) -> None:
    assert canonical_call(Call.from_message(message)) == canonical_call(SEND)
