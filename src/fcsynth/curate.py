"""The `curate` stage: acceptance (judge thresholds + independent validation) and
conversation-level near-duplicate removal (MinHash/LSH over the conversation text).

Each judged row gets one decision with its first failing reason, checked in this order:
upstream status, judge status, validation, score thresholds, near duplicate. Duplicates
are looked for only among rows that passed everything else, in id order, so the first
of a near-duplicate group is kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from datasketch import MinHash, MinHashLSH

from fcsynth.config import CurateConfig
from fcsynth.export import build_record
from fcsynth.metrics import StageMetrics
from fcsynth.rows import CONVERSATION_FAILURES, DIMENSIONS, JUDGE_FAILURES

STAGE = "curate"
Validator = Callable[[dict[str, Any]], list[str]]
_WORD = re.compile(r"\w+", re.UNICODE)
SHINGLE = 3  # words per shingle


def default_validator() -> Validator:
    """The independent record validator of the DML module."""
    from fcsynth.dml import validate_record

    return validate_record


def reason_keys(cfg: CurateConfig) -> list[str]:
    """Every rejection reason this config can produce (so metrics always list them all)."""
    return [
        *[f"upstream_{s}" for s in CONVERSATION_FAILURES], *[f"judge_{s}" for s in JUDGE_FAILURES], "validation",
        *[f"score_{d}" for d in DIMENSIONS if d in cfg.thresholds], "near_duplicate",
    ]


def conversation_text(messages: list[dict[str, Any]]) -> str:
    """What near-duplicate detection compares: the words of every turn, call and result."""
    parts = []
    for m in messages:
        if m.get("content"):
            parts.append(str(m["content"]))
        for c in m.get("tool_calls") or []:
            args = c["function"].get("arguments")
            parts.append(c["function"]["name"] + " " + (args if isinstance(args, str) else json.dumps(args, sort_keys=True)))
    return " ".join(parts)


def minhash(text: str, num_perm: int) -> MinHash:
    """MinHash of a text's word 3-gram shingles (lower-cased; short texts use what they have)."""
    words = _WORD.findall(text.lower())
    shingles = {" ".join(words[i:i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1))}
    m = MinHash(num_perm=num_perm, seed=1)
    for s in sorted(shingles):
        m.update(s.encode())
    return m


def first_failure(row: dict[str, Any], cfg: CurateConfig, validate: Validator) -> tuple[str | None, str | None]:
    """(reason, detail) of the first failed check before dedup, or (None, None)."""
    if row["status"] != "ok":
        return f"upstream_{row['status']}", row.get("reason")
    if row["judge_status"] != "ok":
        return f"judge_{row['judge_status']}", None
    errors = validate(build_record(row))
    if errors:
        return "validation", "; ".join(errors[:5])
    scores = json.loads(row["scores"])
    for dim in DIMENSIONS:
        if dim in cfg.thresholds and scores[dim] < cfg.thresholds[dim]:
            return f"score_{dim}", f"{dim}={scores[dim]} < {cfg.thresholds[dim]}"
    return None, None


def curate(
    rows: list[dict[str, Any]], cfg: CurateConfig, validate: Validator | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], StageMetrics]:
    """(accepted rows, one decision per row, metrics). Rows are processed in id order."""
    validate = validate or default_validator()
    metrics = StageMetrics(STAGE, records_in=len(rows))
    for key in reason_keys(cfg):
        metrics.reject(key, 0)
    lsh = MinHashLSH(threshold=cfg.near_duplicate_threshold, num_perm=cfg.num_perm)
    hashes: dict[str, MinHash] = {}
    accepted, decisions = [], []
    threshold_failures = {d: 0 for d in DIMENSIONS if d in cfg.thresholds}
    for row in sorted(rows, key=lambda r: r["id"]):
        if row.get("scores") and row["judge_status"] == "ok":
            scores = json.loads(row["scores"])
            for d in threshold_failures:
                threshold_failures[d] += scores[d] < cfg.thresholds[d]
        reason, detail = first_failure(row, cfg, validate)
        if reason is None:
            m = minhash(conversation_text(json.loads(row["messages"])), cfg.num_perm)
            twins = sorted(k for k in lsh.query(m) if hashes[k].jaccard(m) >= cfg.near_duplicate_threshold)
            if twins:
                reason, detail = "near_duplicate", f"near duplicate of {twins[0]}"
            else:
                lsh.insert(row["id"], m)
                hashes[row["id"]] = m
        if reason:
            metrics.reject(reason)
        else:
            accepted.append(row)
        decisions.append({
            "id": row["id"], "selection": row["selection"], "accepted": reason is None,
            "reason": reason, "detail": detail,
        })
    metrics.records_out = len(accepted)
    candidates = len(hashes) + metrics.reasons["near_duplicate"]
    metrics.extra.update(
        acceptance_rate=_rate(len(accepted), len(rows)),
        per_selection=_per_selection(decisions),
        threshold_failures=threshold_failures,
        near_duplicate_rate=_rate(metrics.reasons["near_duplicate"], candidates),
    )
    return accepted, decisions, metrics


def _rate(n: int, d: int) -> float:
    return round(n / d, 4) if d else 0.0


def _per_selection(decisions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for sel in sorted({d["selection"] for d in decisions}):
        group = [d for d in decisions if d["selection"] == sel]
        ok = sum(d["accepted"] for d in group)
        out[sel] = {"records_in": len(group), "accepted": ok, "acceptance_rate": _rate(ok, len(group))}
    return out
