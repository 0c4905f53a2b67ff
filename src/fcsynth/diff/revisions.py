"""`fcsynth diff`: compare two versions of the exported dataset (git revisions, experiments or the workspace).

A version is read through `dvc.api` at a revision (a commit, branch, tag or `dvc exp`
name), or straight from the files for the workspace. The report covers conversations
added/removed/changed (records matched by id, compared by a content hash), counts per
selection, the judge score distribution per dimension, tool coverage and the curate
stage's acceptance rate.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from fcsynth.errors import FcsynthError

WORKSPACE = "workspace"
SPLIT_FILES = {"train": "data/dataset/train.jsonl", "test": "data/dataset/test.jsonl"}
CURATE_METRICS = "metrics/curate.json"
SCORE_LEVELS = ("1", "2", "3", "4", "5")


@dataclass
class DatasetVersion:
    """One version of the exported dataset: records by id (with their split) and the acceptance rate."""

    rev: str
    records: dict[str, dict[str, Any]]
    splits: dict[str, str] = field(default_factory=dict)
    acceptance_rate: float | None = None


def record_hash(record: dict[str, Any]) -> str:
    """Content hash of a record: sha256 of its canonical JSON (key order and spacing do not matter)."""
    canonical = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


_NAMED = {"type": "object", "required": ["function"],
          "properties": {"function": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}}
# What the diff reads of a record (the full check is `fcsynth validate`).
RECORD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "selection"],
    "properties": {
        "id": {"type": "string"},
        "selection": {"type": "string"},
        "messages": {"type": ["array", "null"], "items": {
            "type": "object", "properties": {"tool_calls": {"type": ["array", "null"], "items": _NAMED}}}},
        "tools": {"type": ["array", "null"], "items": _NAMED},
        "scores": {"type": ["object", "null"], "additionalProperties": {
            "type": ["integer", "null"], "minimum": int(SCORE_LEVELS[0]), "maximum": int(SCORE_LEVELS[-1])}},
    },
}


def resolve_rev(root: Path, rev: str) -> str:
    """The commit a revision or `dvc exp` name points at ('workspace' stays as it is)."""
    if rev == WORKSPACE:
        return rev
    if not (root / ".git").exists():
        raise FcsynthError(f"{root} is not a git repository: only the workspace can be read")
    from dvc.exceptions import DvcException
    from dvc.repo import Repo
    from dvc.scm import RevError
    from dvc.scm import resolve_rev as dvc_resolve_rev

    try:
        with Repo(str(root)) as repo:
            return dvc_resolve_rev(repo.scm, rev)
    except RevError:
        raise FcsynthError(f"unknown revision or experiment '{rev}' in {root}") from None
    except DvcException as err:
        raise FcsynthError(f"{root}: {_first_line(err)}") from None


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _tracked(root: Path, rev: str, path: str) -> str | None:
    """The cached DVC output at `rev` that is or holds `path` (per its dvc.lock / .dvc files)."""
    import os

    from dvc.repo import Repo

    try:
        with Repo(str(root)) as repo:
            if rev == WORKSPACE:
                outs = [os.path.relpath(o.fs_path, repo.root_dir) for o in repo.index.outs if o.use_cache]
            else:
                with repo.switch(rev):
                    outs = [os.path.relpath(o.fs_path, repo.root_dir) for o in repo.index.outs if o.use_cache]
    except Exception:  # a revision DVC cannot index tracks nothing we can name
        return None
    for out in (Path(o).as_posix() for o in outs):
        if path == out or path.startswith(out.rstrip("/") + "/"):
            return out
    return None


def _absent_from_cached_dir(root: Path, rev: str, path: str) -> bool:
    """True when `path` is simply not in its (cached) output directory at `rev`.

    DVC's file system lists a cached directory; for one missing from the cache it raises.
    """
    from dvc.api import DVCFileSystem

    try:
        fs = DVCFileSystem(str(root), rev=rev)
        return not fs.exists(path) and fs.isdir(str(Path(path).parent.as_posix()))
    except Exception:
        return False


def _remote_hint(root: Path) -> str:
    """`from remote 'NAME'`, or what to do when no default remote is configured."""
    from dvc.repo import Repo

    try:
        with Repo(str(root)) as repo:
            default = repo.config["core"].get("remote")
            remotes = sorted(repo.config["remote"])
    except Exception:
        default, remotes = None, []
    if default:
        return f"run `dvc pull` (or `dvc fetch`) to get it from remote '{default}'"
    if remotes:
        return f"run `dvc pull -r {remotes[0]}` (or `dvc fetch -r {remotes[0]}`): no default remote is set"
    return "no DVC remote is configured: add one (`dvc remote add -d NAME URL`), then run `dvc pull` (or `dvc fetch`)"


def _not_cached(root: Path, rev: str, path: str) -> FcsynthError:
    where = "the workspace" if rev == WORKSPACE else f"'{rev}'"
    return FcsynthError(f"{path} at {where} is tracked by DVC but not in the local cache: {_remote_hint(root)}")


def _read_text(root: Path, rev: str, path: str, label: str | None = None) -> str | None:
    """A file's text at `rev` (None when the revision has no such file); `label` names the rev in errors."""
    label = label or rev
    if rev == WORKSPACE:
        file = root / path
        if not file.exists():
            out = _tracked(root, rev, path)
            if out and not (root / out).exists():
                raise FcsynthError(f"{path}: tracked by DVC but not in the workspace: run `dvc checkout` (or `dvc pull`)")
            return None
        try:
            return file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise FcsynthError(f"{path} at '{label}': not UTF-8 text") from None
        except OSError as err:
            raise FcsynthError(f"{path} at '{label}': cannot be read: {err.strerror or err}") from None
    import dvc.api
    from dvc.exceptions import DvcException, PathMissingError
    from dvc.scm import RevError

    try:
        with dvc.api.open(path, repo=str(root), rev=rev) as fh:
            return fh.read()
    except RevError:
        raise FcsynthError(f"unknown revision or experiment '{label}' in {root}") from None
    except UnicodeDecodeError:
        raise FcsynthError(f"{path} at '{label}': not UTF-8 text") from None
    except (FileNotFoundError, PathMissingError):
        if _tracked(root, rev, path) and not _absent_from_cached_dir(root, rev, path):
            raise _not_cached(root, label, path) from None
        return None
    except Exception as err:  # DvcException, dvc_data's index errors for a missing .dir object, ...
        if _tracked(root, rev, path):
            raise _not_cached(root, label, path) from None
        reason = _first_line(err) if isinstance(err, DvcException) else f"{type(err).__name__}: {_first_line(err)}"
        raise FcsynthError(f"cannot read {path} at '{label}': {reason} (try `dvc pull` or `dvc fetch`)") from None


def _check_record(record: Any, where: str) -> None:
    """A one-line error when `record` is not the shape the diff reads."""
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(RECORD_SCHEMA).iter_errors(record))
    if error is not None:
        at = "" if error.json_path == "$" else f" at {error.json_path}"
        raise FcsynthError(f"{where}: not a dataset record: {error.message}{at}")


def load_version(rev: str, root: Path, commit: str | None = None) -> DatasetVersion:
    """Read the exported dataset (train + test) and metrics/curate.json at `rev` ('workspace' = the files on disk).

    `commit` is `rev` already resolved (resolve_rev); errors name `rev` as the user wrote it.
    """
    if not (root / ".git").exists() and rev != WORKSPACE:
        raise FcsynthError(f"{root} is not a git repository: only the workspace can be read")
    at = commit or rev
    records: dict[str, dict[str, Any]] = {}
    splits: dict[str, str] = {}
    first_seen: dict[str, str] = {}
    found = False
    for split, path in SPLIT_FILES.items():
        text = _read_text(root, at, path, label=rev)
        if text is None:
            continue
        found = True
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno} at '{rev}'"
            try:
                record = json.loads(line)
            except (ValueError, RecursionError) as err:  # also an integer past Python's digit limit, or too deep
                raise FcsynthError(f"{where}: not valid JSON: {getattr(err, 'msg', err)}") from None
            _check_record(record, where)
            rid = record["id"]
            if rid in first_seen:
                raise FcsynthError(f"{where}: duplicate id '{rid}' (first at {first_seen[rid]})")
            first_seen[rid] = f"{path}:{lineno}"
            records[rid] = record
            splits[rid] = split
    if not found:
        raise FcsynthError(f"no exported dataset ({', '.join(SPLIT_FILES.values())}) at '{rev}'")
    metrics_text = _read_text(root, at, CURATE_METRICS, label=rev)
    rate = None
    if metrics_text:
        try:
            rate = json.loads(metrics_text).get("acceptance_rate")
        except (json.JSONDecodeError, AttributeError):
            rate = None
        if not isinstance(rate, (int, float)) or isinstance(rate, bool):
            rate = None
    return DatasetVersion(rev=rev, records=records, splits=splits, acceptance_rate=rate)


def tools_used(records: dict[str, dict[str, Any]]) -> set[str]:
    """Names of the tools called at least once in the records' assistant turns."""
    used = set()
    for record in records.values():
        for message in record.get("messages") or []:
            for call in message.get("tool_calls") or []:
                used.add(call["function"]["name"])
    return used


def tools_offered(records: dict[str, dict[str, Any]]) -> set[str]:
    """Names of the tools offered to the model in the records (used + distractors)."""
    return {t["function"]["name"] for r in records.values() for t in r.get("tools") or []}


def score_summary(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per judge dimension: number of scores, mean and histogram over 1..5."""
    values: dict[str, list[int]] = {}
    for record in records.values():
        for dim, score in (record.get("scores") or {}).items():
            if score is not None:
                values.setdefault(dim, []).append(int(score))
    out = {}
    for dim, scores in sorted(values.items()):
        hist = Counter(str(s) for s in scores)
        out[dim] = {
            "n": len(scores),
            "mean": round(sum(scores) / len(scores), 4),
            "histogram": {level: hist.get(level, 0) for level in SCORE_LEVELS},
        }
    return out


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(b - a, 4)


def diff_versions(a: DatasetVersion, b: DatasetVersion) -> dict[str, Any]:
    """The JSON-able report of what changed from version `a` to version `b`."""
    ids_a, ids_b = set(a.records), set(b.records)
    common = ids_a & ids_b
    changed = sorted(i for i in common if record_hash(a.records[i]) != record_hash(b.records[i]))

    sel_a = Counter(r["selection"] for r in a.records.values())
    sel_b = Counter(r["selection"] for r in b.records.values())
    selections = {
        s: {"a": sel_a.get(s, 0), "b": sel_b.get(s, 0), "delta": sel_b.get(s, 0) - sel_a.get(s, 0)}
        for s in sorted(set(sel_a) | set(sel_b))
    }

    scores_a, scores_b = score_summary(a.records), score_summary(b.records)
    scores = {}
    for dim in sorted(set(scores_a) | set(scores_b)):
        sa, sb = scores_a.get(dim), scores_b.get(dim)
        scores[dim] = {
            "a": sa,
            "b": sb,
            "mean_delta": _delta(sa and sa["mean"], sb and sb["mean"]),
        }

    used_a, used_b = tools_used(a.records), tools_used(b.records)
    offered_a, offered_b = tools_offered(a.records), tools_offered(b.records)

    def side(v: DatasetVersion, used: set[str], offered: set[str]) -> dict[str, Any]:
        return {
            "rev": v.rev,
            "records": len(v.records),
            "splits": dict(sorted(Counter(v.splits.values()).items())),
            "acceptance_rate": v.acceptance_rate,
            "tools_used": len(used),
            "tools_offered": len(offered),
        }

    return {
        "a": side(a, used_a, offered_a),
        "b": side(b, used_b, offered_b),
        "conversations": {
            "added": sorted(ids_b - ids_a),
            "removed": sorted(ids_a - ids_b),
            "changed": changed,
            "unchanged": len(common) - len(changed),
        },
        "selections": selections,
        "scores": scores,
        "tool_coverage": {
            "a": len(used_a),
            "b": len(used_b),
            "newly_covered": sorted(used_b - used_a),
            "lost": sorted(used_a - used_b),
        },
        "acceptance_rate": {
            "a": a.acceptance_rate,
            "b": b.acceptance_rate,
            "delta": _delta(a.acceptance_rate, b.acceptance_rate),
        },
    }


def diff_revs(rev_a: str, rev_b: str, root: Path) -> dict[str, Any]:
    """Load both revisions of the dataset under `root` and diff them."""
    commits = {rev: resolve_rev(root, rev) for rev in (rev_a, rev_b)}  # an unknown name fails before any read
    return diff_versions(load_version(rev_a, root, commits[rev_a]), load_version(rev_b, root, commits[rev_b]))


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _signed(value: float | int | None) -> str:
    if value is None:
        return "-"
    text = f"{value:+.3f}" if isinstance(value, float) else f"{value:+d}"
    style = "green" if value > 0 else "red" if value < 0 else "dim"
    return f"[{style}]{text}[/{style}]"


def _hist(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "-"
    return " ".join(f"{level}:{summary['histogram'][level]}" for level in SCORE_LEVELS)


def _ids(ids: list[str], limit: int = 8) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f", … (+{len(ids) - limit})" if len(ids) > limit else "")


def render(report: dict[str, Any], console: Any | None = None) -> None:
    """Print the report as rich tables."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    a, b = report["a"], report["b"]
    conv = report["conversations"]

    summary = Table(title=f"dataset diff: {a['rev']} → {b['rev']}", title_justify="left")
    summary.add_column("")
    summary.add_column(a["rev"], justify="right")
    summary.add_column(b["rev"], justify="right")
    summary.add_column("Δ", justify="right")
    summary.add_row("conversations", str(a["records"]), str(b["records"]), _signed(b["records"] - a["records"]))
    for split in sorted(set(a["splits"]) | set(b["splits"])):
        na, nb = a["splits"].get(split, 0), b["splits"].get(split, 0)
        summary.add_row(f"  {split}", str(na), str(nb), _signed(nb - na))
    rate = report["acceptance_rate"]
    summary.add_row("acceptance rate", _fmt(rate["a"]), _fmt(rate["b"]), _signed(rate["delta"]))
    cov = report["tool_coverage"]
    summary.add_row("tools used", str(cov["a"]), str(cov["b"]), _signed(cov["b"] - cov["a"]))
    summary.add_row("tools offered", str(a["tools_offered"]), str(b["tools_offered"]),
                    _signed(b["tools_offered"] - a["tools_offered"]))
    console.print(summary)

    changes = Table(title="conversations", title_justify="left")
    changes.add_column("change")
    changes.add_column("count", justify="right")
    changes.add_column("ids")
    for kind in ("added", "removed", "changed"):
        changes.add_row(kind, str(len(conv[kind])), _ids(conv[kind]))
    changes.add_row("unchanged", str(conv["unchanged"]), "")
    console.print(changes)

    if report["selections"]:
        sel = Table(title="per selection", title_justify="left")
        sel.add_column("selection")
        sel.add_column(a["rev"], justify="right")
        sel.add_column(b["rev"], justify="right")
        sel.add_column("Δ", justify="right")
        for name, row in report["selections"].items():
            sel.add_row(name, str(row["a"]), str(row["b"]), _signed(row["delta"]))
        console.print(sel)

    if report["scores"]:
        scores = Table(title="judge scores (mean, histogram 1..5)", title_justify="left")
        scores.add_column("dimension")
        scores.add_column(f"mean {a['rev']}", justify="right")
        scores.add_column(f"mean {b['rev']}", justify="right")
        scores.add_column("Δ", justify="right")
        scores.add_column(f"hist {a['rev']}")
        scores.add_column(f"hist {b['rev']}")
        for dim, row in report["scores"].items():
            scores.add_row(dim, _fmt(row["a"] and row["a"]["mean"]), _fmt(row["b"] and row["b"]["mean"]),
                           _signed(row["mean_delta"]), _hist(row["a"]), _hist(row["b"]))
        console.print(scores)

    if cov["newly_covered"] or cov["lost"]:
        console.print(f"tools newly covered: {_ids(cov['newly_covered'], 20) or '-'}")
        console.print(f"tools no longer covered: {_ids(cov['lost'], 20) or '-'}")


def diff_command(
    rev_a: str = typer.Argument("HEAD", help="Old version: git revision or `dvc exp` name ('workspace' = files on disk)"),
    rev_b: str = typer.Argument(WORKSPACE, help="New version (default: the workspace)"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
) -> None:
    """Diff two versions of the exported dataset (default: HEAD vs the workspace)."""
    from fcsynth.paths import project_root

    report = diff_revs(rev_a, rev_b, project_root())
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        render(report)
