"""The `blueprints` stage: persona, outline, tools to use and planned features per scenario.

Clarity, planned features and distractor tools are drawn with a seeded generator (rates
from config); the LLM writes the persona and outline and picks the tools, its answer
constrained to a JSON schema whose tool names are the scenario's sampled subset.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from outlines.types import JsonSchema
from pydantic import BaseModel, Field

from fcsynth.config import Config
from fcsynth.constraints.bounds import ascii_text, compact
from fcsynth.constraints.budget import fit_schema
from fcsynth.generation.plan import FEATURES, draw_facts, draw_fan, draw_turns
from fcsynth.generation.sampling import rng_for
from fcsynth.llm import Request, derive_seed
from fcsynth.llm.context import StageContext
from fcsynth.llm.task import Answer, RowTask
from fcsynth.rows import OK
from fcsynth.runner import make_request
from fcsynth.tools import Tool

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
    """The shape BlueprintTask.parse accepts (answer_schema constrains the generation further)."""

    persona: Persona
    outline: str
    tools: list[str] = Field(min_length=1)


# Free-text fields: (occurrences, min chars, max chars); the budget scales the maxima.
TEXT_FIELDS = {"persona": (3, 3, 160), "outline": (1, 20, 500)}


def answer_schema(tool_names: list[str], max_tokens: int) -> dict[str, Any]:
    """JSON schema of the LLM's blueprint answer; tool names limited to the subset, text
    bounds allocated from max_tokens (fcsynth.constraints.budget)."""
    return compact(fit_schema(max_tokens, lambda chars: _schema(tool_names, chars), TEXT_FIELDS, BlueprintTask.stage))


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
    knows and the turn plan (fcsynth.generation.plan)."""
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
    turns, unplaced = draw_turns(rng, n_turns, features, steps, sorted(facts), clarity, bp.no_tool_opening,
                                 (2, cfg.dml.max_parallel_calls))
    return {"clarity": clarity, "features": features, "distractors": distractors, "facts": facts,
            "plan": {"features": features, "turns": turns, "unplaced": unplaced}}


def fan_out(cfg: Config, bid: str, plan: dict[str, Any], tools: list[Tool]) -> dict[str, Any]:
    """`plan` with its parallel turn fanned out (`fan`, fcsynth.generation.plan.draw_fan) at
    odds `blueprints.one_tool_parallel_rate`, over the tools the conversation offers (known
    only once the LLM has picked them; its own seeded draw, so the rest of the plan stays).
    The facts that turn would state move to the speaking turn before it (else after it), so
    its message lists only the fan's values (a withheld fact stays: it answers the question)."""
    rng = rng_for(cfg.seed, bid, "fan")
    turns = [{**t, "reveal": list(t.get("reveal", []))} for t in plan["turns"]]
    for i, t in enumerate(turns):
        if not (t.get("parallel") and t.get("calls") and rng.random() < cfg.blueprints.one_tool_parallel_rate):
            continue
        if not (fan := draw_fan(bid, tools, t["calls"], rng)):
            continue
        t["fan"] = fan
        withheld = turns[i - 1].get("withheld") if i and turns[i - 1]["kind"] == "missing" else None
        speaking = [j for j in [*range(i - 1, -1, -1), *range(i + 1, len(turns))] if turns[j]["kind"] != "no_tool"]
        if speaking:
            turns[speaking[0]]["reveal"] += [f for f in t["reveal"] if f != withheld]
            t["reveal"] = [f for f in t["reveal"] if f == withheld]
    return {**plan, "turns": turns}


@dataclass
class BlueprintTask(RowTask):
    """One blueprint row per scenario (status ok, or its status, reason and raw text)."""

    tools_by_selection: dict[str, list[Tool]]
    stage = "blueprints"
    inputs = ("id", "selection", "toolkits", "tools", "scenario")  # of data/scenarios.parquet
    template = "blueprint.j2"

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """Polars schema of data/blueprints.parquet."""
        import polars as pl

        return {
            "id": pl.String, "selection": pl.String, "toolkits": pl.List(pl.String), "scenario": pl.String,
            "persona": pl.String, "outline": pl.String, "tools": pl.List(pl.String), "distractors": pl.List(pl.String),
            "clarity": pl.String, "features": pl.String, "facts": pl.String, "plan": pl.String,
            "status": pl.String, "reason": pl.String, "raw": pl.String,
        }

    def prepare(self, ctx: StageContext, row: dict[str, Any]) -> dict[str, Any]:
        """The scenario with its seeded plan (`planned`)."""
        return {**row, "planned": plan(ctx.cfg, row, self.tools_by_selection[row["selection"]])}

    def request(self, ctx: StageContext, row: dict[str, Any]) -> Request:
        cfg, planned = ctx.cfg, row["planned"]
        by_name = {t.name: t for t in self.tools_by_selection[row["selection"]]}
        prompt = self.prompt(
            scenario=row["scenario"],
            tools=[{"name": by_name[n].name, "description": by_name[n].description} for n in row["tools"]],
            clarity=planned["clarity"],
            clarity_meaning=CLARITY_MEANING[planned["clarity"]],
            features=planned["features"],
        )
        return make_request(
            row["id"], prompt, JsonSchema(answer_schema(row["tools"], cfg.blueprints.max_tokens)), cfg.sampling,
            cfg.blueprints.max_tokens, derive_seed(cfg.seed, f"blueprint:{row['id']}"),
        )

    def parse(self, text: str) -> dict[str, Any]:
        """The blueprint answer of a completion (ValueError when it is not one)."""
        answer = BlueprintAnswer.model_validate_json(text).model_dump()
        answer["tools"] = sorted(set(answer["tools"]))  # llguidance has no uniqueItems
        return answer

    def output(self, ctx: StageContext, row: dict[str, Any], answer: Answer | None) -> dict[str, Any]:
        if answer is None:
            raise ValueError(f"blueprint {row['id']}: no answer (every scenario gets a request)")
        value, planned = answer.value, row["planned"]
        if value:
            by_name = {t.name: t for t in self.tools_by_selection[row["selection"]]}
            tools = [by_name[n] for n in sorted({*value["tools"], *planned["distractors"]})]
            planned = {**planned, "plan": fan_out(ctx.cfg, row["id"], planned["plan"], tools)}
        return {
            "id": row["id"], "selection": row["selection"], "toolkits": row["toolkits"], "scenario": row["scenario"],
            "persona": json.dumps(value["persona"], sort_keys=True) if value else None,
            "outline": value["outline"] if value else None,
            "tools": value["tools"] if value else [],
            "distractors": planned["distractors"],
            "clarity": planned["clarity"],
            "features": json.dumps(planned["features"], sort_keys=True),
            "facts": json.dumps(planned["facts"], sort_keys=True),
            "plan": json.dumps(planned["plan"], sort_keys=True),
            "status": answer.status,
            "reason": answer.reason,
            "raw": None if value else answer.text,
        }

    def extra(self, ctx: StageContext, rows: list[dict[str, Any]]) -> dict[str, Any]:
        ok = [r for r in rows if r["status"] == OK]
        return {
            "clarity": {k: sum(r["clarity"] == k for r in ok) for k in sorted(CLARITY_MEANING)},
            "planned_features": {f: sum(json.loads(r["features"])[f] for r in ok) for f in FEATURES},
            "one_tool_parallel": sum(any("fan" in t for t in json.loads(r["plan"])["turns"]) for r in ok),
            "mean_planned_user_turns": round(sum(len(json.loads(r["plan"])["turns"]) for r in ok) / len(ok), 3) if ok else 0.0,
            "mean_tools_used": round(sum(len(r["tools"]) for r in ok) / len(ok), 3) if ok else 0.0,
        }
