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

from fcsynth.config import Config
from fcsynth.constraints.bounds import ascii_text, compact
from fcsynth.constraints.budget import fit_schema
from fcsynth.generation.sampling import rng_for
from fcsynth.llm import Request, derive_seed
from fcsynth.llm.context import StageContext
from fcsynth.metrics import StageMetrics
from fcsynth.prompts import render
from fcsynth.rows import OK, PARSE_FAILURES
from fcsynth.runner import make_request, parse_completion, run_requests, token_totals
from fcsynth.simulation.plan import FEATURES, draw_facts, draw_turns
from fcsynth.tools import Tool
from fcsynth.waste import token_use

STAGE = "blueprints"
# The data/scenarios.parquet columns a blueprint is built from (stages/blueprints.py checks them).
SCENARIO_COLUMNS = ("id", "selection", "toolkits", "tools", "scenario")
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
    bounds allocated from max_tokens (fcsynth.constraints.budget)."""
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
    """The seeded part of a blueprint: clarity, features, distractors, the facts the user
    knows and the turn plan (fcsynth.simulation.plan)."""
    bp = cfg.blueprints
    rng = rng_for(cfg.seed, scenario["id"], "blueprint")
    levels = sorted(bp.clarity_weights)
    clarity = rng.choices(levels, weights=[bp.clarity_weights[k] for k in levels])[0]
    features = {
        "parallel_calls": rng.random() < bp.parallel_call_rate,
        "tool_error": rng.random() < bp.tool_error_rate,
        "missing_argument": rng.random() < bp.missing_argument_rate,
        "no_tool_request": rng.random() < bp.no_tool_rate,
    }
    if cfg.dml.max_parallel_calls < 2:
        features["parallel_calls"] = False
    pool = sorted(t.name for t in selection_tools if t.name not in scenario["tools"])
    distractors = sorted(rng.sample(pool, min(bp.distractors, len(pool))))
    by_name = {t.name: t for t in selection_tools}
    facts = draw_facts(scenario["id"], [by_name[n] for n in scenario["tools"] if n in by_name])
    n_turns = rng.randint(*bp.user_turns)
    steps = (min(bp.steps_per_task_turn[0], cfg.dml.max_steps_per_turn), min(bp.steps_per_task_turn[1], cfg.dml.max_steps_per_turn))
    turns, unplaced = draw_turns(rng, n_turns, features, steps, sorted(facts), clarity)
    return {"clarity": clarity, "features": features, "distractors": distractors, "facts": facts,
            "plan": {"features": features, "turns": turns, "unplaced": unplaced}}


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
    return make_request(
        scenario["id"], prompt, JsonSchema(answer_schema(scenario["tools"], cfg.blueprints.max_tokens)), cfg.sampling,
        cfg.blueprints.max_tokens, derive_seed(cfg.seed, f"blueprint:{scenario['id']}"),
    )


def parse_answer(text: str) -> dict[str, Any]:
    """The blueprint answer of a completion (ValueError when it is not one)."""
    answer = BlueprintAnswer.model_validate_json(text).model_dump()
    answer["tools"] = sorted(set(answer["tools"]))  # llguidance has no uniqueItems
    return answer


def schema() -> dict[str, Any]:
    """Polars schema of data/blueprints.parquet."""
    import polars as pl

    return {
        "id": pl.String, "selection": pl.String, "toolkits": pl.List(pl.String), "scenario": pl.String,
        "persona": pl.String, "outline": pl.String, "tools": pl.List(pl.String), "distractors": pl.List(pl.String),
        "clarity": pl.String, "features": pl.String, "facts": pl.String, "plan": pl.String,
        "status": pl.String, "reason": pl.String, "raw": pl.String,
    }


def run(
    ctx: StageContext,
    scenarios: list[dict[str, Any]],
    tools_by_selection: dict[str, list[Tool]],
) -> tuple[list[dict[str, Any]], StageMetrics]:
    """One blueprint row per scenario (status ok, or its status, reason and raw text)."""
    metrics = StageMetrics(STAGE, records_in=len(scenarios))
    plans = {s["id"]: plan(ctx.cfg, s, tools_by_selection[s["selection"]]) for s in scenarios}
    by_name = {s["selection"]: {t.name: t for t in tools_by_selection[s["selection"]]} for s in scenarios}
    requests = [build_request(ctx, s, plans[s["id"]], by_name[s["selection"]]) for s in scenarios]
    raw = run_requests(requests, ctx.checkpoint(STAGE), ctx.get_backend)
    rows = []
    for s in scenarios:
        r = raw[s["id"]]
        answer, status, reason = parse_completion(r["text"], r["finish_reason"], parse_answer)
        planned = plans[s["id"]]
        row = {
            "id": s["id"], "selection": s["selection"], "toolkits": s["toolkits"], "scenario": s["scenario"],
            "persona": json.dumps(answer["persona"], sort_keys=True) if answer else None,
            "outline": answer["outline"] if answer else None,
            "tools": answer["tools"] if answer else [],
            "distractors": planned["distractors"],
            "clarity": planned["clarity"],
            "features": json.dumps(planned["features"], sort_keys=True),
            "facts": json.dumps(planned["facts"], sort_keys=True),
            "plan": json.dumps(planned["plan"], sort_keys=True),
            "status": status,
            "reason": reason,
            "raw": None if answer else r["text"],
        }
        rows.append(row)
    metrics.count(rows, reasons=PARSE_FAILURES)
    metrics.tokens = token_totals(list(raw.values()))
    metrics.tokens.update(token_use(raw.values(), [r["id"] for r in rows if r["status"] == OK]))
    ok = [r for r in rows if r["status"] == OK]
    metrics.extra.update(
        clarity={k: sum(r["clarity"] == k for r in ok) for k in sorted(CLARITY_MEANING)},
        planned_features={f: sum(json.loads(r["features"])[f] for r in ok) for f in FEATURES},
        mean_planned_user_turns=round(sum(len(json.loads(r["plan"])["turns"]) for r in ok) / len(ok), 3) if ok else 0.0,
        mean_tools_used=round(sum(len(r["tools"]) for r in ok) / len(ok), 3) if ok else 0.0,
    )
    return rows, metrics
