"""The `system_prompts` stage: one short system prompt per conversation.

Tone and domain rules for using the tools, never the tool definitions themselves. A
seeded drop-out marks records to be exported without their system prompt.
"""

from __future__ import annotations

import json
from typing import Any

from outlines.types import JsonSchema
from pydantic import BaseModel, Field

from fcsynth.constraints.budget import text_answer_schema
from fcsynth.generation.sampling import rng_for
from fcsynth.llm import Request, derive_seed
from fcsynth.llm.context import StageContext
from fcsynth.metrics import StageMetrics
from fcsynth.prompts import render
from fcsynth.rows import OK, PARSE_FAILURES, UPSTREAM_FAILED
from fcsynth.runner import make_request, parse_completion, run_requests, token_totals
from fcsynth.waste import token_use

STAGE = "system_prompts"
# The data/conversations.parquet columns a system prompt is written from (stages/system_prompts.py checks them).
CONVERSATION_COLUMNS = ("id", "status", "scenario", "persona", "toolkits", "tools")
TEMPLATE = "system_prompt.j2"


class SystemPromptAnswer(BaseModel):
    system_prompt: str = Field(min_length=20, max_length=800)


def answer_schema(max_tokens: int) -> dict[str, Any]:
    """The answer's JSON schema, its text bound allocated from max_tokens (fcsynth.constraints.budget)."""
    return text_answer_schema("system_prompt", 20, 800, max_tokens, STAGE)


def build_request(ctx: StageContext, conv: dict[str, Any]) -> Request:
    tools = json.loads(conv["tools"])
    prompt = render(
        TEMPLATE,
        scenario=conv["scenario"],
        persona=json.loads(conv["persona"]) if conv["persona"] else {},
        toolkits=conv["toolkits"],
        tool_names=[t["function"]["name"] for t in tools],
    )
    return make_request(
        conv["id"], prompt, JsonSchema(answer_schema(ctx.cfg.system_prompts.max_tokens)), ctx.cfg.sampling,
        ctx.cfg.system_prompts.max_tokens, derive_seed(ctx.cfg.seed, f"system_prompt:{conv['id']}"),
    )


def parse_answer(text: str) -> str:
    """The system prompt of a completion (ValueError when it is not one)."""
    return SystemPromptAnswer.model_validate_json(text).system_prompt.strip()


def schema() -> dict[str, Any]:
    """Polars schema of data/system_prompts.parquet."""
    import polars as pl

    return {
        "id": pl.String, "system_prompt": pl.String, "drop_system_prompt": pl.Boolean,
        "status": pl.String, "reason": pl.String, "raw": pl.String,
    }


def run(ctx: StageContext, conversations: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], StageMetrics]:
    """A system prompt row for every parsed conversation."""
    metrics = StageMetrics(STAGE, records_in=len(conversations))
    usable = [c for c in conversations if c["status"] == OK]
    metrics.reject(UPSTREAM_FAILED, len(conversations) - len(usable))
    raw = run_requests([build_request(ctx, c) for c in usable], ctx.checkpoint(STAGE), ctx.get_backend)
    rows = []
    for conv in usable:
        r = raw[conv["id"]]
        text, status, reason = parse_completion(r["text"], r["finish_reason"], parse_answer)
        drop = rng_for(ctx.cfg.seed, conv["id"], "system_prompt_dropout").random() < ctx.cfg.system_prompts.dropout
        rows.append({
            "id": conv["id"], "system_prompt": text, "drop_system_prompt": drop or text is None,
            "status": status, "reason": reason, "raw": None if text else r["text"],
        })
    metrics.count(rows, reasons=PARSE_FAILURES)
    metrics.tokens = token_totals(list(raw.values()))
    metrics.tokens.update(token_use(raw.values(), [r["id"] for r in rows if r["status"] == OK]))
    metrics.extra["dropped_out"] = sum(r["drop_system_prompt"] for r in rows)
    return rows, metrics
