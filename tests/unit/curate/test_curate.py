"""The curate stage: thresholds, validation, upstream/judge failures, near duplicates, metrics."""

from __future__ import annotations

import json

import pytest

from fcsynth.curate import conversation_text, curate, minhash

from helpers.fabricate import conversation_row, curate_config, good_scores, judged_row
from helpers.paths import REPO

CFG = curate_config(thresholds={"tool_use_quality": 4, "naturalness": 3}, near_duplicate_threshold=0.8, num_perm=128)


def no_errors(record):
    return []


@pytest.fixture()
def judged():
    rows = [judged_row(conversation_row(sel, k), good_scores()) for sel in ("gmail", "googlecalendar") for k in range(4)]
    rows += [
        judged_row(conversation_row("gmail", 10), good_scores(tool_use_quality=3)),
        judged_row(conversation_row("gmail", 11), good_scores(tool_use_quality=2, naturalness=1)),
        judged_row(conversation_row("googlecalendar", 12), good_scores(naturalness=2)),
        judged_row(conversation_row("gmail", 13, status="truncated"), None, "upstream_failed"),
        judged_row(conversation_row("gmail", 14, status="unparseable"), None, "upstream_failed"),
        judged_row(conversation_row("googlecalendar", 15), None, "unparseable"),
    ]
    return rows


def test_reasons_partition_the_rejections(judged):
    accepted, decisions, metrics = curate(judged, CFG, no_errors)
    m = metrics.as_dict()
    assert m["records_in"] == 14 and m["records_out"] == len(accepted) == 8
    assert m["rejected"] == {
        "upstream_truncated": 1, "upstream_unparseable": 1, "upstream_engine_error": 0, "upstream_grammar_error": 0, "judge_truncated": 0, "judge_unparseable": 1, "judge_engine_error": 0, "judge_prompt_too_long": 0,
        "validation": 0, "placeholder": 0, "repeated_call": 0, "ungrounded": 0, "degenerate_text": 0, "score_tool_use_quality": 2, "score_naturalness": 1, "near_duplicate": 0,
    }
    assert sum(m["rejected"].values()) + m["records_out"] == m["records_in"]
    assert m["threshold_failures"] == {"tool_use_quality": 2, "naturalness": 2}  # every failed threshold counted
    assert m["acceptance_rate"] == round(8 / 14, 4)
    assert m["per_selection"]["gmail"] == {"records_in": 8, "accepted": 4, "acceptance_rate": 0.5}
    assert m["per_selection"]["googlecalendar"]["accepted"] == 4
    by_id = {d["id"]: d for d in decisions}
    assert by_id["gmail-0011"]["reason"] == "score_tool_use_quality" and "2 < 4" in by_id["gmail-0011"]["detail"]
    assert by_id["gmail-0013"]["detail"] == "truncated upstream"
    assert [r["id"] for r in accepted] == sorted(r["id"] for r in accepted)


def test_validator_sees_the_export_record_and_rejects(judged):
    seen = []

    def validator(record):
        seen.append(record)
        return ["tool call 1: unknown tool 'x'"] if record["id"] == "gmail-0002" else []

    accepted, decisions, metrics = curate(judged, CFG, validator)
    assert metrics.reasons["validation"] == 1
    assert next(d for d in decisions if d["id"] == "gmail-0002")["detail"] == "tool call 1: unknown tool 'x'"
    rec = seen[0]
    assert rec["messages"][0]["role"] == "system" and rec["tools"][0]["type"] == "function"


def test_near_duplicates_are_dropped_keeping_the_first(judged):
    twin = judged_row(conversation_row("gmail", 1), good_scores())
    twin["id"] = "gmail-0001b"
    msgs = json.loads(twin["messages"])
    msgs[-1]["content"] = msgs[-1]["content"] + " Thanks!"
    twin["messages"] = json.dumps(msgs)
    accepted, decisions, metrics = curate([*judged, twin], CFG, no_errors)
    d = next(d for d in decisions if d["id"] == "gmail-0001b")
    assert d["reason"] == "near_duplicate" and d["detail"] == "near duplicate of gmail-0001"
    assert metrics.reasons["near_duplicate"] == 1 and metrics.as_dict()["near_duplicate_rate"] == round(1 / 9, 4)
    # distinct conversations of the same template are not duplicates
    assert metrics.records_out == 8


def test_minhash_similarity_tracks_text_overlap():
    a = conversation_text(json.loads(conversation_row("gmail", 1)["messages"]))
    b = conversation_text(json.loads(conversation_row("gmail", 2)["messages"]))
    assert "send_email" in a and "person1@example.com" in a
    assert minhash(a, 128).jaccard(minhash(a, 128)) == 1.0
    assert minhash(a, 128).jaccard(minhash(b, 128)) < 0.8


def test_rows_failing_checks_never_shadow_a_later_duplicate():
    low = judged_row(conversation_row("gmail", 1), good_scores(tool_use_quality=1))
    low["id"] = "a-low"
    high = judged_row(conversation_row("gmail", 1), good_scores())
    high["id"] = "b-high"
    accepted, _, _ = curate([low, high], CFG, no_errors)
    assert [r["id"] for r in accepted] == ["b-high"]


def test_unknown_threshold_key_is_a_config_error():
    import yaml

    from fcsynth.config import parse_config
    from fcsynth.errors import FcsynthError

    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["curate"]["thresholds"] = {"tool_quality": 4}
    with pytest.raises(FcsynthError, match="curate.thresholds"):
        parse_config(data)
    data["curate"]["thresholds"] = {"tool_use_quality": 6}
    with pytest.raises(FcsynthError, match="curate.thresholds.tool_use_quality"):
        parse_config(data)


def test_real_validator_accepts_fabricated_good_records(judged):
    dml = pytest.importorskip("fcsynth.dml")
    if not hasattr(dml, "validate_record"):
        pytest.skip("fcsynth.dml.validate_record not there yet")
    accepted, decisions, metrics = curate(judged, CFG)
    assert metrics.reasons["validation"] == 0, [d["detail"] for d in decisions if d["reason"] == "validation"]
    assert metrics.records_out == 8


def test_real_validator_rejects_a_schema_violation(judged):
    dml = pytest.importorskip("fcsynth.dml")
    if not hasattr(dml, "validate_record"):
        pytest.skip("fcsynth.dml.validate_record not there yet")
    bad = judged_row(conversation_row("gmail", 20), good_scores())
    msgs = json.loads(bad["messages"])
    del msgs[1]["tool_calls"][0]["function"]["arguments"]["subject"]  # a required argument
    bad["messages"] = json.dumps(msgs)
    _, decisions, metrics = curate([*judged, bad], CFG)
    assert metrics.reasons["validation"] == 1
    assert "subject" in next(d for d in decisions if d["id"] == "gmail-0020")["detail"]
