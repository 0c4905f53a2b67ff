"""Quality figures over curation decisions (metrics/curate.json and the report's plots):
placeholder, repeated-call and grounding rates, the grounding histogram, and how rule-based
grounding agrees with the judge's argument_grounding score."""

from __future__ import annotations

import math
from typing import Any

import polars as pl

JUDGE_DIMENSION = "argument_grounding"  # the rubric dimension rule-based grounding is compared with
BINS = 10  # grounding histogram: [0, 0.1), ..., [0.9, 1.0]


def rate(n: float, d: float) -> float:
    """n / d rounded to 4 places (0 when d is 0)."""
    return round(n / d, 4) if d else 0.0


def _measured(decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in decisions if d.get("tool_calls") is not None]


def summarize(decisions: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals and rates of the quality values over the decisions that carry them."""
    rows = _measured(decisions)
    total = lambda key: sum(d[key] for d in rows)
    grounded = [d["grounding"] for d in rows if d["grounding"] is not None]
    return {
        "conversations": len(rows),
        "tool_calls": total("tool_calls"),
        "repeated_calls": total("repeated_calls"),
        "repeated_call_rate": rate(total("repeated_calls"), total("tool_calls")),
        "checked_values": total("checked_values"),
        "placeholder_values": total("placeholder_values"),
        "placeholder_rate": rate(total("placeholder_values"), total("checked_values")),
        "conversations_with_placeholders": sum(d["placeholder_values"] > 0 for d in rows),
        "argument_values": total("argument_values"),
        "grounded_values": total("grounded_values"),
        "grounded_share": rate(total("grounded_values"), total("argument_values")),
        "grounding_mean": round(sum(grounded) / len(grounded), 4) if grounded else None,
        "repeated_ngram_share_mean": rate(sum(d["repeated_ngram_share"] for d in rows), len(rows)),
        "conversations_with_markup": sum(d["markup_fragments"] > 0 for d in rows),
    }


def grounding_histogram(decisions: list[dict[str, Any]]) -> list[int]:
    """Conversations per grounding bin ([0, 0.1) ... [0.9, 1.0], 1.0 in the last bin)."""
    counts = [0] * BINS
    for d in _measured(decisions):
        if d["grounding"] is not None:
            counts[min(int(d["grounding"] * BINS), BINS - 1)] += 1
    return counts


def judge_agreement(decisions: list[dict[str, Any]], scores_by_id: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Spearman correlation between rule grounding and the judge's argument_grounding score,
    and the mean rule grounding per judge score (None where undefined, e.g. constant scores)."""
    pairs = [
        (d["grounding"], scores_by_id[d["id"]][JUDGE_DIMENSION])
        for d in _measured(decisions)
        if d["grounding"] is not None and JUDGE_DIMENSION in scores_by_id.get(d["id"], {})
    ]
    out: dict[str, Any] = {"pairs": len(pairs), "spearman": None, "mean_grounding_by_score": {}, "conversations_by_score": {}}
    if not pairs:
        return out
    df = pl.DataFrame(pairs, schema={"grounding": pl.Float64, "score": pl.Int64}, orient="row")
    if len(pairs) > 2:
        rho = df.select(pl.corr("grounding", "score", method="spearman")).item()
        out["spearman"] = None if rho is None or math.isnan(rho) else round(rho, 4)
    by_score = df.group_by("score").agg(pl.col("grounding").mean().round(4), pl.len().alias("n")).sort("score")
    out["mean_grounding_by_score"] = {str(s): g for s, g, _ in by_score.iter_rows()}
    out["conversations_by_score"] = {str(s): n for s, _, n in by_score.iter_rows()}
    return out
