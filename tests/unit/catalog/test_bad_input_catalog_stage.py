"""Bad sources of the catalog stage: one line on stderr naming the source, the earlier catalog kept."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from fcsynth.stage import run_stage

from helpers.catalog_import import one_line_error
from helpers.paths import REPO


def _project(tmp_path: Path, sources: list[dict]) -> Path:
    (tmp_path / "data" / "builtin_tools").mkdir(parents=True)
    (tmp_path / "data" / "sources").mkdir()
    kit = [{"toolkit": "kit", "name": "ping", "description": "Ping.", "parameters": {"type": "object", "properties": {}}}]
    (tmp_path / "data" / "builtin_tools" / "kit.json").write_text(json.dumps(kit))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["catalog"] = {**params["catalog"], "sources": sources}
    params["toolkits"] = {"toolkits": ["kit"], "bundles": [], "weights": {}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "data" / "catalog" / "tools.parquet"
    out.parent.mkdir(parents=True)
    out.write_bytes(b"the earlier catalog")
    return tmp_path


def _run_stage(root: Path, capsys) -> tuple[int, str]:
    sys.path.insert(0, str(REPO / "stages"))
    try:
        import catalog as stage  # stages/catalog.py
    finally:
        sys.path.pop(0)
    code = 0
    try:
        catalog = root / "data" / "catalog"
        run_stage("catalog", lambda: stage.main(catalog / "tools.parquet", catalog / "graph.parquet", root), argv=[])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    return code, capsys.readouterr().err


def test_stage_source_yielding_no_tools(tmp_path, capsys) -> None:
    root = _project(tmp_path, [{"format": "openai", "path": "data/sources/empty.json", "toolkit": "e"}])
    (root / "data" / "sources" / "empty.json").write_text("[]")
    code, err = _run_stage(root, capsys)
    one_line_error(code, err, "fcsynth catalog: error:", "data/sources/empty.json (openai) yields no tools")
    assert (root / "data" / "catalog" / "tools.parquet").read_bytes() == b"the earlier catalog"


def test_stage_catalog_file_with_non_records(tmp_path, capsys) -> None:
    root = _project(tmp_path, [{"format": "catalog", "path": "data/sources/records.json"}])
    (root / "data" / "sources" / "records.json").write_text('[{"toolkit": "x", "name": "ok", "parameters": {}}, 42]')
    code, err = _run_stage(root, capsys)
    one_line_error(code, err, "data/sources/records.json[1]: not a tool record (a int, expected an object)")
    assert (root / "data" / "catalog" / "tools.parquet").read_bytes() == b"the earlier catalog"


def test_stage_alias_bomb_source(tmp_path, capsys) -> None:
    root = _project(tmp_path, [{"format": "mcp", "path": "data/sources/bomb.yaml"}])
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    (root / "data" / "sources" / "bomb.yaml").write_text("\n".join(lines) + "\ntools: *a8\n")
    code, err = _run_stage(root, capsys)
    one_line_error(code, err, "catalog.sources:", "bomb.yaml: expands to more than")
    assert (root / "data" / "catalog" / "tools.parquet").read_bytes() == b"the earlier catalog"
