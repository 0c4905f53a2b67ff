"""The `judge` stage (JudgeTask): every parsed conversation graded by an LLM against the rubric.

One request per conversation, all in one backend batch, each constrained to the
JudgeAnswer JSON schema. Finished answers are checkpointed as they arrive, each with a
key of its request, so a rerun keeps finished rows and redoes only changed ones.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from outlines.types import JsonSchema

from fcsynth.config import Config, SamplingConfig
from fcsynth.judge.rubric import JudgeAnswer, answer_schema, read_answer
from fcsynth.llm import Request, derive_seed
from fcsynth.llm.context import StageContext
from fcsynth.llm.task import Answer, RowTask
from fcsynth.prompts import render
from fcsynth.rows import DIMENSIONS, JUDGE_FAILURES, OK, PROMPT_TOO_LONG, UPSTREAM_FAILED, upstream_reason
from fcsynth.runner import make_request

# Columns the judge adds to each conversation row (system prompt first, then its verdict).
JUDGE_COLUMNS = (
    "system_prompt", "drop_system_prompt", "scores", "judge_reasoning", "judge_status", "judge_reason",
    "judge_raw", "judge_prompt_tokens", "judge_completion_tokens",
)


def _clip(text: Any, limit: int) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[:limit] + f" …[{len(text) - limit} more chars]"


def _arguments_text(arguments: Any) -> str:
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, ensure_ascii=False, sort_keys=True)


def summarize_parameters(schema: dict[str, Any]) -> str:
    """A short form of a parameters schema: `name: type (required)` per property."""
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    parts = []
    for name, prop in props.items():
        kind = prop.get("type", "any") if isinstance(prop, dict) else "any"
        parts.append(f"{name}: {kind}{' (required)' if name in required else ''}")
    return "{" + ", ".join(parts) + "}"


def transcript_view(messages: list[dict[str, Any]], max_chars: int) -> list[dict[str, Any]]:
    """Messages normalized for the template (missing keys filled, long text clipped)."""
    view = []
    for m in messages:
        calls = [
            {"name": c["function"]["name"], "arguments": _clip(_arguments_text(c["function"].get("arguments")), max_chars)}
            for c in m.get("tool_calls") or []
        ]
        view.append({
            "role": m["role"],
            "content": _clip(m.get("content"), max_chars) if m.get("content") else "",
            "reasoning": _clip(m.get("reasoning_content"), max_chars) if m.get("reasoning_content") else "",
            "calls": calls,
            "name": m.get("name") or "tool",
        })
    return view


def render_prompt(row: dict[str, Any], system_prompt: str | None, max_chars: int, compact: bool) -> str:
    """The judge prompt for one conversation row; `compact` shortens tool schemas."""
    tools = []
    for t in json.loads(row["tools"]):
        fn = t["function"]
        params = fn.get("parameters") or {}
        tools.append({
            "name": fn["name"],
            "description": _clip(fn.get("description"), 300),
            "parameters": summarize_parameters(params) if compact else json.dumps(params, ensure_ascii=False, separators=(",", ":")),
        })
    return render(
        JudgeTask.template,
        tools=tools,
        system_prompt=system_prompt,
        scenario=row["scenario"],
        outline=row.get("outline") or "",
        messages=transcript_view(json.loads(row["messages"]), max_chars),
    )


def judge_sampling(cfg: Config) -> SamplingConfig:
    """The judge's own sampling (independent of the generator's)."""
    return SamplingConfig(temperature=cfg.judge.temperature, top_p=1.0, max_tokens=cfg.judge.max_tokens, repetition_penalty=1.0)


def _usable(row: dict[str, Any]) -> bool:
    """Whether a conversation row is judged at all (parsed, with its messages)."""
    return row["status"] == OK and bool(row.get("messages"))


def _finish(row: dict[str, Any], sp: dict[str, Any] | None, **judge: Any) -> dict[str, Any]:
    out = dict(row)
    out["system_prompt"] = sp.get("system_prompt") if sp else None
    out["drop_system_prompt"] = bool(sp.get("drop_system_prompt")) if sp else True
    out.update({c: None for c in JUDGE_COLUMNS[2:]})
    out.update(judge)
    return out


@dataclass
class JudgeTask(RowTask):
    """Judged rows: every conversation column, its system prompt (from `system_prompts`), the judge columns."""

    system_prompts: list[dict[str, Any]]
    by_id: dict[str, dict[str, Any]] = field(init=False, repr=False)
    stage = "judge"
    # The conversation columns the judge reads (stages/judge.py checks them); the rest pass through.
    inputs = ("id", "selection", "status", "scenario", "tools")
    system_prompt_inputs = ("id",)  # the columns of data/system_prompts.parquet it reads
    template = "judge.j2"
    status_key = "judge_status"
    reasons = (*JUDGE_FAILURES, UPSTREAM_FAILED)

    def __post_init__(self) -> None:
        self.by_id = {r["id"]: r for r in self.system_prompts}

    @classmethod
    def schema(cls, conversation_schema: dict[str, Any]) -> dict[str, Any]:
        """Polars schema of data/judged.parquet: the conversation columns (its rows carry them), then JUDGE_COLUMNS."""
        import polars as pl

        return {
            **conversation_schema,
            "system_prompt": pl.String, "drop_system_prompt": pl.Boolean, "scores": pl.String,
            "judge_reasoning": pl.String, "judge_status": pl.String, "judge_reason": pl.String, "judge_raw": pl.String,
            "judge_prompt_tokens": pl.Int64, "judge_completion_tokens": pl.Int64,
        }

    def system_prompt(self, row: dict[str, Any]) -> str | None:
        sp = self.by_id.get(row["id"])
        return sp.get("system_prompt") if sp else None

    def request(self, ctx: StageContext, row: dict[str, Any]) -> Request | None:
        """None when the conversation failed upstream or even the compact prompt is too long."""
        if not _usable(row):
            return None
        cfg, j, system_prompt = ctx.cfg, ctx.cfg.judge, self.system_prompt(row)
        prompt = render_prompt(row, system_prompt, j.max_field_chars, compact=j.tool_schemas == "compact")
        if len(prompt) > j.max_prompt_chars:
            prompt = render_prompt(row, system_prompt, j.max_field_chars // 2, compact=True)
        if len(prompt) > j.max_prompt_chars:
            return None
        return make_request(
            row["id"], prompt, JsonSchema(answer_schema(j.max_reasoning_chars, j.max_tokens)), judge_sampling(cfg),
            j.max_tokens, derive_seed(cfg.seed, f"judge:{row['id']}"),
        )

    def parse(self, text: str) -> JudgeAnswer:
        return read_answer(text)

    def output(self, ctx: StageContext, row: dict[str, Any], answer: Answer | None) -> dict[str, Any]:
        sp = self.by_id.get(row["id"])
        if answer is None:
            if not _usable(row):
                return _finish(row, sp, judge_status=UPSTREAM_FAILED, judge_reason=upstream_reason(row))
            reason = f"longer than judge.max_prompt_chars={ctx.cfg.judge.max_prompt_chars}"
            return _finish(row, sp, judge_status=PROMPT_TOO_LONG, judge_reason=reason)
        tokens = {"judge_prompt_tokens": answer.raw["prompt_tokens"], "judge_completion_tokens": answer.raw["completion_tokens"]}
        if answer.value is None:
            return _finish(row, sp, judge_status=answer.status, judge_reason=answer.reason, judge_raw=answer.text, **tokens)
        return _finish(
            row, sp, judge_status=OK, judge_reasoning=answer.value.reasoning,
            scores=json.dumps(answer.value.scores.model_dump(), sort_keys=True), **tokens,
        )

    def extra(self, ctx: StageContext, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {**score_metrics(rows), "judge_model": ctx.model_cfg.name}


def _summary(score_dicts: list[dict[str, int]]) -> dict[str, Any]:
    out: dict[str, Any] = {"judged": len(score_dicts)}
    for dim in DIMENSIONS:
        values = [s[dim] for s in score_dicts]
        hist = Counter(values)
        out[dim] = {
            "mean": round(sum(values) / len(values), 3) if values else None,
            "histogram": {str(k): hist.get(k, 0) for k in range(1, 6)},
        }
    means = [out[d]["mean"] for d in DIMENSIONS if out[d]["mean"] is not None]
    out["overall_mean"] = round(sum(means) / len(means), 3) if means else None
    return out


def score_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and histogram of every dimension, overall and per selection."""
    scored = [(r["selection"], json.loads(r["scores"])) for r in rows if r.get("scores")]
    selections = sorted({r["selection"] for r in rows})
    return {
        "scores": _summary([s for _, s in scored]),
        "per_selection": {sel: _summary([s for x, s in scored if x == sel]) for sel in selections},
    }
