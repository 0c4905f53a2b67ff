"""The `blueprints` stage: persona, outline, tools to use and planned features per scenario.

Clarity, planned features and distractor tools are drawn with a seeded generator (rates
from config); the LLM writes the persona and outline and picks the tools, its answer
constrained to a JSON schema whose tool names are the scenario's sampled subset.
"""

from __future__ import annotations

import json
from typing import Any

from outlines.types import JsonSchema
from pydantic import BaseModel, Field

from fcsynth.budget import ascii_text, compact, fit_schema
from fcsynth.config import Config
from fcsynth.stage import StageContext
from fcsynth.runner import run_requests, token_totals
from fcsynth.generation.sampling import rng_for
from fcsynth.llm import Completion, Request, derive_seed
from fcsynth.llm.base import ERROR_FINISH
from fcsynth.metrics import StageMetrics
from fcsynth.waste import token_use
from fcsynth.prompts import render
from fcsynth.tools import Tool

STAGE = "blueprints"
TEMPLATE = "blueprint.j2"
CLARITY_MEANING = {
    "excellent": "states every detail the tools need up front",
    "good": "states the goal clearly but leaves a detail or two to ask about",
    "average": "is vague and needs clarifying questions before any tool can be used",
}


class Persona(BaseModel):
    role: str
    company: str
    context: str


class BlueprintAnswer(BaseModel):
    """The shape parse_answer accepts (answer_schema constrains the generation further)."""

    persona: Persona
    outline: str
    tools: list[str] = Field(min_length=1)


# Free-text fields: (occurrences, min chars, max chars); the budget scales the maxima.
TEXT_FIELDS = {"persona": (3, 3, 160), "outline": (1, 20, 500)}


def answer_schema(tool_names: list[str], max_tokens: int) -> dict[str, Any]:
    """JSON schema of the LLM's blueprint answer; tool names limited to the subset, text
    bounds allocated from max_tokens (fcsynth.budget)."""
    return compact(fit_schema(max_tokens, lambda chars: _schema(tool_names, chars), TEXT_FIELDS, STAGE))


def _schema(tool_names: list[str], chars: dict[str, int]) -> dict[str, Any]:
    text = ascii_text(3, chars["persona"])
    return {
        "type": "object",
        "properties": {
            "persona": {
                "type": "object",
                "properties": {"role": text, "company": text, "context": text},
                "required": ["role", "company", "context"],
                "additionalProperties": False,
            },
            "outline": ascii_text(20, chars["outline"]),
            "tools": {
                "type": "array",
                "items": {"enum": sorted(tool_names)},
                "minItems": 1,
                "maxItems": max(1, len(tool_names)),
            },
        },
        "required": ["persona", "outline", "tools"],
        "additionalProperties": False,
    }


def plan(cfg: Config, scenario: dict[str, Any], selection_tools: list[Tool]) -> dict[str, Any]:
    """The seeded part of a blueprint: clarity, features and distractors."""
    bp = cfg.blueprints
    rng = rng_for(cfg.seed, scenario["id"], "blueprint")
    levels = sorted(bp.clarity_weights)
    clarity = rng.choices(levels, weights=[bp.clarity_weights[k] for k in levels])[0]
    features = {
        "parallel_calls": rng.random() < bp.parallel_call_rate,
        "tool_error": rng.random() < bp.tool_error_rate,
        "missing_argument": rng.random() < bp.missing_argument_rate,
    }
    pool = sorted(t.name for t in selection_tools if t.name not in scenario["tools"])
    distractors = sorted(rng.sample(pool, min(bp.distractors, len(pool))))
    return {"clarity": clarity, "features": features, "distractors": distractors}


def build_request(ctx: StageContext, scenario: dict[str, Any], planned: dict[str, Any], tools: dict[str, Tool]) -> Request:
    cfg = ctx.cfg
    subset = [tools[n] for n in scenario["tools"]]
    prompt = render(
        TEMPLATE,
        scenario=scenario["scenario"],
        tools=[{"name": t.name, "description": t.description} for t in subset],
        clarity=planned["clarity"],
        clarity_meaning=CLARITY_MEANING[planned["clarity"]],
        features=planned["features"],
    )
    return Request(
        id=scenario["id"],
        sampling=cfg.sampling.model_copy(update={"max_tokens": cfg.blueprints.max_tokens}),
        seed=derive_seed(cfg.seed, f"blueprint:{scenario['id']}"),
        messages=[{"role": "user", "content": prompt}],
        constraint=JsonSchema(answer_schema(scenario["tools"], cfg.blueprints.max_tokens)),
    )


def parse_answer(completion_text: str, finish_reason: str) -> tuple[dict[str, Any] | None, str | None]:
    """(answer, None) or (None, reason) — a bad answer becomes a null row, never a crash."""
    if finish_reason in ("length", ERROR_FINISH):
        return None, "truncated" if finish_reason == "length" else "engine_error"
    try:
        answer = BlueprintAnswer.model_validate_json(completion_text).model_dump()
    except ValueError:
        return None, "unparseable"
    answer["tools"] = sorted(set(answer["tools"]))  # llguidance has no uniqueItems
    return answer, None


def run(
    ctx: StageContext,
    scenarios: list[dict[str, Any]],
    tools_by_selection: dict[str, list[Tool]],
) -> tuple[list[dict[str, Any]], StageMetrics]:
    """One blueprint row per scenario (status ok, or the reason and raw text kept)."""
    metrics = StageMetrics(STAGE, records_in=len(scenarios))
    plans = {s["id"]: plan(ctx.cfg, s, tools_by_selection[s["selection"]]) for s in scenarios}
    by_name = {s["selection"]: {t.name: t for t in tools_by_selection[s["selection"]]} for s in scenarios}
    requests = [build_request(ctx, s, plans[s["id"]], by_name[s["selection"]]) for s in scenarios]

    def to_row(req: Request, c: Completion) -> dict[str, Any]:
        return {"id": req.id, "raw": c.text, "finish_reason": c.finish_reason}

    raw = run_requests(requests, ctx.checkpoint(STAGE), ctx.get_backend, to_row)
    rows = []
    for s in scenarios:
        r = raw[s["id"]]
        answer, reason = parse_answer(r["raw"], r["finish_reason"])
        planned = plans[s["id"]]
        row = {
            "id": s["id"], "selection": s["selection"], "toolkits": s["toolkits"], "scenario": s["scenario"],
            "persona": json.dumps(answer["persona"], sort_keys=True) if answer else None,
            "outline": answer["outline"] if answer else None,
            "tools": answer["tools"] if answer else [],
            "distractors": planned["distractors"],
            "clarity": planned["clarity"],
            "features": json.dumps(planned["features"], sort_keys=True),
            "status": "ok" if answer else "failed",
            "reason": reason,
            "raw": None if answer else r["raw"],
        }
        if reason:
            metrics.reject(reason)
        rows.append(row)
    metrics.records_out = sum(r["status"] == "ok" for r in rows)
    metrics.tokens = token_totals(list(raw.values()))
    metrics.tokens.update(token_use(raw.values(), [r["id"] for r in rows if r["status"] == "ok"]))
    ok = [r for r in rows if r["status"] == "ok"]
    metrics.extra.update(
        clarity={k: sum(r["clarity"] == k for r in ok) for k in sorted(CLARITY_MEANING)},
        planned_features={f: sum(json.loads(r["features"])[f] for r in ok) for f in ("parallel_calls", "tool_error", "missing_argument")},
        mean_tools_used=round(sum(len(r["tools"]) for r in ok) / len(ok), 3) if ok else 0.0,
    )
    return rows, metrics
