"""Imported by Python at start-up when this folder is on PYTHONPATH: records which params.yaml
keys a stage script reads (every config leaf reached through `load_params`'s Config) and writes
them, one dotted key per line, to $FCSYNTH_PARAMS_LOG when the process exits."""

import atexit
import os
from pathlib import Path

from fcsynth import config
from fcsynth.config import loading
from fcsynth.config.base import Section

_paths: dict[int, str] = {}  # id of a loaded section -> its dotted prefix
_read: set[str] = set()
_get = Section.__getattribute__
_load = loading.load_params


def _name(section: Section, prefix: str) -> None:
    _paths[id(section)] = prefix
    for key in type(section).model_fields:
        value = _get(section, key)
        if isinstance(value, Section):
            _name(value, f"{prefix}{key}.")


def _tracked_get(self: Section, name: str) -> object:
    value = _get(self, name)
    if name in type(self).model_fields and not isinstance(value, Section) and id(self) in _paths:
        _read.add(_paths[id(self)] + name)
    return value


def _tracked_load(*args: object, **kwargs: object) -> config.Config:
    cfg = _load(*args, **kwargs)
    _name(cfg, "")
    return cfg


Section.__getattribute__ = _tracked_get  # type: ignore[method-assign]
config.load_params = loading.load_params = _tracked_load  # type: ignore[assignment]
atexit.register(lambda: Path(os.environ["FCSYNTH_PARAMS_LOG"]).write_text("".join(f"{k}\n" for k in sorted(_read))))
