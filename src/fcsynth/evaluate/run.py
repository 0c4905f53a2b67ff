"""Evaluate a model on the test split: every step's request in one batch, checkpointed, scored.

The checkpoint stores raw completions keyed by step id and reused only for the identical
request (prompt, sampling, seed), so scoring changes never regenerate and a killed run
resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fcsynth.chat.prompting import Prompt, PromptBuilder
from fcsynth.chat.steps import Step, cut_steps
from fcsynth.checkpoint import Checkpoint, file_digest
from fcsynth.config import EvaluateConfig, SamplingConfig
from fcsynth.errors import FcsynthError
from fcsynth.evaluate.metrics import canonical_calls, score_step, summarize
from fcsynth.evaluate.parse import parse_completion as parse_answer
from fcsynth.llm import Backend, Request, derive_seed
from fcsynth.llm.context import StageContext
from fcsynth.metrics import StageMetrics
from fcsynth.rows import PARSE_FAILURES, PROMPT_TOO_LONG
from fcsynth.runner import make_request, parse_completion, pending, run_requests, token_totals

STAGE = "evaluate"


def schema() -> dict[str, Any]:
    """Polars schema of data/evaluate/steps.parquet (one row per scored step and model)."""
    import polars as pl

    s, i, b = pl.String, pl.Int64, pl.Boolean
    return {
        "id": s, "model": s, "record_id": s, "selection": s, "index": i, "kind": s,
        "gold": s, "prediction": s, "predicted_calls": s, "predicted_text": s,
        "exact": b, "function_call_match": pl.Float64, "name_match": b,
        "arg_tp": i, "arg_pred": i, "arg_gold": i, "no_call": b, "malformed": i,
        "prompt_tokens": i, "completion_tokens": i, "finish_reason": s, "status": s, "reason": s,
    }


def write_steps(rows: list[dict[str, Any]], path: Path) -> None:
    """Write the per-step results table (sorted by step id, base before tuned; empty keeps its columns)."""
    from fcsynth.tables import write_rows

    write_rows([{"model": None, **r} for r in rows], path, schema(), allow_empty=True)


def bfcl_schema() -> dict[str, Any]:
    """Polars schema of data/evaluate/bfcl.parquet (one row per BFCL entry and model)."""
    import polars as pl

    s = pl.String
    return {"id": s, "model": s, "category": s, "valid": pl.Boolean, "error_type": s, "prediction": s,
            "status": s, "unparseable": pl.Boolean}


def write_bfcl_rows(rows: list[dict[str, Any]], path: Path) -> None:
    """Write the BFCL results table (an empty one when no category runs)."""
    from fcsynth.tables import write_rows

    write_rows([{**r, "id": f"{r['model']}/{r['id']}"} for r in rows], path, bfcl_schema(), allow_empty=True)


def tuned_checkpoint(ctx: StageContext, folder: Path) -> Checkpoint:
    """The tuned model's checkpoint, keyed by its weights too: retraining never reuses old answers."""
    return ctx.checkpoint(STAGE, [file_digest(p) for p in sorted(folder.glob("*.safetensors"))])


def sampling_for(cfg: EvaluateConfig) -> SamplingConfig:
    """Free-form sampling: the configured temperature, no top-p or repetition shaping."""
    return SamplingConfig(
        temperature=cfg.temperature, top_p=1.0, max_tokens=cfg.max_tokens, repetition_penalty=1.0
    )


@dataclass
class EvalResult:
    """Per-step rows (scored), the summary figures, and how prompts were rendered."""

    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    prompt_style: str
    skipped_too_long: int
    generated: int
    tokens: dict[str, int]  # fcsynth.runner.token_totals of the step completions


def _request(step: Step, prompt: Prompt, sampling: SamplingConfig, seed: int) -> Request:
    raw = prompt.prompt is not None
    return make_request(
        step.id, prompt.prompt if raw else prompt.messages, None, sampling, sampling.max_tokens,
        derive_seed(seed, step.id), raw_prompt=raw, metadata={"step": step},
    )


def score_row(step: Step, completion: dict[str, Any]) -> dict[str, Any]:
    """One per-step result row: gold, prediction, parsed calls, scores and status (a
    truncated or refused completion is scored as it is, and its status says so)."""
    _, status, reason = parse_completion(completion["text"], completion.get("finish_reason") or "stop", str)
    parsed = parse_answer(completion["text"])
    scores = score_step(step.gold_calls, parsed.calls)
    gold = canonical_calls(step.gold_calls) if step.gold_calls is not None else step.gold_text or ""
    return {
        "id": step.id, "record_id": step.record_id, "selection": step.selection, "index": step.index,
        "gold": gold, "prediction": completion["text"],
        "predicted_calls": canonical_calls(parsed.calls), "predicted_text": parsed.text,
        **scores,
        "prompt_tokens": int(completion.get("prompt_tokens") or 0),
        "completion_tokens": int(completion.get("completion_tokens") or 0),
        "finish_reason": completion.get("finish_reason") or "stop",
        "status": status, "reason": reason,
    }


def evaluate(
    records: list[dict[str, Any]],
    backend_factory: Callable[[], Backend],
    tokenizer: Any,
    eval_cfg: EvaluateConfig,
    seed: int,
    checkpoint: Checkpoint | None = None,
    max_model_len: int | None = None,
) -> EvalResult:
    """Score the model behind `backend_factory` on every step of `records`.

    `tokenizer` (the model's) renders prompts and detects tool support in its template;
    None sends Hermes-default messages for the backend to render. The backend is built only
    when some step is not already checkpointed. Steps whose prompt plus `max_tokens` exceed
    `max_model_len` are skipped and counted.
    """
    builder = PromptBuilder(tokenizer)
    sampling = sampling_for(eval_cfg)
    steps = [s for r in records for s in cut_steps(r)]
    if len({s.id for s in steps}) != len(steps):
        raise FcsynthError("test split: duplicate record ids")
    requests, skipped = [], 0
    for step in steps:
        prompt = builder.build(step)
        n = builder.count_tokens(prompt) if max_model_len else None
        if n is not None and max_model_len and n + eval_cfg.max_tokens > max_model_len:
            skipped += 1
            continue
        requests.append(_request(step, prompt, sampling, seed))
    checkpoint = checkpoint or Checkpoint("evaluate", "memory", directory=None)
    generated = len(pending(requests, checkpoint))
    done = run_requests(requests, checkpoint, backend_factory)
    rows = [score_row(r.metadata["step"], done[r.id]) for r in requests]
    rows.sort(key=lambda r: r["id"])
    return EvalResult(rows, summarize(rows), builder.style, skipped, generated, token_totals([done[r.id] for r in requests]))


def run(
    ctx: StageContext, records: list[dict[str, Any]], checkpoint: Checkpoint | None = None
) -> tuple[list[dict[str, Any]], StageMetrics]:
    """Scored step rows and metrics for the model of `ctx` (the stage's run signature);
    `checkpoint` defaults to the stage's own for that model."""
    from fcsynth.model_store import load_tokenizer, resolve_model_path

    model_cfg = ctx.model_cfg
    tokenizer = load_tokenizer(resolve_model_path(model_cfg, ctx.root)) if ctx.cfg.llm.engine == "vllm" else None
    result = evaluate(
        records, ctx.get_backend, tokenizer, ctx.cfg.evaluate, ctx.cfg.seed,
        checkpoint=checkpoint or ctx.checkpoint(STAGE), max_model_len=model_cfg.max_model_len,
    )
    if not result.rows:
        raise FcsynthError(
            f"no test step to score ({result.skipped_too_long} skipped: prompt longer than"
            f" max_model_len={model_cfg.max_model_len}); nothing written"
        )
    metrics = StageMetrics(STAGE, records_in=len(records))
    metrics.count(result.rows, reasons=(*PARSE_FAILURES, PROMPT_TOO_LONG))
    metrics.reject(PROMPT_TOO_LONG, result.skipped_too_long)
    metrics.tokens = result.tokens
    metrics.extra.update(
        model={"name": model_cfg.name, "path": model_cfg.path},
        prompt_style=result.prompt_style,
        generated=result.generated,
        **result.summary,
    )
    return result.rows, metrics

