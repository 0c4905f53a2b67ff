"""The `system_prompts` stage: one short system prompt per conversation.

Tone and domain rules for using the tools, never the tool definitions themselves. A
seeded drop-out marks records to be exported without their system prompt.
"""

from __future__ import annotations

import json
from typing import Any

from outlines.types import JsonSchema
from pydantic import BaseModel, Field

from fcsynth.budget import ascii_text, compact, fit_schema
from fcsynth.stage import StageContext
from fcsynth.runner import run_requests, token_totals
from fcsynth.generation.sampling import rng_for
from fcsynth.llm import Completion, Request, derive_seed
from fcsynth.metrics import StageMetrics
from fcsynth.waste import token_use
from fcsynth.prompts import render

STAGE = "system_prompts"
TEMPLATE = "system_prompt.j2"


class SystemPromptAnswer(BaseModel):
    system_prompt: str = Field(min_length=20, max_length=800)


def answer_schema(max_tokens: int) -> dict[str, Any]:
    """The answer's JSON schema, its text bound allocated from max_tokens (fcsynth.budget)."""
    return compact(fit_schema(
        max_tokens,
        lambda chars: {
            "type": "object", "properties": {"system_prompt": ascii_text(20, chars["system_prompt"])},
            "required": ["system_prompt"], "additionalProperties": False,
        },
        {"system_prompt": (1, 20, 800)}, STAGE,
    ))


def build_request(ctx: StageContext, conv: dict[str, Any]) -> Request:
    tools = json.loads(conv["tools"])
    prompt = render(
        TEMPLATE,
        scenario=conv["scenario"],
        persona=json.loads(conv["persona"]) if conv["persona"] else {},
        toolkits=conv["toolkits"],
        tool_names=[t["function"]["name"] for t in tools],
    )
    return Request(
        id=conv["id"],
        sampling=ctx.cfg.sampling.model_copy(update={"max_tokens": ctx.cfg.system_prompts.max_tokens}),
        seed=derive_seed(ctx.cfg.seed, f"system_prompt:{conv['id']}"),
        messages=[{"role": "user", "content": prompt}],
        constraint=JsonSchema(answer_schema(ctx.cfg.system_prompts.max_tokens)),
    )


def run(ctx: StageContext, conversations: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], StageMetrics]:
    """A system prompt row for every parsed conversation."""
    metrics = StageMetrics(STAGE, records_in=len(conversations))
    usable = [c for c in conversations if c["status"] == "ok"]
    metrics.reject("conversation_not_ok", len(conversations) - len(usable))

    def to_row(req: Request, c: Completion) -> dict[str, Any]:
        return {"id": req.id, "raw": c.text, "finish_reason": c.finish_reason}

    raw = run_requests([build_request(ctx, c) for c in usable], ctx.checkpoint(STAGE), ctx.get_backend, to_row)
    rows = []
    for conv in usable:
        r = raw[conv["id"]]
        try:
            text = SystemPromptAnswer.model_validate_json(r["raw"]).system_prompt.strip()
            status, reason = "ok", None
        except ValueError:
            text, status, reason = None, "failed", "truncated" if r["finish_reason"] == "length" else "unparseable"
            metrics.reject(reason)
        drop = rng_for(ctx.cfg.seed, conv["id"], "system_prompt_dropout").random() < ctx.cfg.system_prompts.dropout
        rows.append({
            "id": conv["id"], "system_prompt": text, "drop_system_prompt": drop or text is None,
            "status": status, "reason": reason, "raw": None if text else r["raw"],
        })
    metrics.records_out = sum(r["status"] == "ok" for r in rows)
    metrics.tokens = token_totals(list(raw.values()))
    metrics.tokens.update(token_use(raw.values(), [r["id"] for r in rows if r["status"] == "ok"]))
    metrics.extra["dropped_out"] = sum(r["drop_system_prompt"] for r in rows)
    return rows, metrics
