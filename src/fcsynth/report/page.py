"""The report page: one self-contained HTML file (inline CSS/JS, data embedded as JSON)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from fcsynth.curate.checks import QUALITY_COLUMNS
from fcsynth.rows import DIMENSIONS
from fcsynth.tables import json_cell

PLACEHOLDER = "__FCSYNTH_REPORT_DATA__"
# The data/judged.parquet columns the report reads (stages/report.py checks them; decisions: DECISION_COLUMNS).
JUDGED_COLUMNS = ("id", "selection")




def conversation_entry(row: dict[str, Any], decision: dict[str, Any] | None) -> dict[str, Any]:
    """What the page shows of one judged row."""
    messages = json_cell(row.get("messages"))
    return {
        "id": row["id"],
        "selection": row["selection"],
        "toolkits": list(row.get("toolkits") or []),
        "scenario": row.get("scenario"),
        "persona": json_cell(row.get("persona")),
        "outline": row.get("outline"),
        "clarity": row.get("clarity"),
        "features": json_cell(row.get("features")),
        "status": row.get("status"),
        "reason": row.get("reason"),
        "system_prompt": row.get("system_prompt"),
        "drop_system_prompt": bool(row.get("drop_system_prompt")),
        "messages": messages,
        "dml": None if messages else row.get("dml"),
        "tools": [t["function"] for t in json_cell(row.get("tools")) or []],
        "scores": json_cell(row.get("scores")),
        "judge_status": row.get("judge_status"),
        "judge_reasoning": row.get("judge_reasoning") or row.get("judge_raw"),
        "accepted": bool(decision and decision["accepted"]),
        "curate_reason": decision["reason"] if decision else None,
        "curate_detail": decision["detail"] if decision else None,
        "quality": quality_entry(decision),
    }


def quality_entry(decision: dict[str, Any] | None) -> dict[str, Any] | None:
    """The rule-based quality values curate measured for one conversation (None: not measured)."""
    if not decision or decision.get("tool_calls") is None:
        return None
    values = {k: decision.get(k) for k in QUALITY_COLUMNS if k != "quality_notes"}
    return {**values, "notes": json_cell(decision.get("quality_notes")) or {}}


def page_data(
    judged: list[dict[str, Any]], decisions: list[dict[str, Any]], max_conversations: int, title: str = "fcsynth report"
) -> dict[str, Any]:
    """The JSON embedded in the page (at most max_conversations rows, accepted ones first)."""
    by_id = {d["id"]: d for d in decisions}
    ordered = sorted(judged, key=lambda r: (not (by_id.get(r["id"]) or {}).get("accepted"), r["id"]))
    shown = sorted(ordered[:max_conversations], key=lambda r: r["id"])
    return {
        "title": title,
        "dimensions": list(DIMENSIONS),
        "total": len(judged),
        "accepted": sum(bool(d["accepted"]) for d in decisions),
        "conversations": [conversation_entry(r, by_id.get(r["id"])) for r in shown],
    }


def render_page(data: dict[str, Any]) -> str:
    """The HTML text with the data embedded (`<` escaped so no text can close the script)."""
    template = resources.files("fcsynth.report").joinpath("page.html").read_text()
    blob = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    return template.replace(PLACEHOLDER, blob)
