"""Typed configuration: params.yaml (the composition of conf/) validated by strict pydantic models."""

from fcsynth.config.base import ModelName, Rate, Section, Tokens
from fcsynth.config.budgets import token_budgets
from fcsynth.config.composition import compose, conf_defaults, write_params
from fcsynth.config.curation import CurateConfig, ExportConfig, JudgeConfig, ReportConfig, RubricDimension
from fcsynth.config.generation import (
    BlueprintsConfig,
    CatalogConfig,
    ConversationsConfig,
    DMLConfig,
    ScenariosConfig,
    SystemPromptsConfig,
    ToolkitsConfig,
    ToolSource,
)
from fcsynth.config.llm import (
    ENGINE_KWARGS,
    LLM_BACKENDS,
    LLMConfig,
    ModelConfig,
    OpenAIConfig,
    RayConfig,
    SamplingConfig,
)
from fcsynth.config.loading import UniqueKeyLoader, format_validation_error, load_params, parse_config, read_yaml
from fcsynth.config.model_limits import check_model_limit
from fcsynth.config.schema import Config
from fcsynth.config.training import BfclCategory, BfclConfig, EvaluateConfig, LoraConfig, TrainConfig

__all__ = [
    "ENGINE_KWARGS",
    "LLM_BACKENDS",
    "BfclCategory",
    "BfclConfig",
    "BlueprintsConfig",
    "CatalogConfig",
    "Config",
    "ConversationsConfig",
    "CurateConfig",
    "DMLConfig",
    "EvaluateConfig",
    "ExportConfig",
    "JudgeConfig",
    "LLMConfig",
    "LoraConfig",
    "ModelConfig",
    "ModelName",
    "OpenAIConfig",
    "Rate",
    "RayConfig",
    "ReportConfig",
    "RubricDimension",
    "SamplingConfig",
    "ScenariosConfig",
    "Section",
    "SystemPromptsConfig",
    "Tokens",
    "ToolSource",
    "ToolkitsConfig",
    "TrainConfig",
    "UniqueKeyLoader",
    "check_model_limit",
    "compose",
    "conf_defaults",
    "format_validation_error",
    "load_params",
    "parse_config",
    "read_yaml",
    "token_budgets",
    "write_params",
]
