"""A notes toolkit, blueprints of planned turns and a fake-backend context, for the simulation tests."""

from __future__ import annotations

import json

from fcsynth.config import compose, parse_config
from fcsynth.llm.context import StageContext
from fcsynth.llm.fake_backend import FakeBackend
from fcsynth.tools import Tool

CREATE = Tool("notes", "create_note", "Create a note.", {
    "type": "object", "properties": {"title": {"type": "string", "maxLength": 40}}, "required": ["title"],
    "additionalProperties": False,
}, response={"type": "object", "properties": {"note_id": {"type": "string", "maxLength": 20}}, "required": ["note_id"],
             "additionalProperties": False})
GET = Tool("notes", "get_note", "Read a note.", {
    "type": "object", "properties": {"note_id": {"type": "string"}, "owner_email": {"type": "string", "format": "email"}},
    "required": ["note_id"], "additionalProperties": False,
})
SCENARIO = "Keep the project notes of the harbor renovation in order."


def blueprint(bid: str, turns: list[dict], facts: dict | None = None, features: dict | None = None) -> dict:
    features = features or {"parallel_calls": False, "tool_error": False, "missing_argument": False, "no_tool_request": False}
    return {
        "id": bid, "selection": "notes", "toolkits": ["notes"], "scenario": SCENARIO,
        "persona": json.dumps({"role": "site manager", "company": "Tidewater Build", "context": "renovation"}),
        "outline": "The user creates a note, then reads it back.", "tools": ["create_note", "get_note"], "distractors": [],
        "clarity": "good", "features": json.dumps(features), "facts": json.dumps(facts or {}),
        "plan": json.dumps({"features": features, "turns": turns, "unplaced": {}}), "status": "ok",
    }


def task(steps: int = 1, **extra) -> dict:
    return {"kind": "task", "steps": steps, "parallel": False, "error": False, "reveal": [], **extra}


def offered_get_note(request) -> str | None:
    """A get_note call with the first note id the request's grammar offers, if it offers one."""
    lark = request.constraint.definition if request.constraint is not None and hasattr(request.constraint, "definition") else ""
    for line in lark.splitlines():
        if line.startswith("call_") and '\\"get_note\\"' in line:
            i = line.split(":")[0].removeprefix("call_")
            args = next(a for a in lark.splitlines() if a.startswith(f"args_{i}: %json "))
            note_id = json.loads(args.removeprefix(f"args_{i}: %json "))["properties"]["note_id"]["enum"][0]
            return f'<tool_call>\n{{"name": "get_note", "arguments": {{"note_id": "{note_id}"}}}}\n</tool_call>'
    return None


def make_ctx(tmp_path, responder=None, *overrides: str) -> StageContext:
    ctx = StageContext(parse_config(compose(["llm=fake", *overrides])), tmp_path)
    ctx.backend = FakeBackend(responder)
    return ctx
