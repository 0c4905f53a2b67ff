"""The Funcdex flat format -> tools.

A Funcdex file is a JSON list (or JSON Lines) of records `{"toolkit_name", "tool_id",
"tool_description", "tool_input_parameters", "tool_response_parameters"}` where the two
parameter fields are JSON-encoded strings (plain objects are accepted too) of
`{param: {"type": ..., "required": bool, ...}}`. Each becomes an object schema: `type`
(Python spellings such as `str`/`int`/`list` are mapped to JSON Schema types; an unknown
type leaves the parameter unconstrained, flagged `funcdex_unknown_type`), other keys
(`description`, `enum`, `items`, `default`, ...) kept, `required: true` collected into the
object's `required`. Records keep their own `toolkit_name` unless `--toolkit` is given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fcsynth.catalog.naming import sanitize_toolkit
from fcsynth.catalog.normalize import Oversize, candidate, normalize
from fcsynth.catalog.result import ImportResult
from fcsynth.catalog.source import load_document
from fcsynth.errors import FcsynthError

JSON_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object", "null"})
TYPE_ALIASES = {
    "str": "string", "text": "string", "int": "integer", "long": "integer", "float": "number", "double": "number",
    "bool": "boolean", "list": "array", "dict": "object", "map": "object", "none": "null",
}


class _BadParams(ValueError):
    pass


def params_schema(raw: Any, result: ImportResult, label: str) -> dict[str, Any]:
    """The object schema of a Funcdex `{param: {type, required}}` map (JSON string or object)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as err:
            raise _BadParams(f"not valid JSON: {err}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _BadParams("expected a JSON object of {param: {type, required}}")
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, spec in raw.items():
        if not isinstance(spec, dict):
            spec = {"type": spec} if isinstance(spec, str) else {}
        schema = {k: v for k, v in spec.items() if k != "required"}
        typ = schema.get("type")
        if isinstance(typ, str) and typ not in JSON_TYPES:
            mapped = TYPE_ALIASES.get(typ.lower())
            if mapped is None:
                result.flag("funcdex_unknown_type", f"{label}: {name}: {typ!r}")
                schema.pop("type")
            else:
                schema["type"] = mapped
        properties[name] = schema
        if spec.get("required") is True:
            required.append(name)
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    return out


def import_funcdex(
    source: str | Path, toolkit: str | None = None, budget_tokens: int | None = None, oversize: Oversize = "trim"
) -> ImportResult:
    """Import a Funcdex tool file (path or URL)."""
    doc = load_document(source)
    records = doc.data.get("tools") if isinstance(doc.data, dict) else doc.data
    if not isinstance(records, list):
        raise FcsynthError(f"{doc.name}: not a Funcdex file (expected a list of records with `tool_id`)")
    result = ImportResult(entries=len(records))
    doc.report(result)
    candidates = []
    for i, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("tool_id"), str) or not record["tool_id"].strip():
            result.skip("missing_name", f"{doc.name}[{i}]: no tool_id")
            continue
        kit = toolkit or sanitize_toolkit(str(record.get("toolkit_name") or Path(doc.name).stem))
        label = f"{kit}/{record['tool_id']}"
        try:
            parameters = params_schema(record.get("tool_input_parameters"), result, label)
        except _BadParams as err:
            result.skip("invalid_parameters", f"{label}: tool_input_parameters {err}")
            continue
        try:
            response = params_schema(record.get("tool_response_parameters"), result, label) if record.get("tool_response_parameters") else None
        except _BadParams as err:
            result.flag("invalid_response_dropped", f"{label}: tool_response_parameters {err}")
            response = None
        description = record.get("tool_description")
        tool = candidate(
            result,
            toolkit=kit,
            name=record["tool_id"],
            description=description if isinstance(description, str) else "",
            parameters=parameters,
            response=response,
            source=doc.name,
            operation=record["tool_id"],
        )
        if tool is not None:
            candidates.append(tool)
    normalize(candidates, result, budget_tokens, oversize)
    return result
