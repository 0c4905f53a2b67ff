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
from fcsynth.llm.task import Answer, RowTask
from fcsynth.rows import OK, PARSE_FAILURES, UPSTREAM_FAILED
from fcsynth.runner import make_request


class SystemPromptAnswer(BaseModel):
    system_prompt: str = Field(min_length=20, max_length=800)


def answer_schema(max_tokens: int) -> dict[str, Any]:
    """The answer's JSON schema, its text bound allocated from max_tokens (fcsynth.constraints.budget)."""
    return text_answer_schema("system_prompt", 20, 800, max_tokens, SystemPromptTask.stage)


class SystemPromptTask(RowTask):
    """A system prompt row for every parsed conversation (the others are dropped: upstream_failed)."""

    stage = "system_prompts"
    inputs = ("id", "status", "scenario", "persona", "toolkits", "tools")  # of data/conversations.parquet
    template = "system_prompt.j2"
    reasons = (*PARSE_FAILURES, UPSTREAM_FAILED)

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """Polars schema of data/system_prompts.parquet."""
        import polars as pl

        return {
            "id": pl.String, "system_prompt": pl.String, "drop_system_prompt": pl.Boolean,
            "status": pl.String, "reason": pl.String, "raw": pl.String,
        }

    def request(self, ctx: StageContext, row: dict[str, Any]) -> Request | None:
        if row["status"] != OK:
            return None
        prompt = self.prompt(
            scenario=row["scenario"],
            persona=json.loads(row["persona"]) if row["persona"] else {},
            toolkits=row["toolkits"],
            tool_names=[t["function"]["name"] for t in json.loads(row["tools"])],
        )
        return make_request(
            row["id"], prompt, JsonSchema(answer_schema(ctx.cfg.system_prompts.max_tokens)), ctx.cfg.sampling,
            ctx.cfg.system_prompts.max_tokens, derive_seed(ctx.cfg.seed, f"system_prompt:{row['id']}"),
        )

    def parse(self, text: str) -> str:
        """The system prompt of a completion (ValueError when it is not one)."""
        return SystemPromptAnswer.model_validate_json(text).system_prompt.strip()

    def output(self, ctx: StageContext, row: dict[str, Any], answer: Answer | None) -> dict[str, Any] | None:
        if answer is None:  # the conversation failed upstream
            return None
        text = answer.value
        drop = rng_for(ctx.cfg.seed, row["id"], "system_prompt_dropout").random() < ctx.cfg.system_prompts.dropout
        return {
            "id": row["id"], "system_prompt": text, "drop_system_prompt": drop or text is None,
            "status": answer.status, "reason": answer.reason, "raw": None if text else answer.text,
        }

    def extra(self, ctx: StageContext, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {"dropped_out": sum(r["drop_system_prompt"] for r in rows)}
