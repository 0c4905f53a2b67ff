"""The `judge` stage: every parsed conversation graded by an LLM against the rubric.

One request per conversation, all in one backend batch, each constrained to the
JudgeAnswer JSON schema. Finished answers are checkpointed as they arrive, each with a
key of its request, so a rerun keeps finished rows and redoes only changed ones.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from outlines.types import JsonSchema

from fcsynth.generation.conversations import FAILED_STATUSES
from fcsynth.checkpoint import Checkpoint
from fcsynth.config import Config, SamplingConfig
from fcsynth.judge.rubric import DIMENSIONS, answer_schema, parse_answer
from fcsynth.llm import Backend, Request, derive_seed
from fcsynth.metrics import StageMetrics
from fcsynth.waste import token_use
from fcsynth.prompts import render
from fcsynth.runner import run_requests, token_totals

STAGE = "judge"
TEMPLATE = "judge.j2"
JUDGE_COLUMNS = (
    "system_prompt", "drop_system_prompt", "scores", "judge_reasoning", "judge_status",
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
        TEMPLATE,
        tools=tools,
        system_prompt=system_prompt,
        scenario=row["scenario"],
        outline=row.get("outline") or "",
        messages=transcript_view(json.loads(row["messages"]), max_chars),
    )


def judge_sampling(cfg: Config) -> SamplingConfig:
    """The judge's own sampling (independent of the generator's)."""
    return SamplingConfig(temperature=cfg.judge.temperature, top_p=1.0, max_tokens=cfg.judge.max_tokens)


def build_request(cfg: Config, row: dict[str, Any], system_prompt: str | None) -> Request | None:
    """The judge request of one conversation, or None when even the compact prompt is too long."""
    j = cfg.judge
    prompt = render_prompt(row, system_prompt, j.max_field_chars, compact=False)
    if len(prompt) > j.max_prompt_chars:
        prompt = render_prompt(row, system_prompt, j.max_field_chars // 2, compact=True)
    if len(prompt) > j.max_prompt_chars:
        return None
    return Request(
        id=row["id"], sampling=judge_sampling(cfg), seed=derive_seed(cfg.seed, f"judge:{row['id']}"),
        messages=[{"role": "user", "content": prompt}],
        constraint=JsonSchema(answer_schema(j.max_reasoning_chars, j.max_tokens)),
    )


def _finish(row: dict[str, Any], sp: dict[str, Any] | None, **judge: Any) -> dict[str, Any]:
    out = dict(row)
    out["system_prompt"] = sp.get("system_prompt") if sp else None
    out["drop_system_prompt"] = bool(sp.get("drop_system_prompt")) if sp else True
    out.update({c: None for c in JUDGE_COLUMNS[2:]})
    out.update(judge)
    return out


def judge_conversations(
    cfg: Config,
    conversations: list[dict[str, Any]],
    system_prompts: list[dict[str, Any]],
    checkpoint: Checkpoint,
    backend_factory: Callable[[], Backend],
) -> tuple[list[dict[str, Any]], StageMetrics]:
    """Judged rows (every conversation column + system prompt + judge columns) and metrics."""
    metrics = StageMetrics(STAGE, records_in=len(conversations))
    for reason in (*[f"upstream_{s}" for s in FAILED_STATUSES], "prompt_too_long", "unparseable"):
        metrics.reject(reason, 0)
    sp_by_id = {r["id"]: r for r in system_prompts}
    requests: dict[str, Request] = {}
    skipped: dict[str, str] = {}
    for row in conversations:
        if row["status"] != "ok" or not row.get("messages"):
            skipped[row["id"]] = f"upstream_{row['status']}" if row["status"] != "ok" else "upstream_unparseable"
            continue
        sp = sp_by_id.get(row["id"])
        request = build_request(cfg, row, sp.get("system_prompt") if sp else None)
        if request is None:
            skipped[row["id"]] = "prompt_too_long"
        else:
            requests[row["id"]] = request

    answered = run_requests(list(requests.values()), checkpoint, backend_factory)

    rows = []
    for row in conversations:
        sp = sp_by_id.get(row["id"])
        if row["id"] in skipped:
            metrics.reject(skipped[row["id"]])
            rows.append(_finish(row, sp, judge_status="skipped"))
            continue
        done = answered[row["id"]]
        answer = parse_answer(done["text"])
        tokens = {"judge_prompt_tokens": done["prompt_tokens"], "judge_completion_tokens": done["completion_tokens"]}
        if answer is None:
            metrics.reject("unparseable")
            rows.append(_finish(row, sp, judge_status="unparseable", judge_raw=done["text"], **tokens))
            continue
        rows.append(_finish(
            row, sp, judge_status="ok", judge_reasoning=answer.reasoning,
            scores=json.dumps(answer.scores.model_dump(), sort_keys=True), **tokens,
        ))
    metrics.records_out = sum(r["judge_status"] == "ok" for r in rows)
    metrics.tokens = token_totals(list(answered.values()))
    metrics.tokens.update(token_use(answered.values(), [r["id"] for r in rows if r["judge_status"] == "ok"]))
    metrics.extra.update(score_metrics(rows))
    return rows, metrics


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
