"""Compose conf/ with Hydra into params data, and write params.yaml from it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from fcsynth.config.loading import parse_config
from fcsynth.config.schema import Config
from fcsynth.errors import FcsynthError
from fcsynth.paths import CONF_DIR, PARAMS_FILE


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
