"""The whole of params.yaml as one model; its budgets must fit the models' context lengths."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from fcsynth.config.base import Section
from fcsynth.config.budgets import token_budgets
from fcsynth.config.curation import CurateConfig, ExportConfig, JudgeConfig, ReportConfig
from fcsynth.config.generation import (
    BlueprintsConfig,
    CatalogConfig,
    ConversationsConfig,
    DMLConfig,
    ScenariosConfig,
    SystemPromptsConfig,
    ToolkitsConfig,
)
from fcsynth.config.llm import LLMConfig, ModelConfig, OpenAIConfig, RayConfig, SamplingConfig
from fcsynth.config.training import EvaluateConfig, TrainConfig


class Config(Section):
    """The whole of params.yaml."""

    seed: int
    model: ModelConfig
    llm: Annotated[LLMConfig | RayConfig | OpenAIConfig, Field(discriminator="backend")]
    sampling: SamplingConfig
    toolkits: ToolkitsConfig
    catalog: CatalogConfig
    dml: DMLConfig
    scenarios: ScenariosConfig
    blueprints: BlueprintsConfig
    conversations: ConversationsConfig
    system_prompts: SystemPromptsConfig
    judge: JudgeConfig
    curate: CurateConfig
    export: ExportConfig
    evaluate: EvaluateConfig
    train: TrainConfig
    report: ReportConfig

    @model_validator(mode="after")
    def _budgets_fit_the_model(self) -> Config:
        for key, max_tokens, model_len in token_budgets(self):
            if max_tokens >= model_len:
                raise ValueError(
                    f"{key}={max_tokens} leaves no room for the prompt within max_model_len={model_len}"
                )
        return self
