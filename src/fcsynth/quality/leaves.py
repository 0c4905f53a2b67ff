"""The leaves of call arguments and tool responses (strings and numbers), with their paths
and, for arguments, whether the tool schema fixes them (enum, const, default)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_SPACE = re.compile(r"\s+")


def norm(text: str) -> str:
    """Case-folded, whitespace-collapsed text: what every comparison uses."""
    return _SPACE.sub(" ", text).strip().casefold()


@dataclass(frozen=True)
class Leaf:
    """One string or number in a JSON value; `free` is False when the schema fixes it."""

    path: str  # "/to/[]": keys, and "[]" for any array item (the example generator's paths)
    value: str | int | float
    free: bool = True


def json_leaves(value: Any, path: str = "") -> Iterator[Leaf]:
    """Every string and number below `value` (booleans and nulls are no leaves)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from json_leaves(v, f"{path}/{k}")
    elif isinstance(value, list):
        for v in value:
            yield from json_leaves(v, f"{path}/[]")
    elif isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        yield Leaf(path, value)


def parse_json(text: Any) -> Any:
    """A tool response's content as JSON, or the text itself when it is none."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _branches(schema: Any) -> list[dict[str, Any]]:
    """The schema and every allOf/anyOf/oneOf branch below it, flattened."""
    if not isinstance(schema, dict):
        return []
    out = [schema]
    for word in ("allOf", "anyOf", "oneOf"):
        for part in schema.get(word) or []:
            out += _branches(part)
    return out


def _children(schemas: list[dict[str, Any]], key: str | None) -> list[dict[str, Any]]:
    """The subschemas of property `key` (None: an array item) in any of `schemas`."""
    out: list[dict[str, Any]] = []
    for s in schemas:
        if key is None:
            out += _branches(s.get("items"))
            for item in s.get("prefixItems") or []:
                out += _branches(item)
        else:
            sub = (s.get("properties") or {}).get(key, s.get("additionalProperties"))
            out += _branches(sub)
    return out


def _fixed(value: Any, schemas: list[dict[str, Any]]) -> bool:
    """The schema fixes `value`: it is an enum member, the const, or the default."""
    for s in schemas:
        if value in (s.get("enum") or []) or ("const" in s and s["const"] == value):
            return True
        if "default" in s and s["default"] == value:
            return True
    return False


def argument_leaves(arguments: Any, schema: Any) -> list[Leaf]:
    """The leaves of a call's arguments, each marked free unless the schema fixes it."""
    out: list[Leaf] = []

    def walk(value: Any, schemas: list[dict[str, Any]], path: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, _children(schemas, k), f"{path}/{k}")
        elif isinstance(value, list):
            for v in value:
                walk(v, _children(schemas, None), f"{path}/[]")
        elif isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            out.append(Leaf(path, value, free=not _fixed(value, schemas)))

    walk(arguments, _branches(schema), "")
    return out
