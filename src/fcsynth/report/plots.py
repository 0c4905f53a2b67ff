"""DVC plot data (CSV under metrics/plots/): score distributions, acceptance, conversation
shape, and the rule-based quality figures before and after curation."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

from fcsynth.atomic import atomic_path
from fcsynth.curate.stats import BINS, JUDGE_DIMENSION, grounding_histogram, judge_agreement, summarize
from fcsynth.rows import DIMENSIONS

PLOT_FILES = (
    "scores.csv", "acceptance.csv", "rejections.csv", "turns.csv", "tool_calls.csv",
    "quality.csv", "grounding.csv", "grounding_judge.csv",
)
QUALITY_RATES = ("placeholder_rate", "repeated_call_rate", "grounded_share", "grounding_mean")


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _shape(messages: list[dict[str, Any]]) -> tuple[int, int]:
    return (
        sum(m["role"] == "user" for m in messages),
        sum(len(m.get("tool_calls") or []) for m in messages),
    )


def _histogram(values: list[int], lo: int) -> list[list[int]]:
    counts = Counter(values)
    top = max(values, default=lo)
    return [[n, counts.get(n, 0)] for n in range(lo, top + 1)]


def write_plots(
    judged: list[dict[str, Any]], decisions: list[dict[str, Any]], out_dir: Path, reasons: list[str] | None = None
) -> dict[str, Path]:
    """Write every plot file from the judged rows and curation decisions; return their paths.

    `reasons`: every rejection reason to list (zeros included), e.g. `curate.reason_keys(cfg)`.
    """
    scored = [json.loads(r["scores"]) for r in judged if r.get("scores")]
    hist = {d: Counter(s[d] for s in scored) for d in DIMENSIONS}
    _write_csv(out_dir / "scores.csv", ["score", *DIMENSIONS], [[k, *[hist[d].get(k, 0) for d in DIMENSIONS]] for k in range(1, 6)])

    selections = sorted({d["selection"] for d in decisions})
    acc_rows = []
    for sel in selections:
        group = [d for d in decisions if d["selection"] == sel]
        ok = sum(bool(d["accepted"]) for d in group)
        acc_rows.append([sel, len(group), ok, round(ok / len(group), 4)])
    _write_csv(out_dir / "acceptance.csv", ["selection", "conversations", "accepted", "acceptance_rate"], acc_rows)

    counts = Counter(d["reason"] for d in decisions if d["reason"])
    keys = sorted(set(reasons or []) | set(counts))
    _write_csv(out_dir / "rejections.csv", ["reason", "conversations"], [[k, counts.get(k, 0)] for k in keys])

    accepted_ids = {d["id"] for d in decisions if d["accepted"]}
    shapes = [_shape(json.loads(r["messages"])) for r in judged if r["id"] in accepted_ids and r.get("messages")]
    _write_csv(out_dir / "turns.csv", ["user_turns", "conversations"], _histogram([s[0] for s in shapes], 1))
    _write_csv(out_dir / "tool_calls.csv", ["tool_calls", "conversations"], _histogram([s[1] for s in shapes], 0))
    _write_quality(judged, decisions, out_dir)
    return {name: out_dir / name for name in PLOT_FILES}


def _write_quality(judged: list[dict[str, Any]], decisions: list[dict[str, Any]], out_dir: Path) -> None:
    """quality.csv (each rate before and after curation), grounding.csv (histogram before/after),
    grounding_judge.csv (mean rule grounding per judge argument_grounding score)."""
    accepted = [d for d in decisions if d["accepted"]]
    before, after = summarize(decisions), summarize(accepted)
    _write_csv(out_dir / "quality.csv", ["metric", "value"],
               [[f"{k} {when}", side[k] or 0.0] for k in QUALITY_RATES for when, side in (("before", before), ("after", after))])
    hb, ha = grounding_histogram(decisions), grounding_histogram(accepted)
    _write_csv(out_dir / "grounding.csv", ["grounding", "before", "after"],
               [[f"{i / BINS:.1f}-{(i + 1) / BINS:.1f}", hb[i], ha[i]] for i in range(BINS)])
    scores = {r["id"]: json.loads(r["scores"]) for r in judged if r.get("scores") and r.get("judge_status") == "ok"}
    agreement = judge_agreement(decisions, scores)
    _write_csv(out_dir / "grounding_judge.csv", [JUDGE_DIMENSION, "conversations", "mean_grounding"],
               [[int(k), agreement["conversations_by_score"][k], g] for k, g in agreement["mean_grounding_by_score"].items()])
