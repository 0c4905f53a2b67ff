"""An LLM stage's context: its config, the backend it builds on first use, and its row checkpoints."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fcsynth.checkpoint import Checkpoint, fingerprint
from fcsynth.config import Config, LLMConfig, ModelConfig, OpenAIConfig, RayConfig, check_model_limit
from fcsynth.llm import Backend, backend_identity, make_backend


@dataclass
class StageContext:
    """Config + project root + a backend built on first use and shared by the stage."""

    cfg: Config
    root: Path
    model: ModelConfig | None = None  # default: the generator (cfg.model)
    backend: Backend | None = field(default=None)
    checkpoints: list[Checkpoint] = field(default_factory=list, repr=False)  # closed (unlocked) by close()

    @property
    def model_cfg(self) -> ModelConfig:
        return self.model or self.cfg.model

    @property
    def llm_cfg(self) -> LLMConfig | RayConfig | OpenAIConfig:
        """The LLM config; on a server, a judge/evaluate model is served under its own `name`."""
        llm = self.cfg.llm
        if isinstance(llm, OpenAIConfig) and self.model_cfg != self.cfg.model:
            return llm.model_copy(update={"model": self.model_cfg.name})
        return llm

    def get_backend(self) -> Backend:
        """The stage's backend, built on first use (after checking the model's real limit)."""
        if self.backend is None:
            if self.cfg.llm.engine == "vllm":  # a server's model is checked by the server
                from fcsynth.model_store import resolve_model_path

                check_model_limit(self.model_cfg, resolve_model_path(self.model_cfg, self.root))
            self.backend = make_backend(self.llm_cfg, self.model_cfg, self.root)
        return self.backend

    def checkpoint(self, stage: str, *key_parts: object) -> Checkpoint:
        """The stage's row checkpoint for this model and backend (and `key_parts`, e.g. weight digests).

        It locks the stage's checkpoint directory against other processes until `close()`.
        """
        key = fingerprint(self.model_cfg.model_dump(), backend_identity(self.llm_cfg), *key_parts)
        checkpoint = Checkpoint(stage, key, self.root / "data" / "checkpoints")
        self.checkpoints.append(checkpoint)
        return checkpoint

    def close(self) -> None:
        """Close the engine (if one was started) and release the checkpoints' stage locks."""
        try:
            if self.backend is not None:
                self.backend.close()
                self.backend = None
        finally:
            for checkpoint in self.checkpoints:
                checkpoint.close()
            self.checkpoints.clear()


@contextmanager
def stage_context(cfg: Config, root: Path, model: ModelConfig | None = None, key: str = "model") -> Iterator[StageContext]:
    """A StageContext whose engine (if one was started) is closed when the block ends.

    The model (config key `key`) is checked first, so a missing one fails before any work.
    """
    ctx = StageContext(cfg, root, model=model)
    if cfg.llm.engine == "vllm":  # a server's model is the server's business; fake needs none
        from fcsynth.model_store import check_model

        check_model(ctx.model_cfg, root, key)
    try:
        yield ctx
    finally:
        ctx.close()
