"""Typed configuration: params.yaml (the composition of conf/) validated by pydantic.

Every section is a strict model without defaults: an unknown, missing or ill-typed key
is a one-line error naming its dotted path. Default values live in conf/ only.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from fcsynth.errors import FcsynthError
from fcsynth.paths import CONF_DIR, PARAMS_FILE
from fcsynth.rows import DIMENSIONS


class Section(BaseModel):
    """Base for config sections: unknown keys are errors, types are strict (no bool for an
    int, no float for an int, no string for a number), and no field has a default: every
    value comes from conf/ (through params.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


Rate = Annotated[float, Field(ge=0, le=1)]
Tokens = Annotated[int, Field(gt=0)]

# A model's name becomes a folder under data/models/, so it must be one plain path segment.
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _plain_segment(name: str) -> str:
    if not _MODEL_NAME.fullmatch(name) or ".." in name:
        raise ValueError(
            f"{name!r} is not a plain folder name (letters, digits, '.', '_', '-'; no '/' or '..'): "
            "it names the model's folder under data/models/"
        )
    return name


ModelName = Annotated[str, AfterValidator(_plain_segment)]


class ModelConfig(Section):
    name: ModelName
    source: Literal["embedded", "local", "hub"]
    path: str
    gguf_package: str | None
    max_model_len: Tokens
    dtype: Literal["auto", "bfloat16", "float16", "float32"]  # auto: fcsynth.llm.cpu

    @model_validator(mode="after")
    def _embedded_lands_where_dvc_tracks(self) -> ModelConfig:
        if self.source == "embedded" and self.path != f"data/models/{self.name}":
            raise ValueError(f"an embedded model is materialized to data/models/{self.name}; set path to that")
        return self


# vllm.LLM (EngineArgs) options `llm.engine_kwargs` may pass through. Options fcsynth sets
# from its own keys (model.*, llm.max_num_seqs, ...) are not among them.
ENGINE_KWARGS = frozenset({
    "tensor_parallel_size", "pipeline_parallel_size", "enable_expert_parallel", "distributed_executor_backend",
    "quantization", "kv_cache_dtype", "max_num_batched_tokens", "enable_chunked_prefill", "enable_prefix_caching",
    "block_size", "cpu_offload_gb", "kv_offloading_size", "async_scheduling", "speculative_config",
    "compilation_config", "max_cudagraph_capture_size", "load_format", "revision", "tokenizer", "tokenizer_mode",
    "trust_remote_code", "hf_overrides", "disable_custom_all_reduce",
})


class LLMConfig(Section):
    backend: Literal["vllm", "fake"]
    structured_outputs_backend: Literal["guidance", "xgrammar", "outlines", "auto"]
    max_num_seqs: Tokens
    enforce_eager: bool
    gpu_memory_utilization: Annotated[float, Field(gt=0, le=1)]
    cpu_kvcache_gb: Tokens
    engine_kwargs: dict[str, Any]

    @model_validator(mode="after")
    def _known_engine_kwargs(self) -> LLMConfig:
        unknown = sorted(set(self.engine_kwargs) - ENGINE_KWARGS)
        if unknown:
            raise ValueError(f"engine_kwargs: {unknown[0]} is not passed through (allowed: {', '.join(sorted(ENGINE_KWARGS))})")
        return self

    @property
    def engine(self) -> str:
        """The engine that runs the model in this process or on a replica: vllm or fake."""
        return self.backend


class RayConfig(LLMConfig):
    """Ray Data over `replicas` engine replicas (`llm=ray`); the engine keys configure each replica."""

    backend: Literal["ray"]  # type: ignore[assignment]
    replica_backend: Literal["vllm", "fake"]
    replicas: Tokens
    gpus_per_replica: Annotated[float, Field(ge=0)]
    cpus_per_replica: Annotated[float, Field(gt=0)]
    start_timeout_s: Annotated[float, Field(gt=0)]

    @property
    def engine(self) -> str:
        return self.replica_backend


class OpenAIConfig(Section):
    """An OpenAI-compatible server (`llm=openai`); the API key is read from `api_key_env`."""

    backend: Literal["openai"]
    base_url: str
    model: str  # the served model name
    api_key_env: str | None
    max_concurrency: Tokens
    timeout_s: Annotated[float, Field(gt=0)]
    max_retries: Annotated[int, Field(ge=0)]

    @property
    def engine(self) -> str:
        """Whatever the server runs; fcsynth loads no model for it."""
        return self.backend


LLM_BACKENDS = {*get_args(LLMConfig.model_fields["backend"].annotation), "ray", "openai"}


class SamplingConfig(Section):
    temperature: Rate
    top_p: Annotated[float, Field(gt=0, le=1)]
    max_tokens: Tokens
    repetition_penalty: Annotated[float, Field(gt=0)]


class ToolkitsConfig(Section):
    toolkits: list[str]
    bundles: list[list[str]]
    weights: dict[str, Annotated[float, Field(ge=0)]]


class ToolSource(Section):
    format: Literal["openapi", "mcp", "openai", "funcdex", "bfcl", "catalog"]
    path: str
    toolkit: str | None = None  # a list entry: Hydra has no defaults for those, so it is optional here


class CatalogConfig(Section):
    builtin: bool
    sources: list[ToolSource]
    prompt_budget_tokens: Tokens
    oversize: Literal["skip", "trim"]


class DMLConfig(Section):
    thinking: bool
    max_parallel_calls: Annotated[int, Field(ge=1)]
    max_text_chars: Annotated[int, Field(ge=8)]
    max_think_chars: Annotated[int, Field(ge=8)] | None
    max_steps_per_turn: Annotated[int, Field(ge=1)]
    max_json_string_chars: Tokens
    max_json_items: Tokens
    max_response_properties: Annotated[int, Field(ge=0)]
    max_response_depth: Annotated[int, Field(ge=0)]
    max_argument_properties: Annotated[int, Field(ge=0)] | None
    max_argument_depth: Annotated[int, Field(ge=0)] | None


class ScenariosConfig(Section):
    count: Tokens
    tools_per_scenario: Annotated[list[int], Field(min_length=2, max_length=2)]
    random_tool_share: Annotated[float, Field(ge=0, le=1)]
    similarity_threshold: Annotated[float, Field(gt=0, le=1)]
    max_rounds: Tokens
    workflow_description: str | None
    max_tokens: Tokens
    allow_shrink: bool  # True: drop stored scenarios the current config does not use

    @model_validator(mode="after")
    def _range_ordered(self) -> ScenariosConfig:
        lo, hi = self.tools_per_scenario
        if not 1 <= lo <= hi:
            raise ValueError("tools_per_scenario must be [min, max] with 1 <= min <= max")
        return self


class BlueprintsConfig(Section):
    distractors: Annotated[int, Field(ge=0)]
    clarity_weights: dict[Literal["excellent", "good", "average"], float]
    parallel_call_rate: Rate
    tool_error_rate: Rate
    missing_argument_rate: Rate
    no_tool_rate: Rate
    user_turns: Annotated[list[int], Field(min_length=2, max_length=2)]  # [min, max] user turns a conversation plans
    steps_per_task_turn: Annotated[list[int], Field(min_length=2, max_length=2)]  # [min, max] call steps of a task turn
    max_tokens: Tokens

    @model_validator(mode="after")
    def _weights_usable(self) -> BlueprintsConfig:
        if any(w < 0 for w in self.clarity_weights.values()) or sum(self.clarity_weights.values()) <= 0:
            raise ValueError("clarity_weights must be non-negative with a positive sum")
        for key in ("user_turns", "steps_per_task_turn"):
            lo, hi = getattr(self, key)
            if not 1 <= lo <= hi:
                raise ValueError(f"{key} must be [min, max] with 1 <= min <= max")
        return self


class ConversationsConfig(Section):
    max_tokens: Tokens  # the most one simulated turn may be budgeted (its proven worst case)
    max_turn_retries: Annotated[int, Field(ge=0)]  # regenerations of a turn that fails a rule check
    first_turn_retries: Annotated[int, Field(ge=0)]  # the same, while no turn is complete yet
    user_text_chars: Annotated[int, Field(ge=8)]  # bound on a user message
    environment: Literal["simulated", "executable"]
    environment_class: str | None  # "package.module:Class" when environment is executable

    @model_validator(mode="after")
    def _class_for_executable(self) -> ConversationsConfig:
        if self.environment == "executable" and not self.environment_class:
            raise ValueError("environment: executable needs environment_class ('package.module:Class')")
        return self


class SystemPromptsConfig(Section):
    dropout: Rate
    max_tokens: Tokens


class JudgeConfig(Section):
    model: ModelConfig | None  # None: the generator (cfg.model)
    temperature: Rate
    max_tokens: Tokens
    max_reasoning_chars: Tokens
    max_field_chars: Tokens  # clip each message / tool result shown to the judge
    max_prompt_chars: Tokens  # longer prompts are shortened, then skipped


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


BfclCategory = Literal["simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance", "multi_turn_base"]


class BfclConfig(Section):
    categories: list[BfclCategory]  # [] runs no BFCL
    per_category: Tokens | None  # a seeded subset of entries per category; None: every entry
    max_steps_per_turn: Tokens  # multi-turn: model messages with calls per user turn


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
    balance_step_kinds: bool  # call-step and text-step tokens each carry half of the loss
    lora: LoraConfig


class ReportConfig(Section):
    max_conversations: Tokens


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


def check_model_limit(model: ModelConfig, model_path: str) -> None:
    """The real check once the model is on disk: model.max_model_len within what the
    model's config.json allows (max_position_embeddings)."""
    config_json = Path(model_path) / "config.json"
    if not config_json.is_file():
        return  # a hub id not fetched yet: vLLM checks it when it loads the model
    try:
        limit = json.loads(config_json.read_text()).get("max_position_embeddings")
    except (OSError, ValueError):
        return
    if isinstance(limit, int) and model.max_model_len > limit:
        raise FcsynthError(
            f"model.max_model_len={model.max_model_len} exceeds what {model.name} supports "
            f"(max_position_embeddings={limit} in {config_json})"
        )


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line naming the first bad key (dotted path) and what is wrong with it."""
    first = err.errors()[0]
    loc, msg = list(first["loc"]), first["msg"]
    kind = first["type"]
    if kind == "union_tag_invalid":  # llm.backend picks the llm section's model
        loc.append(first["ctx"]["discriminator"].strip("'"))
        msg = f"must be one of {first['ctx']['expected_tags']}, not {first['ctx']['tag']!r}"
    elif kind == "union_tag_not_found":
        loc.append(first["ctx"]["discriminator"].strip("'"))
        kind = "missing"
    elif loc[:1] == ["llm"] and len(loc) > 1 and loc[1] in LLM_BACKENDS:
        del loc[1]  # the union's tag, not a key
    key = ".".join(str(p) for p in loc) or "<root>"
    if kind == "extra_forbidden":
        msg = "unknown key"
    elif kind == "missing":
        msg = "missing key (every key has its value in conf/: run `make params`)"
    elif kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    if key == "<root>" and kind == "value_error":
        return f"{source}: {msg}"
    extra = f" (and {len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{source}: {key}: {msg}{extra}"


def parse_config(data: dict[str, Any], source: str = "params.yaml") -> Config:
    """Validate a params mapping; raise FcsynthError naming the bad key."""
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise FcsynthError(format_validation_error(err, source)) from None


class UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader for which a key given twice in one mapping is an error (PyYAML keeps the
    last one silently, so a second `dml:` block would replace the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise FcsynthError(
                    f"{key_node.start_mark.name}:{line}: duplicate key {key!r} (first at line {seen[key]})"
                )
            if isinstance(key, (str, int, float, bool)):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> Any:
    """A YAML file's data; a duplicate key or bad YAML is a one-line error naming the file."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise FcsynthError(f"{path}: cannot read: {err}") from None
    try:
        loader = UniqueKeyLoader(text)
        loader.name = str(path)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        raise FcsynthError(f"{path}: not valid YAML: {str(err).splitlines()[0]}") from None


def load_params(path: Path | str = PARAMS_FILE) -> Config:
    """Read and validate params.yaml: the one loader of every stage script and command."""
    path = Path(path)
    if not path.exists():
        raise FcsynthError(f"{path}: not found (run `make params` to compose it from conf/)")
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise FcsynthError(f"{path}: expected a mapping at the top level")
    return parse_config(data, str(path.name))


@lru_cache(maxsize=1)
def conf_defaults() -> Config:
    """conf/ composed with no overrides (for tests and tools that build one section)."""
    return parse_config(compose(), "conf/")


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
    """Compose conf/ and write params.yaml atomically; validate before writing."""
    from fcsynth.atomic import write_text_atomic

    data = compose(overrides)
    parse_config(data, "conf/")
    header = "# Generated from conf/ by `make params` (DVC regenerates it on `dvc exp run`).\n"
    write_text_atomic(path, header + yaml.safe_dump(data, sort_keys=False))
    return data
