"""A small handmade dataset (export records) and git/DVC commands in a temp repo, for the `fcsynth diff` tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DIMS = ("tool_use_quality", "naturalness")


def record(rid: str, selection: str, tool: str, score: int, text: str = "hello") -> dict:
    """A dataset record (export shape) that calls `tool` once and offers it plus a distractor."""
    call = {"id": "call_1_1", "type": "function", "function": {"name": tool, "arguments": {"q": text}}}
    return {
        "id": rid,
        "messages": [
            {"role": "user", "content": text},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1_1", "name": tool, "content": "{}"},
            {"role": "assistant", "content": "done"},
        ],
        "tools": [{"type": "function", "function": {"name": n, "description": n, "parameters": {"type": "object"}}}
                  for n in (tool, "distractor_tool")],
        "selection": selection,
        "toolkits": selection.split("+"),
        "scenario": f"scenario {rid}",
        "persona": {"role": "pm", "company": "acme", "context": "q3"},
        "clarity": "good",
        "scores": {d: score for d in DIMS},
    }


VERSION_A = [
    record("c1", "gmail", "send_email", 4),
    record("c2", "gmail", "list_emails", 3),
    record("c3", "googledrive", "upload_file", 5),
    record("c4", "googledrive", "list_files", 4),
]


def env_for(root: Path) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FCSYNTH_ROOT": str(root)}


def sh(root: Path, *cmd: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=root, env=env_for(root), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def git_commit(root: Path, message: str) -> str:
    sh(root, "git", "add", "-A")
    sh(root, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)
    return sh(root, "git", "rev-parse", "HEAD").stdout.strip()
