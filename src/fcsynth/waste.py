"""Token use of an LLM stage: completion tokens spent vs those in the rows passed on."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def token_use(rows: Iterable[dict[str, Any]], passed_on: Iterable[str]) -> dict[str, Any]:
    """`completion_tokens_passed_on` (rows whose id is in `passed_on`) and
    `wasted_token_share` (the rest over all completion tokens) of a stage's generated rows.

    `rows` are every generated row, failed rounds and rejected candidates included."""
    keep = set(passed_on)
    spent = passed = 0
    for row in rows:
        n = int(row.get("completion_tokens") or 0)
        spent += n
        passed += n if row["id"] in keep else 0
    return {
        "completion_tokens_passed_on": passed,
        "wasted_token_share": round(1 - passed / spent, 4) if spent else 0.0,
    }
