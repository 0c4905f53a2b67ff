"""BFCL function docs -> tools.

A source is one of BFCL's multi-turn API classes by name (`GorillaFileSystem`, `MathAPI`,
`MessageAPI`, `TwitterAPI`, `TicketAPI`, `TradingBot`, `TravelAPI`, `VehicleControlAPI`),
read from the installed bfcl-eval wheel (pinned by `make setup`), or a file of BFCL function
docs `{"name", "description", "parameters", "response"}` (JSON Lines or a JSON list). BFCL's
type names (`dict`, `float`, `tuple`, `any`) become JSON Schema's, and `response` becomes
the tool's response schema. The toolkit is named after the doc file (`gorilla_file_system`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fcsynth.bfcl.apis import MULTI_TURN_APIS, doc_path, docs
from fcsynth.bfcl.suite import json_schema
from fcsynth.catalog.naming import sanitize_toolkit
from fcsynth.catalog.normalize import Oversize, candidate, normalize
from fcsynth.catalog.result import ImportResult
from fcsynth.catalog.source import load_document
from fcsynth.catalog.url_policy import is_url
from fcsynth.errors import FcsynthError


def is_api_name(source: str | Path) -> bool:
    """Whether `source` names a BFCL multi-turn API class rather than a file."""
    return str(source) in MULTI_TURN_APIS


def _entries(source: str | Path) -> tuple[str, list[Any], str]:
    """(display name, doc entries, default toolkit) of a class name or a doc file."""
    if is_api_name(source):
        path = doc_path(str(source))
        return f"bfcl-eval:{source}", docs(str(source)), path.stem
    doc = load_document(source)
    if not isinstance(doc.data, list):
        apis = ", ".join(MULTI_TURN_APIS)
        raise FcsynthError(f"{doc.name}: not BFCL function docs (expected JSON Lines or a list; or one of {apis})")
    stem = Path(str(source)).stem if not is_url(source) else "bfcl"
    return doc.name, doc.data, sanitize_toolkit(stem)


def import_bfcl(
    source: str | Path, toolkit: str | None = None, budget_tokens: int | None = None, oversize: Oversize = "trim"
) -> ImportResult:
    """Import BFCL function docs: a multi-turn API class of the wheel, or a doc file."""
    name, entries, default_toolkit = _entries(source)
    toolkit = toolkit or default_toolkit
    result = ImportResult(entries=len(entries))
    candidates = []
    for i, entry in enumerate(entries):
        label = f"{toolkit}[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
            result.skip("missing_name", label)
            continue
        tool = candidate(
            result,
            toolkit=toolkit,
            name=entry["name"],
            description=entry.get("description") if isinstance(entry.get("description"), str) else "",
            parameters=json_schema(entry.get("parameters") or {"type": "dict", "properties": {}}),
            response=json_schema(entry["response"]) if isinstance(entry.get("response"), dict) else None,
            source=name,
        )
        if tool is not None:
            candidates.append(tool)
    normalize(candidates, result, budget_tokens, oversize)
    return result
