"""Where things live in a project checkout."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The project directory: $FCSYNTH_ROOT, else the nearest parent holding dvc.yaml."""
    env = os.environ.get("FCSYNTH_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for parent in (here, *here.parents):
        if (parent / "dvc.yaml").exists():
            return parent
    return here


ROOT = project_root()
CONF_DIR = ROOT / "conf"
PARAMS_FILE = ROOT / "params.yaml"
DATA_DIR = ROOT / "data"
METRICS_DIR = ROOT / "metrics"
GRAMMARS_DIR = ROOT / "grammars"
PROMPTS_DIR = ROOT / "prompts"
CHECKPOINT_DIR = DATA_DIR / "checkpoints"
