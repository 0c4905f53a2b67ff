"""Check model.max_model_len against what the model's config.json allows."""

from __future__ import annotations

import json
from pathlib import Path

from fcsynth.config.llm import ModelConfig
from fcsynth.errors import FcsynthError


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
