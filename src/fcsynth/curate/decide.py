"""One decision per judged row: the first failing reason, checked in this order: upstream
status, judge status, validation, the rule-based quality checks, score thresholds, near
duplicate. Duplicates are looked for only among rows that passed everything else, in id
order, so the first of a near-duplicate group is kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from fcsynth.chat.record import RECORD_INPUT_COLUMNS, build_record
from fcsynth.config import CurateConfig
from fcsynth.curate.checks import QUALITY_COLUMNS, Check, Quality, assess, empty_columns, registry
from fcsynth.curate.near_duplicates import NearDuplicates
from fcsynth.curate.stats import judge_agreement, rate, summarize
from fcsynth.metrics import StageMetrics
from fcsynth.rows import CONVERSATION_FAILURES, DIMENSIONS, JUDGE_FAILURES

STAGE = "curate"
# The data/judged.parquet columns curation reads (stages/curate.py checks them).
JUDGED_COLUMNS = (*RECORD_INPUT_COLUMNS, "status", "judge_status", "scores")
# The columns of data/curation.parquet: one decision per judged row.
DECISION_COLUMNS = ("id", "selection", "accepted", "reason", "detail", *QUALITY_COLUMNS)
Validator = Callable[[dict[str, Any]], list[str]]


def default_validator() -> Validator:
    """The independent record validator of the DML module."""
    from fcsynth.dml import validate_record

    return validate_record


def reason_keys(cfg: CurateConfig, checks: Sequence[Check] | None = None) -> list[str]:
    """Every rejection reason this config (and `checks`, default its registry) can produce,
    so metrics always list them all."""
    return [
        *[f"upstream_{s}" for s in CONVERSATION_FAILURES], *[f"judge_{s}" for s in JUDGE_FAILURES], "validation",
        *[c.name for c in (registry(cfg) if checks is None else checks)],
        *[f"score_{d}" for d in DIMENSIONS if d in cfg.thresholds], "near_duplicate",
    ]


def first_failure(
    row: dict[str, Any], cfg: CurateConfig, validate: Validator, quality: Quality | None
) -> tuple[str | None, str | None]:
    """(reason, detail) of the first failed check before dedup, or (None, None)."""
    if row["status"] != "ok":
        return f"upstream_{row['status']}", row.get("reason")
    if row["judge_status"] != "ok":
        return f"judge_{row['judge_status']}", None
    errors = validate(build_record(row))
    if errors:
        return "validation", "; ".join(errors[:5])
    failed = quality.failures() if quality else []
    if failed:
        return failed[0]
    scores = json.loads(row["scores"])
    for dim in DIMENSIONS:
        if dim in cfg.thresholds and scores[dim] < cfg.thresholds[dim]:
            return f"score_{dim}", f"{dim}={scores[dim]} < {cfg.thresholds[dim]}"
    return None, None


def curate(
    rows: list[dict[str, Any]], cfg: CurateConfig, validate: Validator | None = None, checks: Sequence[Check] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], StageMetrics]:
    """(accepted rows, one decision per row with its quality values, metrics), in id order.
    `checks`: the rule-based checks (default: the registry built from `cfg`)."""
    validate = validate or default_validator()
    checks = registry(cfg) if checks is None else checks
    metrics = StageMetrics(STAGE, records_in=len(rows))
    for key in reason_keys(cfg, checks):
        metrics.reject(key, 0)
    dedup = NearDuplicates(cfg.near_duplicate_threshold, cfg.num_perm)
    accepted, decisions = [], []
    threshold_failures = {d: 0 for d in DIMENSIONS if d in cfg.thresholds}
    quality_failures = dict.fromkeys((c.name for c in checks), 0)
    for row in sorted(rows, key=lambda r: r["id"]):
        if row.get("scores") and row["judge_status"] == "ok":
            scores = json.loads(row["scores"])
            for d in threshold_failures:
                threshold_failures[d] += scores[d] < cfg.thresholds[d]
        quality = _assess(row, checks)
        for reason, _ in quality.failures() if quality else []:
            quality_failures[reason] += 1
        reason, detail = first_failure(row, cfg, validate, quality)
        if reason is None:
            twin = dedup.twin_of(row["id"], json.loads(row["messages"]))
            if twin:
                reason, detail = "near_duplicate", f"near duplicate of {twin}"
        if reason:
            metrics.reject(reason)
        else:
            accepted.append(row)
        decisions.append({
            "id": row["id"], "selection": row["selection"], "accepted": reason is None,
            "reason": reason, "detail": detail, **(quality.columns() if quality else empty_columns(checks)),
        })
    metrics.records_out = len(accepted)
    scores_by_id = {r["id"]: json.loads(r["scores"]) for r in rows if r.get("scores") and r["judge_status"] == "ok"}
    metrics.extra.update(
        acceptance_rate=rate(len(accepted), len(rows)),
        per_selection=_per_selection(decisions),
        threshold_failures=threshold_failures,
        near_duplicate_rate=dedup.rate,
        quality_failures=quality_failures,
        quality={"before": summarize(decisions), "after": summarize([d for d in decisions if d["accepted"]])},
        grounding_vs_judge=judge_agreement(decisions, scores_by_id),
    )
    return accepted, decisions, metrics


def _assess(row: dict[str, Any], checks: Sequence[Check]) -> Quality | None:
    """The quality of a parsed conversation; None when there is none, or when it is too
    malformed to read (validation rejects those)."""
    if not row.get("messages"):
        return None
    try:
        return assess(build_record(row), checks)
    except (KeyError, TypeError, AttributeError):
        return None


def _per_selection(decisions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for sel in sorted({d["selection"] for d in decisions}):
        group = [d for d in decisions if d["selection"] == sel]
        ok = sum(d["accepted"] for d in group)
        out[sel] = {"records_in": len(group), "accepted": ok, "acceptance_rate": rate(ok, len(group))}
    return out
