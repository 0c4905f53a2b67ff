"""LLM layer: one batch interface over vLLM (offline), an OpenAI-compatible server, and a
fake backend for tests."""

from __future__ import annotations

from pathlib import Path

from fcsynth.config import LLMConfig, ModelConfig, OpenAIConfig, RayConfig
from fcsynth.llm.base import Backend, Completion, Request, derive_seed

__all__ = ["Backend", "Completion", "Request", "backend_identity", "derive_seed", "make_backend"]


def backend_identity(llm_cfg: LLMConfig | OpenAIConfig) -> str:
    """What, besides the model config, decides a checkpoint's rows: the engine (and served model).

    Ray replicas host the same engine as the offline backend, so both share checkpoints:
    a run moved onto a cluster keeps the rows it already has.
    """
    return f"openai:{llm_cfg.model}" if isinstance(llm_cfg, OpenAIConfig) else llm_cfg.engine


def make_backend(llm_cfg: LLMConfig | OpenAIConfig, model_cfg: ModelConfig, root: Path) -> Backend:
    """Build the configured backend for the configured model."""
    if isinstance(llm_cfg, OpenAIConfig):
        from fcsynth.llm.openai_backend import OpenAIBackend

        return OpenAIBackend(llm_cfg)
    if isinstance(llm_cfg, RayConfig):
        from fcsynth.llm.ray_backend import RayBackend

        return RayBackend(llm_cfg, model_cfg, root)
    if llm_cfg.backend == "fake":
        from fcsynth.llm.fake_backend import FakeBackend

        return FakeBackend()
    from fcsynth.llm.vllm_backend import VLLMBackend
    from fcsynth.model_store import resolve_model_path

    return VLLMBackend(
        resolve_model_path(model_cfg, root), llm_cfg, model_cfg.max_model_len, model_cfg.dtype
    )
