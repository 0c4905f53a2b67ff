"""OpenAI-style tool lists -> tools.

Accepts a list (or `{"tools": [...]}` / `{"functions": [...]}`) of Chat Completions tools
`{"type": "function", "function": {"name", "description", "parameters"}}`, Responses API
tools `{"type": "function", "name", "description", "parameters"}` and bare legacy
`functions` entries `{"name", "description", "parameters"}`. Built-in tool types
(`web_search`, `code_interpreter`, ...) are skipped as `not_a_function`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from fcsynth.catalog.naming import sanitize_toolkit
from fcsynth.catalog.normalize import Oversize, candidate, normalize
from fcsynth.catalog.result import ImportResult
from fcsynth.catalog.source import load_document
from fcsynth.errors import FcsynthError


def openai_tool_list(data: Any, name: str) -> list[Any]:
    """The entries of an OpenAI tool list in any of the accepted shapes."""
    if isinstance(data, dict):
        for key in ("tools", "functions"):
            if isinstance(data.get(key), list):
                return data[key]
        if "function" in data or "parameters" in data:
            return [data]
    if isinstance(data, list):
        return data
    raise FcsynthError(f"{name}: not an OpenAI tool list (expected a list of {{\"type\": \"function\", \"function\": {{...}}}})")


def import_openai(
    source: str | Path, toolkit: str | None = None, budget_tokens: int | None = None, oversize: Oversize = "trim"
) -> ImportResult:
    """Import an OpenAI-style tool list file (path or URL)."""
    doc = load_document(source)
    entries = openai_tool_list(doc.data, doc.name)
    toolkit = toolkit or sanitize_toolkit(Path(urlparse(doc.name).path).stem)
    result = ImportResult(entries=len(entries))
    doc.report(result)
    candidates = []
    for i, entry in enumerate(entries):
        label = f"{toolkit}/tools[{i}]"
        if not isinstance(entry, dict):
            result.skip("not_a_function", label)
            continue
        kind = entry.get("type", "function")
        function = entry.get("function") if isinstance(entry.get("function"), dict) else entry
        if kind != "function":
            result.skip("not_a_function", f"{label}: type {kind!r}")
            continue
        name = function.get("name")
        if not isinstance(name, str) or not name.strip():
            result.skip("missing_name", label)
            continue
        description = function.get("description")
        tool = candidate(
            result,
            toolkit=toolkit,
            name=name,
            description=description if isinstance(description, str) else "",
            parameters=function.get("parameters"),
            source=doc.name,
            operation=name,
        )
        if tool is not None:
            candidates.append(tool)
    normalize(candidates, result, budget_tokens, oversize)
    return result
