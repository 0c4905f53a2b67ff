"""Tool and toolkit names: sanitized to `^[a-zA-Z0-9_-]{1,64}$` and unique within a toolkit."""

from __future__ import annotations

import dataclasses
import hashlib
import re

from fcsynth.catalog.result import ImportResult
from fcsynth.tools import Tool

MAX_NAME = 64
_INVALID_CHARS = re.compile(r"[^a-zA-Z0-9_-]+")


def sanitize_name(raw: str) -> str:
    """A name matching ^[a-zA-Z0-9_-]{1,64}$: other characters become `_`; a longer name
    is cut to 55 characters plus `_` and 8 hex digits of its hash (stable)."""
    name = _INVALID_CHARS.sub("_", raw.strip())
    name = re.sub(r"_{2,}", "_", name).strip("_") or "tool"
    if len(name) > MAX_NAME:
        name = f"{name[:55].rstrip('_')}_{hashlib.sha1(raw.encode()).hexdigest()[:8]}"
    return name


def sanitize_toolkit(raw: str) -> str:
    """A toolkit name (lower case, `[a-z0-9_-]`, at most 64 characters)."""
    return sanitize_name(raw.lower())[:MAX_NAME]


def with_suffix(name: str, n: int) -> str:
    """`name_n`, cut so the result stays within 64 characters."""
    suffix = f"_{n}"
    return name[: MAX_NAME - len(suffix)] + suffix


def unique_names(tools: list[Tool], result: ImportResult) -> list[Tool]:
    """Rename later tools whose name is taken within their toolkit (`name_2`, `name_3`, ...,
    in input order) and report each rename as `renamed_collision`."""
    taken: set[tuple[str, str]] = {(t.toolkit, t.name) for t in tools}
    seen: set[tuple[str, str]] = set()
    out = []
    for tool in tools:
        key = (tool.toolkit, tool.name)
        if key in seen:
            n = 2
            while (tool.toolkit, with_suffix(tool.name, n)) in taken:
                n += 1
            new = with_suffix(tool.name, n)
            taken.add((tool.toolkit, new))
            result.flag("renamed_collision", f"{tool.toolkit}/{tool.name} -> {new} ({tool.operation or tool.source})")
            result.renamed.append({"toolkit": tool.toolkit, "from": tool.name, "to": new, "operation": tool.operation or ""})
            tool = dataclasses.replace(tool, name=new)
            key = (tool.toolkit, new)
        seen.add(key)
        out.append(tool)
    return out
