"""A tiny project whose LLM stages call an OpenAI-compatible server, and its stage runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fcsynth.stage_cmd import stage_command

from helpers.project import make_project, run

SECRET = "sk-fcsynth-test-secret-0123456789"
KEY_ENV = "FCSYNTH_TEST_API_KEY"


def stage(dest: Path, name: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return run(dest, *stage_command(name, dest, dest / "params.yaml"), env=env, check=check)


def openai_project(repo: Path, dest: Path, url: str, *extra: str) -> Path:
    overrides = ["llm=openai", f"llm.base_url={url}", f"llm.api_key_env={KEY_ENV}", "experiment=tiny", *extra]
    make_project(repo, dest, overrides)
    stage(dest, "catalog")
    return dest
