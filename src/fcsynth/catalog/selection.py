"""Toolkit selections: a toolkit name, or a bundle named by its toolkits joined by `+`."""

from __future__ import annotations

from dataclasses import replace

from fcsynth.catalog.naming import sanitize_name
from fcsynth.config import ToolkitsConfig
from fcsynth.errors import FcsynthError
from fcsynth.tools import Tool


def selection_name(toolkits: list[str]) -> str:
    """`gmail` for one toolkit, `gmail+googlecalendar` for a bundle."""
    return "+".join(toolkits)


def select(tools: list[Tool], toolkits_cfg: ToolkitsConfig) -> dict[str, list[Tool]]:
    """The tools of every configured toolkit and bundle, by selection name (config order).

    An unknown toolkit name, an empty bundle, or a `weights` key that is no selection is a
    one-line error listing what exists.
    """
    by_toolkit: dict[str, list[Tool]] = {}
    for tool in tools:
        by_toolkit.setdefault(tool.toolkit, []).append(tool)
    known = ", ".join(sorted(by_toolkit)) or "none"
    selections: dict[str, list[Tool]] = {}
    for where, group in [("toolkits.toolkits", [t]) for t in toolkits_cfg.toolkits] + [
        (f"toolkits.bundles[{i}]", list(b)) for i, b in enumerate(toolkits_cfg.bundles)
    ]:
        if not group:
            raise FcsynthError(f"{where}: an empty bundle")
        for name in group:
            if name not in by_toolkit:
                raise FcsynthError(f"{where}: unknown toolkit {name!r} (the catalog has: {known})")
        selections[selection_name(group)] = _unique_names([t for name in group for t in by_toolkit[name]])
    unknown = sorted(set(toolkits_cfg.weights) - set(selections))
    if unknown:
        raise FcsynthError(f"toolkits.weights: {unknown[0]!r} is not a selection (selections: {', '.join(selections)})")
    return selections


def _unique_names(tools: list[Tool]) -> list[Tool]:
    """Tools of a bundle with unique names: a name two toolkits share gets its toolkit prefix.

    (asana and todoist both have `create_task`; one conversation's grammar needs one of each.)
    """
    counts: dict[str, int] = {}
    for t in tools:
        counts[t.name] = counts.get(t.name, 0) + 1
    return [
        replace(t, name=sanitize_name(f"{t.toolkit}_{t.name}")) if counts[t.name] > 1 else t
        for t in tools
    ]

