"""Merge the built-in toolkits and the configured sources into one catalog."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fcsynth.catalog.bfcl import import_bfcl, is_api_name
from fcsynth.catalog.fetch import download_budget
from fcsynth.catalog.funcdex import import_funcdex
from fcsynth.catalog.mcp import import_mcp
from fcsynth.catalog.naming import unique_names
from fcsynth.catalog.normalize import Oversize, candidate, normalize
from fcsynth.catalog.openai_tools import import_openai
from fcsynth.catalog.openapi import import_openapi
from fcsynth.catalog.result import ImportResult
from fcsynth.catalog.source import load_document
from fcsynth.catalog.url_policy import is_url
from fcsynth.config import CatalogConfig
from fcsynth.errors import FcsynthError
from fcsynth.tools import TOOL_NAME_RE

BUILTIN_DIR = Path("data") / "builtin_tools"
SOURCES_DIR = Path("data") / "sources"

Importer = Callable[..., ImportResult]


def import_records(
    source: str | Path, toolkit: str | None = None, budget_tokens: int | None = None, oversize: Oversize = "trim"
) -> ImportResult:
    """Import a JSON list of catalog records (what `fcsynth import --out` writes, and the
    built-in toolkit files); `toolkit` overrides the records' own."""
    doc = load_document(source)
    if not isinstance(doc.data, list):
        raise FcsynthError(f"{doc.name}: expected a JSON list of tool records, not a {type(doc.data).__name__}")
    result = ImportResult(entries=len(doc.data))
    doc.report(result)
    candidates = []
    for i, record in enumerate(doc.data):
        # fcsynth's own format: a record that is not one means the file is not what it claims
        if not isinstance(record, dict):
            raise FcsynthError(f"{doc.name}[{i}]: not a tool record (a {type(record).__name__}, expected an object)")
        if not isinstance(record.get("name"), str) or not (toolkit or record.get("toolkit")):
            raise FcsynthError(f"{doc.name}[{i}]: not a tool record (needs string `toolkit` and `name`)")
        tool = candidate(
            result,
            toolkit=str(toolkit or record["toolkit"]),
            name=record["name"],
            description=record.get("description") if isinstance(record.get("description"), str) else "",
            parameters=record.get("parameters"),
            response=record.get("response"),
            source=str(record.get("source") or doc.name),
            operation=record.get("operation") or None,
        )
        if tool is not None:
            candidates.append(tool)
    normalize(candidates, result, budget_tokens, oversize)
    return result


IMPORTERS: dict[str, Importer] = {
    "openapi": import_openapi,
    "mcp": import_mcp,
    "openai": import_openai,
    "funcdex": import_funcdex,
    "bfcl": import_bfcl,
    "catalog": import_records,
}


def import_source(
    fmt: str, source: str | Path, toolkit: str | None = None, budget_tokens: int | None = None, oversize: Oversize = "trim"
) -> ImportResult:
    """Import one source in `fmt` (openapi, mcp, openai, funcdex, bfcl or catalog)."""
    if fmt not in IMPORTERS:
        raise FcsynthError(f"unknown tool format {fmt!r} (one of: {', '.join(IMPORTERS)})")
    if toolkit is not None and not TOOL_NAME_RE.fullmatch(toolkit):
        raise FcsynthError(f"toolkit name {toolkit!r} must match ^[a-zA-Z0-9_-]{{1,64}}$")
    with download_budget():
        return IMPORTERS[fmt](source, toolkit=toolkit, budget_tokens=budget_tokens, oversize=oversize)


@dataclass
class CatalogBuild:
    """The merged result plus per-source counts."""

    result: ImportResult = field(default_factory=ImportResult)
    sources: list[dict[str, Any]] = field(default_factory=list)
    untracked: list[str] = field(default_factory=list)


def builtin_files(root: Path) -> list[Path]:
    """The built-in toolkit files (data/builtin_tools/*.json), sorted."""
    folder = root / BUILTIN_DIR
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        raise FcsynthError(f"{BUILTIN_DIR}/: no built-in toolkit files (set catalog.builtin: false to use only catalog.sources)")
    return files


def build_catalog(cfg: CatalogConfig, root: Path) -> CatalogBuild:
    """Import the built-in toolkits (if `cfg.builtin`) and every `cfg.sources` entry, apply
    the prompt budget, and make names unique per toolkit across sources."""
    plan: list[tuple[str, str, str | None]] = []
    if cfg.builtin:
        plan += [("catalog", str(p.relative_to(root)), None) for p in builtin_files(root)]
    plan += [(s.format, s.path, s.toolkit) for s in cfg.sources]
    if not plan:
        raise FcsynthError("catalog: no tools to import (catalog.builtin is false and catalog.sources is empty)")
    build = CatalogBuild()
    for fmt, path, toolkit in plan:
        by_name = fmt == "bfcl" and is_api_name(path)  # read from the installed bfcl-eval wheel
        location = path if by_name or is_url(path) or Path(path).is_absolute() else str(root / path)
        try:
            part = import_source(fmt, location, toolkit, cfg.prompt_budget_tokens, cfg.oversize)
        except FcsynthError as err:
            raise FcsynthError(f"catalog.sources: {err}") from None
        if not part.tools:
            reasons = ", ".join(f"{r}: {n}" for r, n in sorted(part.skipped.items())) or "it has no entries"
            raise FcsynthError(f"catalog.sources: {path} ({fmt}) yields no tools ({part.entries} entries; {reasons})")
        part.tools = [dataclasses.replace(t, source=path) if t.source == location else t for t in part.tools]
        build.sources.append(
            {"format": fmt, "path": path, "toolkit": toolkit, "entries": part.entries, "tools": len(part.tools),
             "skipped": sum(part.skipped.values()), "skipped_by_reason": dict(sorted(part.skipped.items())),
             "flagged_by_reason": dict(sorted(part.flagged.items()))}
        )
        if not (by_name or is_url(path)) and not _tracked(Path(path), root):
            build.untracked.append(path)
        build.result.extend(part)
    build.result.tools = unique_names(build.result.tools, build.result)
    return build


def _tracked(path: Path, root: Path) -> bool:
    """Whether DVC sees changes of `path` (the catalog stage depends on these folders)."""
    full = (path if path.is_absolute() else root / path).resolve()
    return any(full.is_relative_to((root / d).resolve()) for d in (BUILTIN_DIR, SOURCES_DIR))


def catalog_metrics(build: CatalogBuild) -> dict[str, Any]:
    """The catalog's own figures for metrics/catalog.json."""
    result = build.result
    per_toolkit = Counter(t.toolkit for t in result.tools)
    oversize = {r: result.skipped.get(r, 0) + result.flagged.get(r, 0) for r in ("oversize", "oversize_trimmed", "oversize_untrimmable")}
    summary = result.summary()
    return {
        "toolkits": len(per_toolkit),
        "tools_per_toolkit": dict(sorted(per_toolkit.items())),
        "skipped": summary["skipped"],
        "flagged": summary["flagged"],
        "flagged_oversize": sum(oversize.values()),
        "oversize": oversize,
        "renamed": result.renamed,
        "sources": build.sources,
        "untracked_sources": build.untracked,
    }
