"""Make imported tools catalog-ready: valid names, unique per toolkit, metaschema-valid schemas, within the prompt budget."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any, Literal

from fcsynth.catalog.naming import sanitize_name, unique_names
from fcsynth.catalog.refs import DanglingRef
from fcsynth.catalog.result import ImportResult
from fcsynth.catalog.schema import convert_standalone
from fcsynth.catalog.schema_validity import drop_unusable_patterns, schema_error
from fcsynth.catalog.tool_size import CHARS_PER_TOKEN, Sizer, tool_tokens
from fcsynth.catalog.trim import cap_expansion, trim
from fcsynth.control_tokens import CONTROL_TOKEN, neutralize
from fcsynth.tools import TOOL_NAME_RE, Tool

# Inlined refs share subschemas, so a spec that reuses big schemas at many depths can
# expand to gigabytes of JSON; past this size a schema's nesting is cut before it is copied.
MAX_EXPANDED_CHARS = 4_000_000
EXPANSION_BUDGET_FACTOR = 2
Oversize = Literal["skip", "trim"]


def as_parameters(schema: Any) -> dict[str, Any] | None:
    """Coerce a tool's input schema into an object schema (None when it is not one)."""
    if schema is None or schema == {}:
        return {"type": "object", "properties": {}}
    if not isinstance(schema, dict):
        return None
    if "type" not in schema and ("properties" in schema or not any(k in schema for k in ("anyOf", "oneOf", "allOf", "enum", "const", "items"))):
        return {"type": "object", **schema}
    if schema.get("type") != "object":
        return None
    return schema


def candidate(
    result: ImportResult,
    *,
    toolkit: str,
    name: str,
    description: str,
    parameters: Any,
    response: Any = None,
    source: str = "",
    operation: str | None = None,
) -> Tool | None:
    """A tool from a self-contained entry (MCP, OpenAI, Funcdex, catalog record): its
    schemas' `$ref`s into themselves are inlined and OpenAPI-isms converted. A dangling ref
    in the parameters skips the entry (`dangling_ref`); in the response it drops the
    response schema (`dangling_ref_response_dropped`)."""
    label = f"{toolkit}/{operation or name}"
    uri = f"urn:fcsynth:{toolkit}:{name}"
    if parameters is not None and not isinstance(parameters, dict):
        # a string or list is no schema: it must not silently become a no-argument tool
        result.skip("parameters_not_object", f"{label}: parameters is a {type(parameters).__name__}, not a JSON Schema object")
        return None
    try:
        parameters, cycles = convert_standalone(parameters, uri + ":parameters", "request") if parameters is not None else (None, [])
    except DanglingRef as err:
        result.skip("dangling_ref", f"{label}: {err}")
        return None
    if response is not None:
        try:
            response, response_cycles = convert_standalone(response, uri + ":response", "response")
            cycles += response_cycles
        except DanglingRef as err:
            result.flag("dangling_ref_response_dropped", f"{label}: {err}")
            response = None
    for ref in cycles:
        result.flag("ref_cycle_broken", f"{label}: {ref}")
    return Tool(toolkit=toolkit, name=name, description=description or "", parameters=parameters,
                response=response, source=source, operation=operation)


def normalize(
    candidates: Iterable[Tool],
    result: ImportResult,
    budget_tokens: int | None = None,
    oversize: Oversize = "trim",
) -> list[Tool]:
    """Validate, budget-check and uniquely name `candidates`; every entry ends up either in
    the returned list (also appended to `result.tools`) or counted in `result.skipped`.

    Oversize tools (`catalog.oversize`, default `trim`): `skip` drops them (reason
    `oversize`); `trim` cuts them (see trim) and flags them `oversize_trimmed`; one whose
    required parameters alone do not fit is skipped as `oversize_untrimmable` (a tool larger
    than the budget cannot be put in a generation prompt, so keeping it would only move the
    failure to a later stage).

    Before any copy, a schema whose shared subschemas would expand past `MAX_EXPANDED_CHARS`
    characters, or past `EXPANSION_BUDGET_FACTOR` times the prompt budget when one applies,
    has its nesting cut (`expansion_capped`): copying and trimming megabytes of JSON that the
    budget will throw away is what made dense specs slow.
    """
    kept: list[Tool] = []
    cap = MAX_EXPANDED_CHARS
    if budget_tokens is not None:
        cap = min(cap, EXPANSION_BUDGET_FACTOR * budget_tokens * CHARS_PER_TOKEN)
    sizer = Sizer()  # shared: the tools of one spec share their inlined subschemas
    for tool in candidates:
        label = f"{tool.toolkit}/{tool.operation or tool.name}"
        checked = _prepare(tool, result, label, cap, sizer)
        if checked is None:
            continue
        if budget_tokens is not None and tool_tokens(checked) > budget_tokens:
            size = tool_tokens(checked)
            if oversize == "skip":
                result.skip("oversize", f"{label} (~{size} tokens)")
                continue
            trimmed = trim(checked, budget_tokens)
            if trimmed is None:
                result.skip("oversize_untrimmable", f"{label} (~{size} tokens)")
                continue
            result.flag("oversize_trimmed", f"{label} (~{size} -> ~{tool_tokens(trimmed)} tokens)")
            checked = trimmed
        checked = _validate(checked, result, label)
        if checked is not None:
            kept.append(checked)
    kept = unique_names(kept, result)
    result.tools.extend(kept)
    return kept


def _prepare(tool: Tool, result: ImportResult, label: str, cap: int, sizer: Sizer) -> Tool | None:
    """Names and shapes (cheap checks); schemas become private JSON copies."""
    if not TOOL_NAME_RE.fullmatch(tool.toolkit):
        result.skip("invalid_toolkit_name", f"{label}: toolkit {tool.toolkit!r}")
        return None
    parameters = as_parameters(tool.parameters)
    if parameters is None:
        result.skip("parameters_not_object", f"{label}: parameters must be a JSON Schema object")
        return None
    name = tool.name
    if not TOOL_NAME_RE.fullmatch(name):
        name = sanitize_name(name)
        result.flag("renamed_invalid_name", f"{label}: {tool.name!r} -> {name}")
        result.renamed.append({"toolkit": tool.toolkit, "from": tool.name, "to": name, "operation": tool.operation or ""})
    response = tool.response
    capped = cap_expansion(parameters, cap, sizer), cap_expansion(response, cap, sizer)
    if capped[0] is not parameters or capped[1] is not response:
        parameters, response = capped
        result.flag("expansion_capped", f"{label}: nesting cut to keep the schema under {cap} characters")
    description = tool.description.strip() if isinstance(tool.description, str) else ""
    try:
        text = json.dumps([description, parameters, response], ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as err:
        result.skip("not_json", f"{label}: {type(err).__name__}: {err}"[:300])
        return None
    if CONTROL_TOKEN.search(text):
        text = neutralize(text)  # the break follows a token's `<` or `[`: never inside an escape
        result.flag("control_tokens_neutralized", label)
    description, parameters, response = json.loads(text)
    for schema in (parameters, response):
        drop_unusable_patterns(schema, result, label)
    return dataclasses.replace(tool, name=name, parameters=parameters, response=response, description=description)


def _validate(tool: Tool, result: ImportResult, label: str) -> Tool | None:
    """Metaschema checks: invalid parameters skip the tool, an invalid response is dropped."""
    error = schema_error(tool.parameters)
    if error:
        result.skip("invalid_schema", f"{label}: parameters {error}")
        return None
    if tool.response is not None:
        error = schema_error(tool.response)
        if error:
            result.flag("invalid_response_dropped", f"{label}: response {error}")
            return dataclasses.replace(tool, response=None)
    return tool
