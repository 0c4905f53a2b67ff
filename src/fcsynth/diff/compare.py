"""Comparing two dataset versions: records added/removed/changed, selections, scores, tool coverage."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

from fcsynth.diff.revisions import SCORE_LEVELS, DatasetVersion, load_version, resolve_rev


def record_hash(record: dict[str, Any]) -> str:
    """Content hash of a record: sha256 of its canonical JSON (key order and spacing do not matter)."""
    canonical = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def tools_used(records: dict[str, dict[str, Any]]) -> set[str]:
    """Names of the tools called at least once in the records' assistant turns."""
    used = set()
    for record in records.values():
        for message in record.get("messages") or []:
            for call in message.get("tool_calls") or []:
                used.add(call["function"]["name"])
    return used


def tools_offered(records: dict[str, dict[str, Any]]) -> set[str]:
    """Names of the tools offered to the model in the records (used + distractors)."""
    return {t["function"]["name"] for r in records.values() for t in r.get("tools") or []}


def score_summary(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per judge dimension: number of scores, mean and histogram over 1..5."""
    values: dict[str, list[int]] = {}
    for record in records.values():
        for dim, score in (record.get("scores") or {}).items():
            if score is not None:
                values.setdefault(dim, []).append(int(score))
    out = {}
    for dim, scores in sorted(values.items()):
        hist = Counter(str(s) for s in scores)
        out[dim] = {
            "n": len(scores),
            "mean": round(sum(scores) / len(scores), 4),
            "histogram": {level: hist.get(level, 0) for level in SCORE_LEVELS},
        }
    return out


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(b - a, 4)


def diff_versions(a: DatasetVersion, b: DatasetVersion) -> dict[str, Any]:
    """The JSON-able report of what changed from version `a` to version `b`: conversations
    added/removed/changed (records matched by id, compared by a content hash), counts per
    selection, the judge score distribution per dimension, tool coverage and the curate
    stage's acceptance rate."""
    ids_a, ids_b = set(a.records), set(b.records)
    common = ids_a & ids_b
    changed = sorted(i for i in common if record_hash(a.records[i]) != record_hash(b.records[i]))

    sel_a = Counter(r["selection"] for r in a.records.values())
    sel_b = Counter(r["selection"] for r in b.records.values())
    selections = {
        s: {"a": sel_a.get(s, 0), "b": sel_b.get(s, 0), "delta": sel_b.get(s, 0) - sel_a.get(s, 0)}
        for s in sorted(set(sel_a) | set(sel_b))
    }

    scores_a, scores_b = score_summary(a.records), score_summary(b.records)
    scores = {}
    for dim in sorted(set(scores_a) | set(scores_b)):
        sa, sb = scores_a.get(dim), scores_b.get(dim)
        scores[dim] = {
            "a": sa,
            "b": sb,
            "mean_delta": _delta(sa and sa["mean"], sb and sb["mean"]),
        }

    used_a, used_b = tools_used(a.records), tools_used(b.records)
    offered_a, offered_b = tools_offered(a.records), tools_offered(b.records)

    def side(v: DatasetVersion, used: set[str], offered: set[str]) -> dict[str, Any]:
        return {
            "rev": v.rev,
            "records": len(v.records),
            "splits": dict(sorted(Counter(v.splits.values()).items())),
            "acceptance_rate": v.acceptance_rate,
            "tools_used": len(used),
            "tools_offered": len(offered),
        }

    return {
        "a": side(a, used_a, offered_a),
        "b": side(b, used_b, offered_b),
        "conversations": {
            "added": sorted(ids_b - ids_a),
            "removed": sorted(ids_a - ids_b),
            "changed": changed,
            "unchanged": len(common) - len(changed),
        },
        "selections": selections,
        "scores": scores,
        "tool_coverage": {
            "a": len(used_a),
            "b": len(used_b),
            "newly_covered": sorted(used_b - used_a),
            "lost": sorted(used_a - used_b),
        },
        "acceptance_rate": {
            "a": a.acceptance_rate,
            "b": b.acceptance_rate,
            "delta": _delta(a.acceptance_rate, b.acceptance_rate),
        },
    }


def diff_revs(rev_a: str, rev_b: str, root: Path) -> dict[str, Any]:
    """Load both revisions of the dataset under `root` and diff them."""
    commits = {rev: resolve_rev(root, rev) for rev in (rev_a, rev_b)}  # an unknown name fails before any read
    return diff_versions(load_version(rev_a, root, commits[rev_a]), load_version(rev_b, root, commits[rev_b]))
