"""Typed configuration: params.yaml (the composition of conf/) validated by pydantic.

Every section is a strict model, so an unknown or ill-typed key is a one-line error
naming its dotted path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fcsynth.errors import FcsynthError
from fcsynth.paths import CONF_DIR, PARAMS_FILE


class Section(BaseModel):
    """Base for config sections: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(Section):
    name: str
    source: Literal["embedded", "local", "hub"]
    path: str
    gguf_package: str | None = None
    max_model_len: int = Field(4096, gt=0)
    dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"

    @model_validator(mode="after")
    def _embedded_lands_where_dvc_tracks(self) -> "ModelConfig":
        if self.source == "embedded" and self.path != f"data/models/{self.name}":
            raise ValueError(f"an embedded model is materialized to data/models/{self.name}; set path to that")
        return self


class LLMConfig(Section):
    backend: Literal["vllm", "fake"]
    structured_outputs_backend: Literal["guidance", "xgrammar", "outlines", "auto"] = "guidance"
    max_num_seqs: int = Field(16, gt=0)
    enforce_eager: bool = True
    gpu_memory_utilization: float = Field(0.85, gt=0, le=1)
    cpu_kvcache_gb: int = Field(2, gt=0)


class SamplingConfig(Section):
    temperature: float = Field(0.8, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(512, gt=0)
    repetition_penalty: float = Field(1.0, gt=0)


class ToolkitsConfig(Section):
    toolkits: list[str]
    bundles: list[list[str]] = []
    weights: dict[str, float] = {}


class ToolSource(Section):
    format: Literal["openapi", "mcp", "openai", "funcdex", "catalog"]
    path: str
    toolkit: str | None = None


class CatalogConfig(Section):
    builtin: bool = True
    sources: list[ToolSource] = []
    prompt_budget_tokens: int = Field(2048, gt=0)
    oversize: Literal["skip", "trim"] = "skip"


class DMLConfig(Section):
    thinking: bool = False
    min_user_turns: int = Field(1, ge=1)
    max_user_turns: int = Field(3, ge=1)
    max_parallel_calls: int = Field(3, ge=1)
    max_text_chars: int = Field(600, gt=0)
    max_steps_per_turn: int = Field(3, ge=0)
    require_tool_call: bool = True
    max_json_string_chars: int = Field(200, gt=0)

    @model_validator(mode="after")
    def _turns_ordered(self) -> "DMLConfig":
        if self.max_user_turns < self.min_user_turns:
            raise ValueError("max_user_turns must be >= min_user_turns")
        if self.require_tool_call and self.max_steps_per_turn < 1:
            raise ValueError("require_tool_call needs max_steps_per_turn >= 1")
        return self


class ScenariosConfig(Section):
    count: int = Field(8, gt=0)
    tools_per_scenario: tuple[int, int] = (2, 5)
    similarity_threshold: float = Field(0.9, gt=0, le=1)
    max_rounds: int = Field(4, gt=0)
    workflow_description: str | None = None
    max_tokens: int = Field(96, gt=0)

    @model_validator(mode="after")
    def _range_ordered(self) -> "ScenariosConfig":
        lo, hi = self.tools_per_scenario
        if not 1 <= lo <= hi:
            raise ValueError("tools_per_scenario must be [min, max] with 1 <= min <= max")
        return self


class BlueprintsConfig(Section):
    distractors: int = Field(2, ge=0)
    clarity_weights: dict[Literal["excellent", "good", "average"], float]
    parallel_call_rate: float = Field(0.3, ge=0, le=1)
    tool_error_rate: float = Field(0.2, ge=0, le=1)
    missing_argument_rate: float = Field(0.2, ge=0, le=1)
    max_tokens: int = Field(192, gt=0)

    @model_validator(mode="after")
    def _weights_usable(self) -> "BlueprintsConfig":
        if any(w < 0 for w in self.clarity_weights.values()) or sum(self.clarity_weights.values()) <= 0:
            raise ValueError("clarity_weights must be non-negative with a positive sum")
        return self


class ConversationsConfig(Section):
    max_tokens: int = Field(1024, gt=0)


class SystemPromptsConfig(Section):
    dropout: float = Field(0.1, ge=0, le=1)
    max_tokens: int = Field(128, gt=0)


class JudgeConfig(Section):
    model: ModelConfig | None = None  # None: the generator (cfg.model)
    temperature: float = Field(0.0, ge=0)
    max_tokens: int = Field(384, gt=0)
    max_reasoning_chars: int = Field(600, gt=0)
    max_field_chars: int = Field(800, gt=0)  # clip each message / tool result shown to the judge
    max_prompt_chars: int = Field(10000, gt=0)  # longer prompts are shortened, then skipped


RubricDimension = Literal["user_query_clarity", "tool_use_quality", "argument_grounding", "task_completion", "naturalness"]


class CurateConfig(Section):
    thresholds: dict[RubricDimension, Annotated[int, Field(ge=1, le=5)]]
    near_duplicate_threshold: float = Field(0.8, gt=0, le=1)
    num_perm: int = Field(128, gt=0)


class ExportConfig(Section):
    test_fraction: float = Field(ge=0, lt=1)
    license: str = "apache-2.0"  # the dataset card's license


class EvaluateConfig(Section):
    # None: the generator (cfg.model); a string: a local HF folder or a hub id.
    model: ModelConfig | str | None = None
    max_tokens: int = Field(256, gt=0)
    temperature: float = Field(0.0, ge=0)


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
    dtype: Literal["float32", "bfloat16", "float16"]
    gradient_checkpointing: bool
    lora: LoraConfig


class ReportConfig(Section):
    max_conversations: int = Field(500, gt=0)


class Config(Section):
    """The whole of params.yaml."""

    seed: int
    model: ModelConfig
    llm: LLMConfig
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


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line naming the first bad key (dotted path) and what is wrong with it."""
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "<root>"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    extra = f" (and {len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{source}: {key}: {msg}{extra}"


def parse_config(data: dict[str, Any], source: str = "params.yaml") -> Config:
    """Validate a params mapping; raise FcsynthError naming the bad key."""
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise FcsynthError(format_validation_error(err, source)) from None


def load_params(path: Path | str = PARAMS_FILE) -> Config:
    """Read and validate params.yaml."""
    path = Path(path)
    if not path.exists():
        raise FcsynthError(f"{path}: not found (run `make params` to compose it from conf/)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise FcsynthError(f"{path}: not valid YAML: {str(err).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise FcsynthError(f"{path}: expected a mapping at the top level")
    return parse_config(data, str(path.name))


def compose(overrides: list[str] | None = None, conf_dir: Path = CONF_DIR) -> dict[str, Any]:
    """Compose conf/ with Hydra (as DVC does on `dvc exp run`) into a plain dict."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    try:
        with initialize_config_dir(config_dir=str(conf_dir.resolve()), version_base=None):
            cfg = hydra_compose(config_name="config", overrides=overrides or [])
    except HydraException as err:
        raise FcsynthError(f"conf/: {str(err).splitlines()[0]}") from None
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def write_params(overrides: list[str] | None = None, path: Path = PARAMS_FILE) -> dict[str, Any]:
    """Compose conf/ and write params.yaml; validate before writing."""
    data = compose(overrides)
    parse_config(data, "conf/")
    header = "# Generated from conf/ by `make params` (DVC regenerates it on `dvc exp run`).\n"
    path.write_text(header + yaml.safe_dump(data, sort_keys=False))
    return data
