"""What a generation stage needs: config, root, one lazily built backend, its checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fcsynth.checkpoint import Checkpoint, fingerprint
from fcsynth.config import Config, ModelConfig
from fcsynth.llm import Backend, make_backend


@dataclass
class StageContext:
    """Config + project root + a backend built on first use and shared by the stage."""

    cfg: Config
    root: Path
    model: ModelConfig | None = None  # default: the generator (cfg.model)
    backend: Backend | None = field(default=None)

    @property
    def model_cfg(self) -> ModelConfig:
        return self.model or self.cfg.model

    def get_backend(self) -> Backend:
        if self.backend is None:
            self.backend = make_backend(self.cfg.llm, self.model_cfg, self.root)
        return self.backend

    def checkpoint(self, stage: str) -> Checkpoint:
        """The stage's row checkpoint for this model and backend."""
        key = fingerprint(self.model_cfg.model_dump(), self.cfg.llm.backend)
        return Checkpoint(stage, key, self.root / "data" / "checkpoints")

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend = None
