"""Config of the model and the engine that runs it: model, llm (vllm, fake, ray, openai), sampling."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import Field, model_validator

from fcsynth.config.base import ModelName, Rate, Section, Tokens


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
