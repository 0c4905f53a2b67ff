"""Config of the stages after generation: judge, curate, export, report."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from fcsynth.config.base import Rate, Section, Tokens
from fcsynth.config.llm import ModelConfig
from fcsynth.rows import DIMENSIONS


class JudgeConfig(Section):
    model: ModelConfig | None  # None: the generator (cfg.model)
    temperature: Rate
    max_tokens: Tokens
    max_reasoning_chars: Tokens
    max_field_chars: Tokens  # clip each message / tool result shown to the judge
    max_prompt_chars: Tokens  # longer prompts are shortened, then skipped
    tool_schemas: Literal["full", "compact"]  # how the judge prompt shows each tool's parameters


RubricDimension = Literal[DIMENSIONS]  # type: ignore[valid-type]


class CurateConfig(Section):
    thresholds: dict[RubricDimension, Annotated[int, Field(ge=1, le=5)]]
    near_duplicate_threshold: Annotated[float, Field(gt=0, le=1)]
    num_perm: Tokens
    # Rule-based checks (fcsynth.curate.checks); values and their meaning: conf/curate/default.yaml.
    max_placeholder_values: Annotated[int, Field(ge=0)] | None
    example_similarity: Annotated[float, Field(gt=0, le=100)]
    max_repeated_calls: Annotated[int, Field(ge=0)] | None
    min_grounding: Rate
    grounding_similarity: Annotated[float, Field(gt=0, le=100)]
    ngram_size: Annotated[int, Field(ge=1)]
    max_repeated_ngram_share: Annotated[float, Field(gt=0, le=1)]
    reject_markup: bool


class ExportConfig(Section):
    test_fraction: Annotated[float, Field(ge=0, lt=1)]
    license: str  # the dataset card's license


class ReportConfig(Section):
    max_conversations: Tokens
