"""Every OpenAPI spec under a folder (such as the APIs.guru directory) -> one tools file.

Specs (`*.yaml`, `*.yml`, `*.json`, recursively, hidden folders skipped) are imported one at
a time, or by `workers` processes, and their tools are written to the output as they come,
so memory holds one spec per worker. A spec that cannot be read or is not a spec is reported
with its reason and skipped. Each spec is one toolkit, named from its path: APIs.guru's
`APIs/googleapis.com/drive/v3/openapi.yaml` becomes `googleapis_com_drive` (the leading
`APIs/`, the version folder and the `openapi`/`swagger` file name are dropped; toolkit names
allow only `[a-z0-9_-]`), a flat `specs/stripe.yaml` becomes `stripe`. Tool names are unique
per toolkit (two versions of one API share a toolkit: later duplicates are renamed).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fcsynth.atomic import atomic_path
from fcsynth.catalog.fetch import download_budget
from fcsynth.catalog.naming import sanitize_toolkit, with_suffix
from fcsynth.catalog.normalize import Oversize
from fcsynth.catalog.openapi import import_openapi
from fcsynth.catalog.result import ImportResult
from fcsynth.errors import FcsynthError
from fcsynth.tools import Tool

SPEC_SUFFIXES = (".yaml", ".yml", ".json")
_SPEC_STEMS = ("openapi", "swagger")
_DIRECTORY_ROOT = "APIs"  # the folder of APIs.guru's repository and npm package that holds the specs


def spec_files(folder: Path) -> list[Path]:
    """The spec files under `folder`, sorted (hidden files and folders left out)."""
    found = (p for p in folder.rglob("*") if p.suffix.lower() in SPEC_SUFFIXES and p.is_file())
    return sorted(p for p in found if not any(part.startswith(".") for part in p.relative_to(folder).parts))


def toolkit_for(path: Path, folder: Path) -> str:
    """The toolkit name of the spec at `path` under `folder` (see the module docstring)."""
    parts = list(path.relative_to(folder).parent.parts)
    if parts and parts[0] == _DIRECTORY_ROOT:
        parts = parts[1:]
    if path.stem.lower() in _SPEC_STEMS and parts:
        name_parts = parts[:-1] if len(parts) > 1 else parts  # <provider>[/<service>]/<version>/openapi.yaml
    else:
        name_parts = [*parts, path.stem]
    return sanitize_toolkit("/".join(name_parts))


@dataclass
class SpecImport:
    """One spec's outcome: its result, or the one-line reason it was skipped."""

    path: Path
    toolkit: str
    result: ImportResult | None = None
    error: str | None = None


def _import_spec(job: tuple[Path, str, int | None, Oversize]) -> SpecImport:
    path, toolkit, budget, oversize = job
    try:
        with download_budget():  # a local spec's remote $refs
            return SpecImport(path, toolkit, import_openapi(path, toolkit, budget, oversize))
    except FcsynthError as err:
        return SpecImport(path, toolkit, error=str(err))
    except (RecursionError, MemoryError, ValueError, TypeError, KeyError) as err:  # a spec no rule foresaw
        return SpecImport(path, toolkit, error=f"{path}: cannot import: {type(err).__name__}: {str(err)[:200]}")


@dataclass
class FolderImport:
    """What a folder import read, skipped and wrote."""

    specs: int = 0
    skipped_specs: list[tuple[Path, str]] = field(default_factory=list)
    total: ImportResult = field(default_factory=ImportResult)  # tools are not kept: only the counts
    tools: int = 0
    toolkits: set[str] = field(default_factory=set)


class ToolWriter:
    """Tool records appended to a `.json` list or `.jsonl` lines as they come."""

    def __init__(self, stream: IO[str], jsonl: bool) -> None:
        self.stream, self.jsonl, self.count = stream, jsonl, 0
        if not jsonl:
            stream.write("[")

    def write(self, tool: Tool) -> None:
        line = json.dumps(tool.to_record(), ensure_ascii=False)
        if self.jsonl:
            self.stream.write(line + "\n")
        else:
            self.stream.write(("," if self.count else "") + "\n" + line)
        self.count += 1

    def close(self) -> None:
        if not self.jsonl:
            self.stream.write("\n]\n")


@contextmanager
def tool_writer(out: Path) -> Iterator[ToolWriter]:
    """A ToolWriter on `out`, replaced atomically when the block ends without an error."""
    with atomic_path(out) as tmp, tmp.open("w", encoding="utf-8") as stream:
        writer = ToolWriter(stream, out.suffix.lower() == ".jsonl")
        yield writer
        writer.close()


def import_folder(
    folder: Path, out: Path, budget_tokens: int | None, oversize: Oversize, workers: int = 1,
    echo: Callable[[str], Any] = print,
) -> FolderImport:
    """Import every spec under `folder` into `out` (one line per spec through `echo`)."""
    specs = spec_files(folder)
    if not specs:
        raise FcsynthError(f"{folder}: no OpenAPI specs under it ({', '.join('*' + s for s in SPEC_SUFFIXES)})")
    jobs = [(p, toolkit_for(p, folder), budget_tokens, oversize) for p in specs]
    report = FolderImport(specs=len(specs))
    taken: dict[str, set[str]] = {}
    with tool_writer(out) as writer, _pool(workers) as pool:
        outcomes = _in_order(pool, jobs, 2 * workers) if pool else map(_import_spec, jobs)
        for i, spec in enumerate(outcomes, 1):
            rel = spec.path.relative_to(folder)
            if spec.result is None:
                report.skipped_specs.append((rel, str(spec.error)))
                echo(f"[{i}/{len(jobs)}] {rel}: skipped: {spec.error}")
                continue
            names = taken.setdefault(spec.toolkit, set())
            for tool in _unique(spec.result, names):
                writer.write(tool)
            report.total.extend(_counts(spec.result))
            report.toolkits.add(spec.toolkit)
            echo(f"[{i}/{len(jobs)}] {rel}: {len(spec.result.tools)} of {spec.result.entries} operations -> {spec.toolkit}")
        report.tools = writer.count
        if not writer.count:
            raise FcsynthError(f"{folder}: no tools imported from {len(specs)} specs; {out} left unchanged")
    return report


def _counts(result: ImportResult) -> ImportResult:
    """`result` without its tools (a folder import keeps only the counts in memory)."""
    return ImportResult(entries=result.entries, skipped=result.skipped, flagged=result.flagged, examples=result.examples)


def _unique(result: ImportResult, names: set[str]) -> Iterator[Tool]:
    """The result's tools, renamed (`name_2`, ...) where an earlier spec of the same toolkit
    took the name; each rename is flagged `renamed_collision`."""
    for tool in result.tools:
        name, n = tool.name, 2
        while name in names:
            name, n = with_suffix(tool.name, n), n + 1
        if name != tool.name:
            result.flag("renamed_collision", f"{tool.toolkit}/{tool.name} -> {name} ({tool.source})")
            tool = dataclasses.replace(tool, name=name)
        names.add(name)
        yield tool


def _in_order(pool: ProcessPoolExecutor, jobs: list[tuple[Path, str, int | None, Oversize]], window: int) -> Iterator[SpecImport]:
    """The specs' imports in job order, at most `window` submitted and not yet taken, so a slow
    spec never lets finished results pile up in memory (Executor.map submits every job at once)."""
    pending: deque[Future[SpecImport]] = deque()
    queue = iter(jobs)
    for job in itertools.islice(queue, window):
        pending.append(pool.submit(_import_spec, job))
    while pending:
        spec = pending.popleft().result()
        job = next(queue, None)
        if job is not None:
            pending.append(pool.submit(_import_spec, job))
        yield spec


@contextmanager
def _pool(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    if workers <= 1:
        yield None
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield pool


def report_lines(report: FolderImport, folder: Path, out: Path) -> list[str]:
    """The closing report: specs read and skipped, operations, tools, drops by reason."""
    total = report.total
    lines = [
        f"{report.specs} specs under {folder}: {report.specs - len(report.skipped_specs)} read, "
        f"{len(report.skipped_specs)} skipped; {report.tools} of {total.entries} operations became tools "
        f"in {len(report.toolkits)} toolkits -> {out}"
    ]
    for rel, reason in report.skipped_specs[:5]:
        lines.append(f"  skipped spec {rel}: {reason}")
    if len(report.skipped_specs) > 5:
        lines.append(f"  ... and {len(report.skipped_specs) - 5} more skipped specs")
    return lines + total.reason_lines()

