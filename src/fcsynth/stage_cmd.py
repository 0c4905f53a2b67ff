"""A stage's command as dvc.yaml declares it, for running a stage script outside DVC (tests, scripts).

dvc.yaml's `cmd` is the one place a stage's paths are named; this reads it back, filling
`${key.path}` from params.yaml as DVC does.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import Any

import yaml

VARIABLE = re.compile(r"\$\{\s*([\w.-]+)\s*\}")


def stage_command(name: str, repo: Path, params: Path) -> list[str]:
    """[python, <repo>/stages/<name>.py, *arguments] from `repo`/dvc.yaml, `${...}` read from `params`
    (read only when the cmd has one, so a test may damage params.yaml for the script to find)."""
    cmd = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"][name]["cmd"]
    if VARIABLE.search(cmd):
        values = yaml.safe_load(params.read_text())
        cmd = VARIABLE.sub(lambda m: str(_lookup(values, m.group(1))), cmd)
    _python, script, *args = shlex.split(cmd)
    return [sys.executable, str(repo / script), *args]


def _lookup(values: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        values = values[key]
    return values
