"""Reading a version of the exported dataset at a git revision, `dvc exp` name or the workspace."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

    A revision (a commit, branch, tag or `dvc exp` name) is read through `dvc.api`, the
    workspace straight from the files. `commit` is `rev` already resolved (resolve_rev);
    errors name `rev` as the user wrote it.
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
