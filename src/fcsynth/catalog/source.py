"""Load a tool source (local file or http(s) URL) into a Document: plain data within depth and expansion limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fcsynth.catalog.fetch import read_text
from fcsynth.catalog.spec_parse import MAX_DEPTH, parse_text
from fcsynth.catalog.url_policy import is_url
from fcsynth.errors import FcsynthError, redact, register_url_secrets

MAX_EXPANDED_NODES = 5_000_000  # a 4 MB JSON spec has about 300k


@dataclass
class Document:
    """A loaded source: its data, a base URI for `$ref`s, and fallbacks used while reading
    (`fallbacks`: reasons; `warnings`: (reason, detail) pairs)."""

    data: Any
    uri: str
    name: str
    fallbacks: list[str]
    warnings: list[tuple[str, str]] = field(default_factory=list)

    def report(self, result: Any) -> None:
        """Count the fallbacks and warnings in an ImportResult."""
        for fallback in self.fallbacks:
            result.flag(fallback, self.name)
        for reason, detail in self.warnings:
            result.flag(reason, f"{self.name}: {detail}")


def source_uri(source: str) -> str:
    """The base URI `$ref`s of `source` resolve against."""
    return source if is_url(source) else Path(source).resolve().as_uri()


def load_document(source: str | Path) -> Document:
    """Read and parse `source` (path or URL) into a Document.

    Loading is bounded: a file over MAX_SOURCE_BYTES (fcsynth.catalog.fetch.read_text), data
    nested deeper than MAX_DEPTH, or YAML whose anchors and aliases would expand to more than
    MAX_EXPANDED_NODES nodes (a "billion laughs"), or that refer to themselves, is a one-line
    error. PyYAML and the JSON parser keep an alias as one shared object, so the check walks
    each shared object once and costs no more than the file.
    """
    source = str(source)
    if is_url(source):  # a key in the URL is printed and stored as [redacted]
        register_url_secrets(source)
    data, fallbacks, duplicates = parse_text(read_text(source), redact(source))
    plain = _Plain(redact(source))
    data = plain(data, 0)
    warnings = [("duplicate_key", f"{d} (the later value is kept)") for d in duplicates]
    return Document(data=data, uri=source_uri(source), name=redact(source), fallbacks=fallbacks, warnings=warnings)


class _Plain:
    """Make mapping keys strings (YAML allows `200:` or `1.0:` as keys; JSON Schema does
    not), keeping shared (aliased) objects shared, and enforce the depth and expansion limits."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.done: dict[int, tuple[Any, int]] = {}  # id -> (converted, expanded node count)
        self.active: set[int] = set()
        self.expanded = 0

    def __call__(self, node: Any, depth: int) -> Any:
        try:
            return self._walk(node, depth)[0]
        except RecursionError:
            raise FcsynthError(f"{self.name}: nested too deeply (the limit is {MAX_DEPTH} levels)") from None

    def _walk(self, node: Any, depth: int) -> tuple[Any, int]:
        if not isinstance(node, (dict, list)):
            return node, 0  # only mappings and lists are counted
        key = id(node)
        if key in self.done:
            out, count = self.done[key]
            self._count(count)
            return out, count
        if key in self.active:
            raise FcsynthError(f"{self.name}: a YAML alias refers to the mapping or list that contains it")
        if depth >= MAX_DEPTH:
            raise FcsynthError(f"{self.name}: nested deeper than {MAX_DEPTH} levels")
        self.active.add(key)
        count = 1
        if isinstance(node, dict):
            out: Any = {}
            for k, v in node.items():
                value, n = self._walk(v, depth + 1)
                out[k if isinstance(k, str) else _key_text(k)] = value
                count += n
        else:
            out = []
            for v in node:
                value, n = self._walk(v, depth + 1)
                out.append(value)
                count += n
        self.active.discard(key)
        self.done[key] = (out, count)
        self._count(1)
        return out, count

    def _count(self, n: int) -> None:
        self.expanded += n
        if self.expanded > MAX_EXPANDED_NODES:
            raise FcsynthError(
                f"{self.name}: expands to more than {MAX_EXPANDED_NODES:,} nodes (YAML anchors and aliases nested too far?)"
            )


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)
