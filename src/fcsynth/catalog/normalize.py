"""Make imported tools catalog-ready: valid names, unique per toolkit, metaschema-valid
schemas, and within the prompt budget.

Token estimate (no tokenizer needed, stable across models): a tool costs
`ceil(chars / 3)` tokens, where `chars` is the length of its OpenAI tool entry plus its
response schema as compact JSON. Measured with the SmolLM2 tokenizer on the shared
OpenAPI specs, compact JSON schemas average about 3.3-3.8 characters per token, so the
estimate errs on the large side.

Oversize tools (`catalog.oversize`): `skip` drops them (reason `oversize`); `trim` removes,
in order and only as far as needed: examples/titles, descriptions inside the response
schema, descriptions of nested parameters, the response schema, all parameter
descriptions, the tool description beyond 300 characters, then nesting depth of the
parameters (deepest first; a pruned subschema keeps its `type`). A trimmed tool is
flagged `oversize_trimmed`; one still too large is skipped as `oversize_untrimmable`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable
from typing import Any, Literal

import jsonschema
import jsonschema.exceptions

from fcsynth.catalog.result import ImportResult
from fcsynth.catalog.schema import DanglingRef, convert_standalone
from fcsynth.schema_keywords import DEFINITION_KEYS, SCHEMA_KEYS, SCHEMA_LIST_KEYS, SCHEMA_MAP_KEYS
from fcsynth.tools import TOOL_NAME_RE, Tool

CHARS_PER_TOKEN = 3
# Inlined refs share subschemas, so a spec that reuses big schemas at many depths can
# expand to gigabytes of JSON; past this size a schema's nesting is cut before it is copied.
MAX_EXPANDED_CHARS = 4_000_000
MAX_NAME = 64
TRIMMED_DESCRIPTION_CHARS = 300
Oversize = Literal["skip", "trim"]

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


def estimate_tokens(value: Any) -> int:
    """Estimated prompt tokens of a JSON value (see the module docstring)."""
    return math.ceil(len(json.dumps(value, separators=(",", ":"), ensure_ascii=False)) / CHARS_PER_TOKEN)


def tool_tokens(tool: Tool) -> int:
    """Estimated prompt tokens of a tool: its OpenAI entry plus its response schema."""
    return estimate_tokens(tool.to_openai()) + (estimate_tokens(tool.response) if tool.response is not None else 0)


def schema_error(schema: Any, path: str = "") -> str | None:
    """Why `schema` is not a valid JSON Schema (draft 2020-12 metaschema), or None.

    Each subschema is checked on its own, its children replaced by `true`, and the checks
    are cached by JSON text: specs repeat the same schemas many times, and a whole-schema
    metaschema check (draft 2020-12 resolves `$dynamicRef` at every level) is slow.
    """
    where = path or "<root>"
    if isinstance(schema, bool):
        return None
    if not isinstance(schema, dict):
        return f"at {where}: a schema must be an object or a boolean"
    if isinstance(schema.get("$ref"), str):
        return f"at {where}: unresolved $ref {schema['$ref']!r}"
    shallow: dict[str, Any] = {}
    children: list[tuple[str, Any]] = []
    for key, value in schema.items():
        if key in _SUB_MAP and isinstance(value, dict):
            shallow[key] = dict.fromkeys(value, True)
            children += [(f"{key}/{name}", sub) for name, sub in value.items()]
        elif key in _SUB_LIST and isinstance(value, list):
            shallow[key] = [True] * len(value)
            children += [(f"{key}/{i}", sub) for i, sub in enumerate(value)]
        elif key in _SUB_ONE and isinstance(value, (dict, bool)):
            shallow[key] = True
            children.append((key, value))
        else:
            shallow[key] = value
    error = _shallow_error(json.dumps(shallow, sort_keys=True))
    if error:
        return f"at {path + error[0] or '<root>'}: {error[1]}"
    for child_path, child in children:
        error = schema_error(child, f"{path}/{child_path}")
        if error:
            return error
    return None


_SUB_ONE = SCHEMA_KEYS
_SUB_MAP = SCHEMA_MAP_KEYS | DEFINITION_KEYS
_SUB_LIST = SCHEMA_LIST_KEYS


@functools.lru_cache(maxsize=16384)
def _shallow_error(text: str) -> tuple[str, str] | None:
    try:
        jsonschema.Draft202012Validator.check_schema(json.loads(text))
    except jsonschema.exceptions.SchemaError as err:
        return "".join(f"/{p}" for p in err.absolute_path), err.message[:160]
    return None


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
    oversize: Oversize = "skip",
) -> list[Tool]:
    """Validate, budget-check and uniquely name `candidates`; every entry ends up either in
    the returned list (also appended to `result.tools`) or counted in `result.skipped`."""
    kept: list[Tool] = []
    for tool in candidates:
        label = f"{tool.toolkit}/{tool.operation or tool.name}"
        checked = _prepare(tool, result, label)
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


def _prepare(tool: Tool, result: ImportResult, label: str) -> Tool | None:
    """Names and shapes (cheap checks); schemas become private JSON copies."""
    if not TOOL_NAME_RE.match(tool.toolkit):
        result.skip("invalid_toolkit_name", f"{label}: toolkit {tool.toolkit!r}")
        return None
    name = sanitize_name(tool.name) if not TOOL_NAME_RE.match(tool.name) else tool.name
    parameters = as_parameters(tool.parameters)
    if parameters is None:
        result.skip("parameters_not_object", f"{label}: parameters must be a JSON Schema object")
        return None
    response = tool.response
    if _expanded_chars(parameters, {}) > MAX_EXPANDED_CHARS or _expanded_chars(response, {}) > MAX_EXPANDED_CHARS:
        parameters, response = _cap_expansion(parameters), _cap_expansion(response)
        result.flag("expansion_capped", f"{label}: nesting cut to keep the schema under {MAX_EXPANDED_CHARS} characters")
    try:
        parameters = json.loads(json.dumps(parameters))
        response = json.loads(json.dumps(response)) if response is not None else None
    except (TypeError, ValueError) as err:
        result.skip("not_json", f"{label}: {err}")
        return None
    description = tool.description.strip() if isinstance(tool.description, str) else ""
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


# --- trimming -------------------------------------------------------------------------

_ANNOTATIONS = frozenset({"examples", "example", "title", "$comment", "deprecated"})
_MAP_KEYS = _SUB_MAP
_LIST_KEYS = SCHEMA_LIST_KEYS


def _map_schema(node: Any, fn: Callable[[dict[str, Any], int], dict[str, Any]], depth: int = 0) -> Any:
    """Rebuild a schema bottom-up, applying `fn(schema, depth)` to every subschema."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _MAP_KEYS and isinstance(value, dict):
            out[key] = {k: _map_schema(v, fn, depth + 1) for k, v in value.items()}
        elif key in _LIST_KEYS and isinstance(value, list):
            out[key] = [_map_schema(v, fn, depth + 1) for v in value]
        elif isinstance(value, dict) and key in ("items", "additionalProperties", "not", "contains", "if", "then", "else"):
            out[key] = _map_schema(value, fn, depth + 1)
        else:
            out[key] = value
    return fn(out, depth)


def _drop(keys: frozenset[str], min_depth: int = 0) -> Callable[[dict[str, Any], int], dict[str, Any]]:
    return lambda s, d: {k: v for k, v in s.items() if k not in keys} if d >= min_depth else s


def _prune_below(max_depth: int) -> Callable[[Any], Any]:
    def prune(node: Any, depth: int = 0) -> Any:
        if not isinstance(node, dict):
            return node
        if depth >= max_depth:
            keep = {k: node[k] for k in ("type", "enum", "format") if k in node}
            return keep
        return {
            k: ({n: prune(v, depth + 1) for n, v in val.items()} if k in _MAP_KEYS and isinstance(val, dict)
                else [prune(v, depth + 1) for v in val] if k in _LIST_KEYS and isinstance(val, list)
                else prune(val, depth + 1) if isinstance(val, dict) and k in ("items", "additionalProperties", "not", "contains")
                else val)
            for k, val in node.items()
        }

    return prune


def _children(node: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in node.items():
        if key in _MAP_KEYS and isinstance(value, dict):
            out.extend(value.items())
        elif key in _LIST_KEYS and isinstance(value, list):
            out.extend((key, v) for v in value)
        elif isinstance(value, dict) and key in ("items", "additionalProperties", "not", "contains"):
            out.append((key, value))
    return out


def _expanded_chars(node: Any, memo: dict[tuple[int, int], int], depth: int = 1 << 30) -> int:
    """About how many characters `node` takes as JSON once shared subschemas are written
    out, with nesting cut at `depth` (memoized per shared object, so it is cheap)."""
    if not isinstance(node, dict):
        return len(json.dumps(node)) if not isinstance(node, list) else sum(_expanded_chars(v, memo, depth) + 1 for v in node) + 2
    key = (id(node), depth)
    if key not in memo:
        if depth <= 0:
            memo[key] = 40
        else:
            nested = {id(v) for _, v in _children(node)}
            own = sum(len(k) + 4 + (0 if id(v) in nested or k in _MAP_KEYS or k in _LIST_KEYS else _expanded_chars(v, memo))
                      for k, v in node.items())
            memo[key] = own + sum(len(name) + 4 + _expanded_chars(child, memo, depth - 1) for name, child in _children(node))
    return memo[key]


def _cap_expansion(schema: Any) -> Any:
    """`schema` with its nesting cut at the deepest level that keeps it under the cap."""
    if _expanded_chars(schema, {}) <= MAX_EXPANDED_CHARS:
        return schema
    memo: dict[tuple[int, int], int] = {}
    depth = 1
    while depth < 64 and _expanded_chars(schema, memo, depth + 1) <= MAX_EXPANDED_CHARS:
        depth += 1
    return _prune_below(depth)(schema)


def _schema_depth(node: Any) -> int:
    if not isinstance(node, dict):
        return 0
    subs: list[Any] = []
    for key, value in node.items():
        if key in _MAP_KEYS and isinstance(value, dict):
            subs.extend(value.values())
        elif key in _LIST_KEYS and isinstance(value, list):
            subs.extend(value)
        elif isinstance(value, dict) and key in ("items", "additionalProperties", "not", "contains"):
            subs.append(value)
    return 1 + max((_schema_depth(s) for s in subs), default=0)


def trim(tool: Tool, budget_tokens: int) -> Tool | None:
    """The tool cut down to fit `budget_tokens` (see the module docstring), or None."""
    descr = frozenset({"description"})
    steps: list[Callable[[Tool], Tool]] = [
        lambda t: dataclasses.replace(t, parameters=_map_schema(t.parameters, _drop(_ANNOTATIONS)),
                                      response=_map_schema(t.response, _drop(_ANNOTATIONS)) if t.response else t.response),
        lambda t: dataclasses.replace(t, response=_map_schema(t.response, _drop(descr)) if t.response else t.response),
        lambda t: dataclasses.replace(t, parameters=_map_schema(t.parameters, _drop(descr, min_depth=2))),
        lambda t: dataclasses.replace(t, response=None),
        lambda t: dataclasses.replace(t, parameters=_map_schema(t.parameters, _drop(descr, min_depth=1))),
        lambda t: dataclasses.replace(t, description=t.description[:TRIMMED_DESCRIPTION_CHARS]),
    ]
    for step in steps:
        tool = step(tool)
        if tool_tokens(tool) <= budget_tokens:
            return tool
    for depth in range(_schema_depth(tool.parameters) - 1, 0, -1):
        pruned = dataclasses.replace(tool, parameters=_prune_below(depth)(tool.parameters))
        if tool_tokens(pruned) <= budget_tokens:
            return pruned
    return None
