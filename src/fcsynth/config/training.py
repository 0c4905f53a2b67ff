"""Config of fine-tuning the model and evaluating it (BFCL): train, evaluate."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from fcsynth.config.base import Rate, Section, Tokens
from fcsynth.config.llm import ModelConfig

BfclCategory = Literal["simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance", "multi_turn_base"]


class BfclConfig(Section):
    categories: list[BfclCategory]  # [] runs no BFCL
    per_category: Tokens | None  # a seeded subset of entries per category; None: every entry
    category_sizes: dict[BfclCategory, Tokens]  # per-category subset sizes that replace per_category
    max_steps_per_turn: Tokens  # multi-turn: model messages with calls per user turn

    @property
    def full(self) -> bool:
        """`per_category` null: every entry of every category, whatever `category_sizes` says."""
        return self.per_category is None

    def size(self, category: BfclCategory) -> int | None:
        """Entries to run of `category`; None: all of them."""
        return None if self.full else self.category_sizes.get(category, self.per_category)


class EvaluateConfig(Section):
    # None: the generator (cfg.model); a string: a local HF folder or a hub id.
    model: ModelConfig | str | None
    max_tokens: Tokens
    temperature: Rate
    bfcl: BfclConfig


class LoraConfig(Section):
    enabled: bool
    r: int = Field(gt=0)
    alpha: int = Field(gt=0)
    dropout: float = Field(ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"]


class TrainConfig(Section):
    epochs: float = Field(gt=0)
    learning_rate: float = Field(gt=0)
    lr_scheduler: Literal["constant", "linear", "cosine", "constant_with_warmup"]
    warmup: float = Field(ge=0)  # below 1: a fraction of the steps; else a step count
    batch_size: int = Field(gt=0)
    grad_accum: int = Field(gt=0)
    max_seq_len: int = Field(gt=0)
    dtype: Literal["auto", "float32", "bfloat16", "float16"]
    gradient_checkpointing: bool
    text_share: Annotated[float, Field(gt=0, lt=1)] | None  # of the loss on text-step tokens; None: plain token mean
    lora: LoraConfig
