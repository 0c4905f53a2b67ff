"""The `llm=ray` config composed from conf/, with changes, for the Ray backend tests."""

from __future__ import annotations

from fcsynth.config import RayConfig, compose, parse_config


def ray_config(**changes: object) -> RayConfig:
    cfg = parse_config(compose(["llm=ray"])).llm
    assert isinstance(cfg, RayConfig)
    return RayConfig.model_validate({**cfg.model_dump(), **changes})
