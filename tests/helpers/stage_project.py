"""Runs of the CLI and the stage scripts on bad input, shared by the bad-input and fault tests:
the CLI in-process, a project copy for stage scripts and their runs, the one-line error check
and writers of input files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from fcsynth import cli
from fcsynth.catalog.graph import catalog_edges, edge_rows, graph_schema
from fcsynth.errors import DEBUG_ENV
from fcsynth.stage_cmd import stage_command
from fcsynth.tables import write_rows
from fcsynth.tools import Tool, write_catalog

from helpers.paths import REPO

PARAMS = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}


def fcsynth(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run `fcsynth ARGS` in-process: (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["fcsynth", *args])
    monkeypatch.setattr(cli, "_debug", False)
    capsys.readouterr()
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str, *needles: str, prefix: str = "fcsynth: error: ") -> str:
    """The single stderr line, checked to start with `prefix` and contain every needle."""
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(prefix), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def record(rid: str, **changes) -> dict:
    """A valid exported dataset record."""
    call = {"id": "call_1", "type": "function", "function": {"name": "search", "arguments": {"q": "x"}}}
    base = {
        "id": rid, "selection": "kit", "toolkits": ["kit"],
        "messages": [
            {"role": "user", "content": "find x"},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "name": "search", "content": "{}"},
            {"role": "assistant", "content": "found it"},
        ],
        "tools": [{"type": "function", "function": {"name": "search", "description": "Search.", "parameters": PARAMS}}],
        "scores": {"tool_use_quality": 4},
    }
    return {**base, **changes}


def jsonl(*records: dict | str) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def run_in(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "FCSYNTH_ROOT": str(project)}
    full.pop(DEBUG_ENV, None)
    full.update(env or {})
    return subprocess.run([sys.executable, *args], cwd=project, env=full, capture_output=True, text=True, timeout=300)


def stage_project(tmp_path: Path, **params_changes) -> Path:
    """A project copy for stage scripts: params.yaml (llm=fake + changes), prompts, a tiny catalog."""
    project = tmp_path / "proj"
    (project / "data" / "catalog").mkdir(parents=True)
    shutil.copytree(REPO / "prompts", project / "prompts")
    shutil.copy(REPO / "dvc.yaml", project / "dvc.yaml")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["llm"]["backend"] = "fake"
    params["toolkits"] = {"toolkits": ["gmail", "googlecalendar"], "bundles": [], "weights": {}}
    for dotted, value in params_changes.items():
        section, key = dotted.split("__")
        params[section][key] = value
    write(project / "params.yaml", yaml.safe_dump(params, sort_keys=False))
    tools = [Tool(tk, f"{tk}_op{i}", f"Operation {i}.", PARAMS) for tk in ("gmail", "googlecalendar") for i in range(3)]
    write_catalog(tools, project / "data" / "catalog" / "tools.parquet")
    write_rows(edge_rows(catalog_edges(tools)), project / "data" / "catalog" / "graph.parquet", graph_schema(), allow_empty=True)
    return project


def stage(project: Path, name: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run_in(project, *stage_command(name, REPO, project / "params.yaml")[1:], env=env)  # run_in adds the python

