"""Small helpers of the OpenAPI importer tests: a spec file writer and a tool looked up by name."""

from __future__ import annotations

from pathlib import Path


def write_spec(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def find_tool(result, name: str):
    matches = [t for t in result.tools if t.name == name]
    assert matches, f"no tool {name!r} in {[t.name for t in result.tools][:20]}"
    return matches[0]
