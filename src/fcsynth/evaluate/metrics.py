"""Scores of one step and their aggregates.

A step is a *call step* (the gold answer calls tools) or a *text step* (the gold answer is
text). Calls are compared in canonical form: `{"arguments": ..., "name": ...}` as JSON with
sorted keys, arguments given as a JSON string decoded first, integral floats written as ints.
A step's canonical call list is its canonical calls sorted, so parallel calls match in any
order.

Per call step: exact (same multiset of canonical calls), Function Call Match (rapidfuzz
`fuzz.ratio` / 100 of the canonical lists), name match (same multiset of tool names) and
argument triples `(tool, key, canonical value)` for micro precision/recall/F1.
Per text step: no-call (the model called no tool, malformed attempts included).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from rapidfuzz import fuzz

from fcsynth.chat.calls import Call, decode_arguments


def _normalize(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalize(v) for v in value]
    return value


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys and integral floats as ints."""
    return json.dumps(_normalize(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical_call(call: Call) -> str:
    return canonical_json({"name": call.name, "arguments": decode_arguments(call.arguments)})


def canonical_calls(calls: Sequence[Call]) -> str:
    """The canonical JSON list of a step's calls (sorted, so order does not matter)."""
    return "[" + ",".join(sorted(canonical_call(c) for c in calls)) + "]"


def argument_triples(calls: Iterable[Call]) -> Counter[tuple[str, str, str]]:
    """Multiset of (tool, key, canonical value) over well-formed calls with object arguments."""
    triples: Counter[tuple[str, str, str]] = Counter()
    for call in calls:
        args = decode_arguments(call.arguments)
        if call.malformed or not isinstance(args, dict):
            continue
        for key, value in args.items():
            triples[(call.name, str(key), canonical_json(value))] += 1
    return triples


def score_step(gold_calls: Sequence[Call] | None, predicted: Sequence[Call]) -> dict[str, Any]:
    """Scores of one step. `gold_calls` None (or empty) means the gold answer is text."""
    malformed = sum(c.malformed for c in predicted)
    if not gold_calls:
        no_call = not predicted
        return {
            "kind": "text", "exact": no_call, "function_call_match": None, "name_match": None,
            "arg_tp": 0, "arg_pred": 0, "arg_gold": 0, "no_call": no_call, "malformed": malformed,
        }
    gold_c = Counter(canonical_call(c) for c in gold_calls)
    pred_c = Counter(canonical_call(c) for c in predicted)
    gold_t, pred_t = argument_triples(gold_calls), argument_triples(predicted)
    return {
        "kind": "call",
        "exact": gold_c == pred_c,
        "function_call_match": fuzz.ratio(canonical_calls(predicted), canonical_calls(gold_calls)) / 100,
        "name_match": sorted(c.name for c in predicted) == sorted(c.name for c in gold_calls),
        "arg_tp": sum((gold_t & pred_t).values()),
        "arg_pred": sum(pred_t.values()),
        "arg_gold": sum(gold_t.values()),
        "no_call": None,
        "malformed": malformed,
    }


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _ratio(num: int, den: int, other: int) -> float:
    # Nothing on either side: nothing to get wrong (1.0); only one side empty: 0.0.
    if den:
        return round(num / den, 4)
    return 1.0 if not other else 0.0


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Averages over scored step rows (figures with no step to average over are None)."""
    calls = [r for r in rows if r["kind"] == "call"]
    texts = [r for r in rows if r["kind"] == "text"]
    tp = sum(r["arg_tp"] for r in calls)
    n_pred = sum(r["arg_pred"] for r in calls)
    n_gold = sum(r["arg_gold"] for r in calls)
    precision = _ratio(tp, n_pred, n_gold) if calls else None
    recall = _ratio(tp, n_gold, n_pred) if calls else None
    f1 = None
    if precision is not None and recall is not None:
        f1 = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
    return {
        "steps": len(rows),
        "call_steps": len(calls),
        "text_steps": len(texts),
        "exact_match": _mean([float(r["exact"]) for r in calls]),
        "function_call_match": _mean([r["function_call_match"] for r in calls]),
        "tool_name_accuracy": _mean([float(r["name_match"]) for r in calls]),
        "argument_precision": precision,
        "argument_recall": recall,
        "argument_f1": f1,
        "no_call_accuracy": _mean([float(r["no_call"]) for r in texts]),
        "step_accuracy": _mean([float(r["exact"]) for r in rows]),
        "malformed_calls": sum(r["malformed"] for r in rows),
        "truncated": sum(r.get("finish_reason") == "length" for r in rows),
        "prompt_tokens": sum(int(r.get("prompt_tokens") or 0) for r in rows),
        "completion_tokens": sum(int(r.get("completion_tokens") or 0) for r in rows),
    }


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Overall figures and the same figures per selection (toolkit or bundle)."""
    by_sel: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_sel.setdefault(row["selection"], []).append(row)
    return {
        "overall": aggregate(rows),
        "by_selection": {sel: aggregate(rs) for sel, rs in sorted(by_sel.items())},
    }
