"""BFCL for one model of the `evaluate` stage: every configured category, generated and scored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fcsynth.bfcl.run import Runner
from fcsynth.bfcl.suite import load, subset
from fcsynth.checkpoint import Checkpoint
from fcsynth.config import Config
from fcsynth.llm import Backend
from fcsynth.llm.context import StageContext


def evaluate_bfcl(cfg: Config, backend_factory: Callable[[], Backend], tokenizer: Any, checkpoint: Checkpoint,
                  max_model_len: int | None, label: str) -> list[dict[str, Any]]:
    """Scored rows, one per entry of `evaluate.bfcl.categories`, for one model (`summarize` them)."""
    from fcsynth.chat.prompting import PromptBuilder
    from fcsynth.evaluate.run import sampling_for

    bfcl = cfg.evaluate.bfcl
    runner = Runner(backend_factory, PromptBuilder(tokenizer), sampling_for(cfg.evaluate), cfg.seed, checkpoint,
                    max_model_len, bfcl.max_steps_per_turn, label)
    return runner.run([e for category in bfcl.categories for e in subset(load(category), bfcl.size(category), cfg.seed)])


def run_bfcl(ctx: StageContext, checkpoint: Checkpoint, label: str) -> list[dict[str, Any]]:
    """BFCL rows (`model` = label) for the model of `ctx`, rendered and sampled as the
    in-domain steps are; empty when `evaluate.bfcl.categories` is []."""
    from fcsynth.model_store import load_tokenizer, resolve_model_path

    if not ctx.cfg.evaluate.bfcl.categories:
        return []
    tokenizer = load_tokenizer(resolve_model_path(ctx.model_cfg, ctx.root)) if ctx.cfg.llm.engine == "vllm" else None
    rows = evaluate_bfcl(ctx.cfg, ctx.get_backend, tokenizer, checkpoint, ctx.model_cfg.max_model_len, label)
    return [{"model": label, **r} for r in rows]
