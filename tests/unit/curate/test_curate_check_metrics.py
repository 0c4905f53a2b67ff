"""The curate checks' quality metrics, judge agreement and the check registry (a check added to it counts)."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass

import pytest

from fcsynth.constraints.example import example_messages
from fcsynth.curate import QUALITY_COLUMNS, QUALITY_REASONS, Check, Measured, assess, curate, judge_agreement, registry, summarize

from helpers.curate_checks import CFG, FAB_TOOLS, decide, row_with
from helpers.fabricate import conversation_row, curate_config, good_scores, grammar_options, judged_row, messages_for

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
