"""LLM layer: one batch interface over vLLM (offline) and a fake backend for tests."""

from __future__ import annotations

from pathlib import Path

from fcsynth.config import LLMConfig, ModelConfig
from fcsynth.llm.base import Backend, Completion, Request, derive_seed

__all__ = ["Backend", "Completion", "Request", "derive_seed", "make_backend"]


def make_backend(llm_cfg: LLMConfig, model_cfg: ModelConfig, root: Path) -> Backend:
    """Build the configured backend for the configured model."""
    if llm_cfg.backend == "fake":
        from fcsynth.llm.fake_backend import FakeBackend

        return FakeBackend()
    from fcsynth.llm.vllm_backend import VLLMBackend
    from fcsynth.model_store import resolve_model_path

    return VLLMBackend(
        resolve_model_path(model_cfg, root), llm_cfg, model_cfg.max_model_len, model_cfg.dtype
    )
