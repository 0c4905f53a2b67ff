"""MCP `tools/list` results -> tools.

Accepts the full JSON-RPC response (`{"jsonrpc": "2.0", "id": ..., "result": {"tools":
[...]}}`), a list of such responses (pagination), the bare `result` (`{"tools": [...]}`)
or the bare list of tools. Each tool's `inputSchema` becomes `parameters`, its
`outputSchema` (MCP 2025-06-18) the response schema; `$defs` refs are inlined.
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


def mcp_tool_list(data: Any, name: str) -> list[Any]:
    """The tool entries of a tools/list result in any of the accepted shapes."""
    pages = data if isinstance(data, list) and data and all(isinstance(d, dict) and ("result" in d or "error" in d) for d in data) else [data]
    tools: list[Any] = []
    for page in pages:
        if isinstance(page, dict) and "error" in page and "result" not in page:
            error = page["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise FcsynthError(f"{name}: the MCP server answered with an error: {message}")
        if isinstance(page, dict) and isinstance(page.get("result"), dict):
            page = page["result"]
        if isinstance(page, dict) and isinstance(page.get("tools"), list):
            tools.extend(page["tools"])
        elif isinstance(page, list):
            tools.extend(page)
        else:
            raise FcsynthError(f"{name}: not an MCP tools/list result (expected `result.tools`, `tools` or a list of tools)")
    return tools


def import_mcp(
    source: str | Path, toolkit: str | None = None, budget_tokens: int | None = None, oversize: Oversize = "trim"
) -> ImportResult:
    """Import the tools of an MCP tools/list result file (path or URL)."""
    doc = load_document(source)
    entries = mcp_tool_list(doc.data, doc.name)
    toolkit = toolkit or sanitize_toolkit(Path(urlparse(doc.name).path).stem)
    result = ImportResult(entries=len(entries))
    doc.report(result)
    candidates = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
            result.skip("missing_name", f"{toolkit}/tools[{i}]")
            continue
        if entry.get("inputSchema") is None:
            # MCP requires inputSchema; kept as a no-argument tool, and said so
            result.flag("no_input_schema", f"{toolkit}/{entry['name']}: no inputSchema, imported as a tool without arguments")
        description = entry.get("description") or entry.get("title") or ""
        tool = candidate(
            result,
            toolkit=toolkit,
            name=entry["name"],
            description=description if isinstance(description, str) else "",
            parameters=entry.get("inputSchema"),
            response=entry.get("outputSchema"),
            source=doc.name,
            operation=entry["name"],
        )
        if tool is not None:
            candidates.append(tool)
    normalize(candidates, result, budget_tokens, oversize)
    return result
