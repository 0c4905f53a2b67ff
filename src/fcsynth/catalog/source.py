"""Read a tool source (JSON or YAML, local file or http(s) URL) into plain Python data.

YAML is read with YAML 1.2 scalar rules (only `true`/`false` are booleans, dates stay
strings), as OpenAPI expects. A document the safe loader rejects because of a tag it does
not know (`!Ref`, `!!python/object:...`, ...) is re-read with a loader that ignores unknown
tags and keeps the tagged node as plain data (nothing is ever constructed or executed);
the fallback is reported as `yaml_unknown_tags`.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fcsynth.errors import FcsynthError

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_URL_RE = re.compile(r"^https?://", re.IGNORECASE)
URL_TIMEOUT_S = 30


def is_url(source: str) -> bool:
    """True for an http(s) URL."""
    return bool(_URL_RE.match(source))


class SpecLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loader with YAML 1.2 booleans and no timestamp conversion."""


SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
SpecLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


class TolerantSpecLoader(SpecLoader):
    """SpecLoader that reads nodes with unknown tags as plain scalars, lists or mappings."""


def _untagged(loader: yaml.Loader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


TolerantSpecLoader.add_multi_constructor("!", _untagged)
TolerantSpecLoader.add_multi_constructor("tag:", _untagged)


@dataclass
class Document:
    """A loaded source: its data, a base URI for `$ref`s, and fallbacks used while reading."""

    data: Any
    uri: str
    name: str
    fallbacks: list[str]


def read_text(source: str) -> str:
    """The text of a local file or http(s) URL; a one-line error if it cannot be read."""
    if is_url(source):
        try:
            with urllib.request.urlopen(source, timeout=URL_TIMEOUT_S) as resp:  # noqa: S310 (http(s) only)
                return resp.read().decode("utf-8-sig")
        except (urllib.error.URLError, TimeoutError, OSError, UnicodeDecodeError) as err:
            reason = getattr(err, "reason", err)
            raise FcsynthError(f"{source}: cannot fetch: {reason}") from None
    path = Path(source)
    if not path.is_file():
        raise FcsynthError(f"{source}: not found" if not path.exists() else f"{source}: not a file")
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise FcsynthError(f"{source}: cannot read: {err}") from None


def parse_text(text: str, name: str) -> tuple[Any, list[str]]:
    """Parse JSON, JSON Lines (a list), else YAML (JSON is YAML, but the JSON parser is faster)."""
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            return json.loads(text), []
        except json.JSONDecodeError as err:
            if err.msg == "Extra data":
                try:
                    return [json.loads(line) for line in text.splitlines() if line.strip()], []
                except json.JSONDecodeError:
                    pass
            if name.lower().endswith((".json", ".jsonl")):
                raise FcsynthError(f"{name}: not valid JSON: {err}") from None
    try:
        return yaml.load(text, Loader=SpecLoader), []  # noqa: S506 (a safe loader subclass)
    except yaml.constructor.ConstructorError:
        pass
    except yaml.YAMLError as err:
        raise FcsynthError(f"{name}: not valid JSON or YAML: {_yaml_error_line(err)}") from None
    try:
        return yaml.load(text, Loader=TolerantSpecLoader), ["yaml_unknown_tags"]  # noqa: S506
    except yaml.YAMLError as err:
        raise FcsynthError(f"{name}: not valid YAML: {_yaml_error_line(err)}") from None


def _yaml_error_line(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}"


def source_uri(source: str) -> str:
    """The base URI `$ref`s of `source` resolve against."""
    return source if is_url(source) else Path(source).resolve().as_uri()


def load_document(source: str | Path) -> Document:
    """Read and parse `source` (path or URL) into a Document."""
    source = str(source)
    data, fallbacks = parse_text(read_text(source), source)
    return Document(data=_plain(data), uri=source_uri(source), name=source, fallbacks=fallbacks)


def _plain(node: Any) -> Any:
    """Make mapping keys strings (YAML allows `200:` or `1.0:` as keys; JSON Schema does not)."""
    if isinstance(node, dict):
        return {(k if isinstance(k, str) else _key_text(k)): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)
