"""Token use of the whole run from the LLM stages' metrics: wasted share and tokens per
delivered conversation, per stage and in all (metrics/plots/token_use.csv)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

# The stages whose completion tokens make a conversation, in pipeline order.
LLM_STAGES = ("scenarios", "blueprints", "conversations", "system_prompts", "judge")
COLUMNS = ("stage", "completion_tokens", "completion_tokens_passed_on", "wasted_token_share", "tokens_per_delivered_conversation")


def token_use_rows(metrics_dir: Path) -> list[dict[str, Any]]:
    """One row per LLM stage with metrics, then a `run` row summing them.

    Delivered conversations: `conversations.records_out` (parsed conversations)."""
    found = {s: json.loads((metrics_dir / f"{s}.json").read_text()) for s in LLM_STAGES if (metrics_dir / f"{s}.json").exists()}
    delivered = int(found.get("conversations", {}).get("records_out", 0))
    rows = []
    for stage, m in found.items():
        tokens = m.get("tokens", {})
        spent = int(tokens.get("completion_tokens", 0))
        passed = int(tokens.get("completion_tokens_passed_on", spent))
        rows.append(_row(stage, spent, passed, delivered))
    if rows:
        rows.append(_row("run", sum(r["completion_tokens"] for r in rows), sum(r["completion_tokens_passed_on"] for r in rows), delivered))
    return rows


def _row(stage: str, spent: int, passed: int, delivered: int) -> dict[str, Any]:
    return {
        "stage": stage,
        "completion_tokens": spent,
        "completion_tokens_passed_on": passed,
        "wasted_token_share": round(1 - passed / spent, 4) if spent else 0.0,
        "tokens_per_delivered_conversation": round(spent / delivered, 1) if delivered else None,
    }


def delivered_token_share(metrics_dir: Path, delivered: int) -> float | None:
    """The share of every LLM stage's completion tokens that ends up in the `delivered`
    (curated, exported) records: each stage's passed-on tokens pro rata of its records that
    were delivered, over all completion tokens spent (None before any LLM stage ran)."""
    spent = kept = 0.0
    for stage in LLM_STAGES:
        path = metrics_dir / f"{stage}.json"
        if not path.exists():
            continue
        m = json.loads(path.read_text())
        tokens = m.get("tokens", {})
        spent += int(tokens.get("completion_tokens", 0))
        out = int(m.get("records_out", 0))
        kept += int(tokens.get("completion_tokens_passed_on", 0)) * (min(1.0, delivered / out) if out else 0.0)
    return round(kept / spent, 4) if spent else None


def write_token_use(metrics_dir: Path, out: Path) -> dict[str, Any]:
    """Write the CSV; return the `run` row (empty when no LLM stage has metrics)."""
    rows = token_use_rows(metrics_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows[-1] if rows else {}
