"""A stage's command as dvc.yaml declares it, for running a stage script outside DVC (tests, scripts),
and a fake-backend copy of the project to run it in.

dvc.yaml's `cmd` is the one place a stage's paths are named; this reads it back, filling
`${key.path}` from params.yaml as DVC does.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

VARIABLE = re.compile(r"\$\{\s*([\w.-]+)\s*\}")


def stage_names(repo: Path) -> list[str]:
    """The stages of `repo`/dvc.yaml in the order it declares them (the pipeline's order)."""
    return list(yaml.safe_load((repo / "dvc.yaml").read_text())["stages"])


def fake_project(project: Path, repo: Path, overrides: list[str]) -> Path:
    """Copy `repo`'s code inputs (prompts, grammars, conf, built-in tools, dvc.yaml) to `project`
    and compose its params.yaml for the fake backend (`llm=fake experiment=tiny` + `overrides`);
    returns that params.yaml."""
    from fcsynth.config import compose

    for name in ("prompts", "grammars", "conf"):
        shutil.copytree(repo / name, project / name)
    shutil.copytree(repo / "data" / "builtin_tools", project / "data" / "builtin_tools")
    shutil.copy(repo / "dvc.yaml", project / "dvc.yaml")
    params = project / "params.yaml"
    params.write_text(yaml.safe_dump(compose(["llm=fake", "experiment=tiny", *overrides], repo / "conf"), sort_keys=False))
    return params


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
