"""Runnable copies of the project for tests that drive DVC end to end.

`make_project` copies code, conf, prompts and the git-tracked inputs under data/ into a
fresh git repo with params.yaml composed from Hydra overrides; `clone_project` clones such
a repo and can share its DVC cache, so checking out finished artifacts costs no rerun.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "data", "cache", "tmp", "metrics", "__pycache__", ".pytest_cache", "*.egg-info", "benchmarks",
    "outputs", "multirun",
)
# Inputs that live under data/ but are not stage outputs (git-tracked in the real repo).
DATA_INPUTS = ("builtin_tools", "sources")
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "fcsynth-test", "GIT_AUTHOR_EMAIL": "test@fcsynth.invalid",
    "GIT_COMMITTER_NAME": "fcsynth-test", "GIT_COMMITTER_EMAIL": "test@fcsynth.invalid",
}


def project_env(dest: Path) -> dict[str, str]:
    """Environment for commands in the copy: the venv's bin first, offline hub, a git identity.

    FCSYNTH_ROOT is left unset on purpose: stages find their project from their working
    directory, which for `dvc exp run --queue`/`--temp` is a temp workspace, not `dest`.
    """
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ, **GIT_IDENTITY,
        "PATH": f"{bin_dir}:{os.environ['PATH']}", "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "DVC_NO_ANALYTICS": "1",
    }
    env.pop("FCSYNTH_ROOT", None)
    return env


def run(dest: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command in the copy; with `check`, fail the test with its output when it fails."""
    proc = subprocess.run(list(args), cwd=dest, env=env or project_env(dest), capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, f"$ {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc


def checkpoint_lines(dest: Path, stage: str) -> list[str]:
    """The lines of `stage`'s checkpoint in the copy ([] before it has one)."""
    files = list((dest / "data" / "checkpoints" / stage).glob("*.jsonl"))
    return files[0].read_text().splitlines() if files else []


def kill_after_rows(dest: Path, args: list[str], env: dict[str, str], stage: str, rows: int = 2,
                    timeout_s: float = 120) -> list[str]:
    """Start `args` in the copy, SIGKILL its process group once `stage` has checkpointed `rows`
    rows (or it ended, or `timeout_s` passed), and return the checkpoint lines left behind."""
    proc = subprocess.Popen(args, cwd=dest, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout_s
    while len(checkpoint_lines(dest, stage)) < rows and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return checkpoint_lines(dest, stage)


def dvc(dest: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run `dvc ARGS` in the copy."""
    return run(dest, "dvc", *args, env=env, check=check)


def git(dest: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `git ARGS` in the copy."""
    return run(dest, "git", *args, check=check)


def compose_params(dest: Path, overrides: Iterable[str]) -> None:
    """Write the copy's params.yaml from its conf/ and Hydra overrides (`fcsynth params ...`)."""
    run(dest, sys.executable, "-m", "fcsynth.cli", "params", *overrides)


def make_project(repo: Path, dest: Path, overrides: Iterable[str] = (), commit: bool = False) -> Path:
    """A runnable copy of the project (code, conf, prompts, built-in tools) in its own git repo."""
    shutil.copytree(repo, dest, ignore=IGNORE)
    for name in DATA_INPUTS:
        if (repo / "data" / name).exists():
            shutil.copytree(repo / "data" / name, dest / "data" / name)
    git(dest, "init", "-q")
    compose_params(dest, overrides)
    if commit:
        commit_all(dest, "project copy")
    return dest


def commit_all(dest: Path, message: str) -> str:
    """`git add -A && git commit` in the copy (DVC outputs are git-ignored by DVC); returns the commit."""
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "--allow-empty", "-m", message)
    return git(dest, "rev-parse", "HEAD").stdout.strip()


def clone_project(origin: Path, dest: Path, share_cache: bool = True) -> Path:
    """`git clone` a project copy; with `share_cache`, point it at the origin's DVC cache and check out."""
    run(origin.parent, "git", "clone", "-q", str(origin), str(dest), env=project_env(dest))
    if share_cache:
        dvc(dest, "cache", "dir", "--local", str(origin / ".dvc" / "cache"))
        dvc(dest, "checkout", "-q")
    return dest


def stages_run(output: str) -> list[str]:
    """Names of the stages `dvc repro` / `dvc exp run` actually ran, from its output."""
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")]
