"""Fabricated conversation/judged rows (the CONTRACTS.md shapes) for judge/curate/export/report tests."""

from __future__ import annotations

import json
from typing import Any

SEND = {
    "type": "function",
    "function": {
        "name": "send_email",
        "description": "Send an email.",
        "parameters": {
            "type": "object",
            "properties": {"to": {"type": "string"}, "subject": {"type": "string"}, "body": {"type": "string"}},
            "required": ["to", "subject"],
        },
    },
}
EVENT = {
    "type": "function",
    "function": {
        "name": "create_event",
        "description": "Create a calendar event.",
        "parameters": {
            "type": "object",
            "properties": {"title": {"type": "string"}, "start": {"type": "string", "format": "date-time"},
                           "attendees": {"type": "array", "items": {"type": "string"}}},
            "required": ["title", "start"],
        },
    },
}
TOOLS = {"gmail": [SEND], "googlecalendar": [EVENT], "gmail+googlecalendar": [SEND, EVENT]}

SUBJECTS = ["Quarterly budget review", "Offsite logistics", "Invoice 4471 overdue", "Hiring panel feedback",
            "Server migration window", "Customer escalation ACME", "Design critique notes", "Travel reimbursement"]


def messages_for(selection: str, k: int, thinking: bool = False) -> list[dict[str, Any]]:
    """A parsed conversation (parser shape: call ids call_<n>, arguments as objects)."""
    subject = SUBJECTS[k % len(SUBJECTS)]
    person = f"person{k}@example.com"
    msgs: list[dict[str, Any]] = [{"role": "user", "content": f"Please email {person} about '{subject}' and say I'll call at {k + 1} pm."}]
    calls, results = [], []
    n = 1
    if "gmail" in selection:
        calls.append({"id": f"call_{n}", "type": "function", "function": {"name": "send_email", "arguments": {"to": person, "subject": subject, "body": f"I'll call you at {k + 1} pm."}}})
        results.append({"role": "tool", "tool_call_id": f"call_{n}", "name": "send_email", "content": json.dumps({"status": "sent", "id": f"msg-{k}"})})
        n += 1
    if "googlecalendar" in selection:
        calls.append({"id": f"call_{n}", "type": "function", "function": {"name": "create_event", "arguments": {"title": subject, "start": f"2025-03-{k + 10}T{k + 13}:00:00Z", "attendees": [person]}}})
        results.append({"role": "tool", "tool_call_id": f"call_{n}", "name": "create_event", "content": json.dumps({"event_id": f"ev-{k}"})})
    first = {"role": "assistant", "content": "", "tool_calls": calls}
    if thinking:
        first["reasoning_content"] = f"The user wants '{subject}' handled; I have every argument."
    msgs += [first, *results, {"role": "assistant", "content": f"Done: '{subject}' is taken care of for {person}."}]
    return msgs


def dataset_record(k: int, system: bool = True, selection: str = "gmail+googlecalendar") -> dict[str, Any]:
    """A dataset record (export shape) of conversation `k`, led by a system message unless `system` is false."""
    msgs = messages_for(selection, k)
    if system:
        msgs = [{"role": "system", "content": "You are a concise assistant."}, *msgs]
    return {"id": f"rec-{k}", "selection": selection, "messages": msgs, "tools": TOOLS[selection]}


def conversation_row(selection: str, k: int, status: str = "ok", thinking: bool = False) -> dict[str, Any]:
    """One data/conversations.parquet row."""
    ok = status == "ok"
    return {
        "id": f"{selection.replace('+', '_')}-{k:04d}",
        "selection": selection,
        "toolkits": selection.split("+"),
        "scenario": f"A project manager needs help with '{SUBJECTS[k % len(SUBJECTS)]}'.",
        "persona": json.dumps({"role": "project manager", "company": "Acme", "context": "busy week"}),
        "outline": "The user asks; the assistant calls the tools; the assistant confirms.",
        "clarity": ["excellent", "good", "average"][k % 3],
        "features": json.dumps({"parallel_calls": False, "tool_error": False, "missing_argument": False}),
        "tools": json.dumps(TOOLS[selection], sort_keys=True),
        "dml": "<user>…</user>",
        "messages": json.dumps(messages_for(selection, k, thinking)) if ok else None,
        "status": status,
        "reason": None if ok else f"{status} upstream",
        "prompt_tokens": 100,
        "completion_tokens": 50,
    }


def system_prompt_row(row_id: str, drop: bool = False) -> dict[str, Any]:
    return {"id": row_id, "system_prompt": "You are a concise assistant for a project manager.", "drop_system_prompt": drop,
            "status": "ok", "reason": None, "raw": None}


def judged_row(conv: dict[str, Any], scores: dict[str, int] | None, judge_status: str = "ok", drop: bool = False) -> dict[str, Any]:
    """One data/judged.parquet row built from a conversation row."""
    return {
        **conv,
        "system_prompt": "You are a concise assistant for a project manager.",
        "drop_system_prompt": drop,
        "scores": json.dumps(scores, sort_keys=True) if scores else None,
        "judge_reasoning": "The calls match the request and the arguments come from the user." if scores else None,
        "judge_status": judge_status,
        "judge_reason": None if judge_status == "ok" else f"fabricated {judge_status}",
        "judge_raw": None,
        "judge_prompt_tokens": 300 if judge_status != "upstream_failed" else None,
        "judge_completion_tokens": 60 if judge_status != "upstream_failed" else None,
    }


def good_scores(**over: int) -> dict[str, int]:
    base = {"user_query_clarity": 5, "tool_use_quality": 5, "argument_grounding": 4, "task_completion": 5, "naturalness": 4}
    return {**base, **over}


def grammar_options(**changes: Any):
    """The grammar options as the pipeline builds them (conf/'s dml section), with `changes`."""
    return conf_section("dml", **changes)


def conf_section(name: str, **changes: Any):
    """A config section as conf/ composes it, with `changes` (validated like params.yaml)."""
    from fcsynth.config import conf_defaults

    section = getattr(conf_defaults(), name)
    return type(section).model_validate({**section.model_dump(), **changes})


def curate_config(**changes: Any):
    """The curate section as conf/ composes it, with `changes`."""
    return conf_section("curate", **changes)
