"""Write docs/reference/configuration.md from conf/ (values, comments) and fcsynth.config (types).

One section per config group: its default option's keys, then each other option with what it
changes. `--check` exits 1 if the page on disk differs from what would be written.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
from inspect import isclass
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
import yaml
from conf_comments import CONF_DIR, ConfFile, Key, conf_files
from pydantic import BaseModel
from pydantic.fields import FieldInfo

OUTPUT = CONF_DIR.parent / "docs" / "reference" / "configuration.md"


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """An annotation without its Annotated layers, and the constraints those layers held."""
    constraints: list[Any] = []
    while get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        for item in extra:
            constraints += item.metadata if isinstance(item, FieldInfo) else [item]
    return annotation, constraints


def _members(annotation: Any) -> list[Any]:
    annotation, _ = _unwrap(annotation)
    if get_origin(annotation) in (Union, UnionType):
        return [_unwrap(arg)[0] for arg in get_args(annotation)]
    return [annotation]


def field_at(path: tuple[str, ...]) -> tuple[Any, list[Any]] | None:
    """(annotation, constraints) of a params.yaml key in fcsynth.config.Config; None if it has none.
    A key of several llm backends with different Literal choices gets all of them."""
    from fcsynth.config import Config

    candidates: list[tuple[Any, list[Any]]] = [(Config, [])]
    for part in path:
        found = []
        for member in (m for annotation, _ in candidates for m in _members(annotation)):
            if isclass(member) and issubclass(member, BaseModel) and part in member.model_fields:
                found.append((member.model_fields[part].annotation, member.model_fields[part].metadata))
            elif get_origin(member) is dict:
                found.append((get_args(member)[1], []))
        if not found:
            return None
        candidates = found
    if len(candidates) > 1 and all(get_origin(a) is Literal for a, _ in candidates):
        choices = tuple(dict.fromkeys(c for a, _ in candidates for c in get_args(a)))
        return Literal[choices], []  # type: ignore[valid-type]
    return candidates[0]


def _bounds(constraints: list[Any]) -> str:
    low = next((f"[{c.ge}" for c in constraints if isinstance(c, at.Ge)), None) or next(
        (f"({c.gt}" for c in constraints if isinstance(c, at.Gt)), None)
    high = next((f"{c.le}]" for c in constraints if isinstance(c, at.Le)), None) or next(
        (f"{c.lt})" for c in constraints if isinstance(c, at.Lt)), None)
    if low and high:
        return f"{low}, {high}"
    if low:
        return ("≥ " if low[0] == "[" else "> ") + low[1:]
    if high:
        return ("≤ " if high[-1] == "]" else "< ") + high[:-1]
    return ""


def _length(constraints: list[Any]) -> str:
    least = next((c.min_length for c in constraints if isinstance(c, at.MinLen)), None)
    most = next((c.max_length for c in constraints if isinstance(c, at.MaxLen)), None)
    if least is not None and least == most:
        return f"{least} items"
    return ", ".join(part for part in (least and f"at least {least} items", most and f"at most {most} items") if part)


def describe(annotation: Any, constraints: list[Any] | None = None) -> tuple[str, str]:
    """(type, allowed values) of a pydantic annotation, e.g. ("int or null", "≥ 8")."""
    annotation, inner = _unwrap(annotation)
    constraints = [*(constraints or []), *inner]
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, UnionType):
        parts = [describe(arg) for arg in args]
        return " or ".join(dict.fromkeys(kind for kind, _ in parts)), "; ".join(a for _, a in parts if a)
    if origin is Literal:
        return " or ".join(dict.fromkeys(type(a).__name__ for a in args)), ", ".join(f"`{a}`" for a in args)
    if origin in (list, tuple):  # a YAML list; tuple[X, ...] only
        item_type, item_allowed = describe(args[0])
        allowed = [_length(constraints), item_allowed and f"items: {item_allowed}"]
        return f"list[{item_type}]", "; ".join(a for a in allowed if a)
    if origin is dict:
        (key_type, key_allowed), (value_type, value_allowed) = describe(args[0]), describe(args[1])
        allowed = [key_allowed and f"keys: {key_allowed}", value_allowed and f"values: {value_allowed}"]
        return f"map[{key_type}, {value_type}]", "; ".join(a for a in allowed if a)
    if annotation is NoneType:
        return "null", ""
    if isclass(annotation) and issubclass(annotation, BaseModel):
        return "section", ""
    if annotation is Any:
        return "any", ""
    return getattr(annotation, "__name__", str(annotation)), _bounds(constraints)


def yaml_text(value: Any) -> str:
    """A value in YAML flow style, as it would be written in conf/."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(yaml_text(v) for v in value) + "]"
    if isinstance(value, str) and (yaml.safe_load(value) != value or re.search(r"[,\[\]{}]|: | #", value)):
        return json.dumps(value)
    return str(value)


def code(text: str) -> str:
    """An inline code span that survives a Markdown table cell."""
    if "|" in text or "`" in text:
        return "<code>" + html.escape(text).replace("|", "&#124;") + "</code>"
    return f"`{text}`"


def cell(text: str) -> str:
    """Comment text for a table cell: its `code spans` kept, Markdown and HTML syntax escaped."""
    pieces = text.split("`") if text.count("`") % 2 == 0 else [text]
    out = []
    for i, piece in enumerate(pieces):
        if i % 2:
            out.append(code(piece))
            continue
        piece = piece.replace("&", "&amp;").replace("<", "&lt;")
        piece = re.sub(r"([\\|*`]|\](?=[(\[]))", r"\\\1", piece)
        out.append(re.sub(r"(?<!\w)_|_(?!\w)", r"\\_", piece))
    return "".join(out)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return [*lines, *("| " + " | ".join(row) + " |" for row in rows), ""]


def _shown(path: tuple[str, ...], value: Any) -> str:
    """A key's value for a table: a section's keys have their own rows."""
    field = field_at(path)
    if isinstance(value, dict) and field and describe(*field)[0] == "section":
        return "—"
    return code(yaml_text(value))


def _row(path: tuple[str, ...], key: Key, values: list[str]) -> list[str]:
    field = field_at(path)
    kind, allowed = describe(*field) if field else ("", "")
    return [code(".".join(path)), cell(kind), cell(allowed), *values, cell(key.comment)]


def _listed(conf: ConfFile) -> list[Key]:
    """The keys that get a row: not Hydra's defaults list, nor an uncommented group name."""
    return [k for k in conf.keys if k.path != ("defaults",) and (k.needs_comment or k.comment)]


def _options(root: ConfFile) -> dict[str, str | None]:
    """{group: its default option} from config.yaml's defaults list, in its order."""
    return {group: option for entry in root.defaults if isinstance(entry, dict) for group, option in entry.items()}


def _composed(files: dict[str, ConfFile]) -> dict[tuple[str, ...], tuple[Any, str]]:
    """{key path: (value, "group=option" that set it last)} of conf/ composed with no overrides."""
    composed: dict[tuple[str, ...], tuple[Any, str]] = {}
    for entry in files["config.yaml"].defaults:
        name, source = ("config.yaml", "config.yaml") if entry == "_self_" else next(
            (f"{g}/{o}.yaml", f"{g}={o}") for g, o in entry.items())
        for key in files[name].keys if name in files else []:
            composed[(*files[name].package, *key.path)] = (key.value, source)
    return composed


def _default_section(group: str, default: str, conf: ConfFile, composed: dict) -> list[str]:
    """A group's default option: every key with its value, and the value a later default option sets over it."""
    out = [cell(conf.description), ""] if conf.description else []
    out += [f"Default option: {code(default)} (conf/{group}/{default}.yaml).", ""]
    rows = []
    for key in _listed(conf):
        path = (*conf.package, *key.path)
        shown = _shown(path, key.value)
        value, source = composed.get(path, (key.value, ""))
        if value != key.value and shown != "—":
            shown += f" ({code(yaml_text(value))} with {code(source)})"
        rows.append(_row(path, key, [shown]))
    return out + _table(["Key", "Type", "Allowed", "Default", "Meaning"], rows)


def _option_section(group: str, option: str, conf: ConfFile, composed: dict) -> list[str]:
    """Another option of a group: what it builds on and each key it sets, next to the default."""
    out = [f"### {group}={option}", "", *([cell(conf.description), ""] if conf.description else [])]
    picks = [code(f"{g.removeprefix('override /')}={o}") for e in conf.defaults if e != "_self_"
             for g, o in (e.items() if isinstance(e, dict) else [(group, e)])]
    if picks:
        out += [f"Builds on: {', '.join(picks)}.", ""]
    rows = [_row(p, k, [_shown(p, k.value), _shown(p, composed[p][0]) if p in composed else "—"])
            for k in _listed(conf) for p in [(*conf.package, *k.path)]]
    return out + (_table(["Key", "Type", "Allowed", "Value", "Default", "Meaning"], rows) if rows else ["Sets no keys itself.", ""])


def _group_section(group: str, default: str | None, files: dict[str, ConfFile], composed: dict) -> list[str]:
    out = [f"## {group}", ""]
    if default is None:
        out += [f"No option by default ({code(f'{group}: null')}); pick one with {code(f'-S {group}=NAME')}.", ""]
    else:
        out += _default_section(group, default, files[f"{group}/{default}.yaml"], composed)
    for name in sorted(n for n in files if n.startswith(f"{group}/") and Path(n).stem != default):
        out += _option_section(group, Path(name).stem, files[name], composed)
    return out


def render(conf_dir: Path = CONF_DIR) -> str:
    """The Markdown page for conf_dir."""
    files = conf_files(conf_dir)
    root, composed = files["config.yaml"], _composed(files)
    defaults = _options(root)
    groups = [*defaults, *sorted({n.split("/")[0] for n in files if "/" in n} - set(defaults))]
    out = [
        "# Configuration reference", "",
        "<!-- Generated by scripts/config_reference.py from conf/ and fcsynth.config: edit those, then rerun it. -->", "",
        "`python -m fcsynth.cli params` (`make params`) composes conf/ with Hydra into params.yaml, which every stage "
        "reads and `fcsynth.config` validates strictly: an unknown, missing or ill-typed key is an error (no bool for "
        "an int, no string for a number). Change a key for one run with `dvc exp run -S train.grad_accum=4`, pick a "
        "group's option with `dvc exp run -S llm=ray`.", "",
        "Type and Allowed come from `fcsynth.config`; Default is the value in conf/ (and the value another default "
        "option sets over it); Meaning is the key's comment in conf/. Under each other option, Value is what it sets.",
        "", "## Top level", "", cell(root.description), "",
    ]
    rows = [_row(k.path, k, [_shown(k.path, k.value)]) for k in _listed(root)]
    out += _table(["Key", "Type", "Allowed", "Default", "Meaning"], rows)
    out += _table(["Group", "Default option", "Other options"], [
        [code(g), code(yaml_text(defaults.get(g))), ", ".join(code(Path(n).stem) for n in sorted(files)
                                                        if n.startswith(f"{g}/") and Path(n).stem != defaults.get(g))]
        for g in groups])
    for group in groups:
        out += _group_section(group, defaults.get(group), files, composed)
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the page on disk is not current")
    args = parser.parse_args(argv)
    page = render()
    where = os.path.relpath(OUTPUT, CONF_DIR.parent)
    if args.check:
        if not OUTPUT.is_file() or OUTPUT.read_text() != page:
            print(f"{where} is out of date: run `python scripts/config_reference.py`", file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(page)
    print(f"wrote {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
