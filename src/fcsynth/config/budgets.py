"""The token budget of every LLM stage: its max_tokens and the context of the model that generates it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcsynth.config.llm import ModelConfig

if TYPE_CHECKING:
    from fcsynth.config.schema import Config


def token_budgets(cfg: Config) -> list[tuple[str, int, int]]:
    """(key, max_tokens, max_model_len of the model that generates it) of every LLM stage."""
    judge_len = (cfg.judge.model or cfg.model).max_model_len
    ev = cfg.evaluate.model
    eval_len = ev.max_model_len if isinstance(ev, ModelConfig) else cfg.model.max_model_len
    gen = cfg.model.max_model_len
    return [
        ("sampling.max_tokens", cfg.sampling.max_tokens, gen),
        ("scenarios.max_tokens", cfg.scenarios.max_tokens, gen),
        ("blueprints.max_tokens", cfg.blueprints.max_tokens, gen),
        ("conversations.max_tokens", cfg.conversations.max_tokens, gen),
        ("system_prompts.max_tokens", cfg.system_prompts.max_tokens, gen),
        ("judge.max_tokens", cfg.judge.max_tokens, judge_len),
        ("evaluate.max_tokens", cfg.evaluate.max_tokens, eval_len),
    ]
