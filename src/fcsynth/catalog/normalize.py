"""Make imported tools catalog-ready: valid names, unique per toolkit, metaschema-valid
schemas, and within the prompt budget.

Token estimate (no tokenizer needed, stable across models): a tool costs
`ceil(chars / 3)` tokens, where `chars` is the length of its OpenAI tool entry plus its
response schema as compact JSON. Measured with the SmolLM2 tokenizer on the shared
OpenAPI specs, compact JSON schemas average about 3.3-3.8 characters per token, so the
estimate errs on the large side.

Oversize tools (`catalog.oversize`, default `trim`): `skip` drops them (reason
`oversize`); `trim` cuts, only as far as needed: examples/titles, descriptions inside the
response schema, descriptions of nested parameters, the response schema, all parameter
descriptions, the tool description beyond 300 characters (a trailing BODY_OPTIONAL_NOTE is
kept), then nesting depth of the parameters (deepest first; a pruned subschema keeps its
`type`/`enum`/`format` and its required properties), then optional top-level parameters
(largest first). A required parameter is never cut. A trimmed tool is flagged
`oversize_trimmed`; one whose required parameters alone do not fit is skipped as
`oversize_untrimmable` (a tool larger than the budget cannot be put in a generation
prompt, so keeping it would only move the failure to a later stage).

Before any copy, a schema whose shared subschemas would expand past `MAX_EXPANDED_CHARS`
characters, or past `EXPANSION_BUDGET_FACTOR` times the prompt budget when one applies,
has its nesting cut (`expansion_capped`): copying and trimming megabytes of JSON that the
budget will throw away is what made dense specs slow.
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
from fcsynth.control_tokens import CONTROL_TOKEN, neutralize
from fcsynth.schema_keywords import DEFINITION_KEYS, SCHEMA_KEYS, SCHEMA_LIST_KEYS, SCHEMA_MAP_KEYS
from fcsynth.schema_regex import PatternError, check_schema, compiled
from fcsynth.tools import TOOL_NAME_RE, Tool

CHARS_PER_TOKEN = 3
# Inlined refs share subschemas, so a spec that reuses big schemas at many depths can
# expand to gigabytes of JSON; past this size a schema's nesting is cut before it is copied.
MAX_EXPANDED_CHARS = 4_000_000
EXPANSION_BUDGET_FACTOR = 2
MAX_NAME = 64
TRIMMED_DESCRIPTION_CHARS = 300
Oversize = Literal["skip", "trim"]
BODY_OPTIONAL_NOTE = "(The request body is optional: its required fields are needed only when a body is sent.)"

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
        elif key in _ANY_VALUE or (key in _STRING_VALUE and isinstance(value, str)) or (key in _LIST_VALUE and isinstance(value, list)):
            shallow[key] = _PLACEHOLDER.get(key, "")  # any such value passes: keep the cache key small and shared
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
# Keywords whose value the metaschema accepts whatever it is (of the tested type).
_ANY_VALUE = frozenset({"default", "const"})
_STRING_VALUE = frozenset({"description", "title", "$comment"})
_LIST_VALUE = frozenset({"examples", "enum"})
_PLACEHOLDER = {"default": 0, "const": 0, "examples": [], "enum": []}


@functools.lru_cache(maxsize=16384)
def _shallow_error(text: str) -> tuple[str, str] | None:
    try:
        # regexes compile on the engine that later runs them (ECMA-262 classes such as \\p{L} included)
        check_schema(jsonschema.Draft202012Validator, json.loads(text))
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
    the returned list (also appended to `result.tools`) or counted in `result.skipped`."""
    kept: list[Tool] = []
    cap = MAX_EXPANDED_CHARS
    if budget_tokens is not None:
        cap = min(cap, EXPANSION_BUDGET_FACTOR * budget_tokens * CHARS_PER_TOKEN)
    sizer = _Sizer()  # shared: the tools of one spec share their inlined subschemas
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


def _prepare(tool: Tool, result: ImportResult, label: str, cap: int, sizer: _Sizer) -> Tool | None:
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
    capped = _cap_expansion(parameters, cap, sizer), _cap_expansion(response, cap, sizer)
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
        _drop_unusable_patterns(schema, result, label)
    return dataclasses.replace(tool, name=name, parameters=parameters, response=response, description=description)


def _usable(pattern: str) -> bool:
    try:
        compiled(pattern)
    except PatternError:
        return False
    return True


def _drop_unusable_patterns(schema: Any, result: ImportResult, label: str) -> None:
    """Remove, in place, each `pattern` and `patternProperties` regex that cannot be compiled
    (flagged `pattern_dropped`): the keyword goes, the tool stays."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("pattern"), str) and not _usable(node["pattern"]):
            result.flag("pattern_dropped", f"{label}: {node.pop('pattern')[:80]!r}")
        if isinstance(node.get("patternProperties"), dict):
            for key in [k for k in node["patternProperties"] if not _usable(k)]:
                del node["patternProperties"][key]
                result.flag("pattern_dropped", f"{label}: {key[:80]!r}")
        stack.extend(node.values())


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


def _skeleton(node: Any, depth: int = 0, memo: dict[tuple[int, int], Any] | None = None) -> Any:
    """What a pruned subschema keeps: its type, enum, format and const, and (a few levels
    down) its required properties, so trimming never drops a required field."""
    if not isinstance(node, dict):
        return node
    memo = {} if memo is None else memo
    key = (id(node), depth)
    if key in memo:
        return memo[key]
    keep = {k: node[k] for k in ("type", "enum", "format", "const") if k in node}
    props = node.get("properties") if isinstance(node.get("properties"), dict) else {}
    required = [r for r in node.get("required", []) if r in props] if isinstance(node.get("required"), list) else []
    if required and depth < 8:
        keep.setdefault("type", "object")
        keep["properties"] = {r: _skeleton(props[r], depth + 1, memo) for r in required}
        keep["required"] = required
    memo[key] = keep
    return keep


def _prune_below(max_depth: int) -> Callable[[Any], Any]:
    """A function that cuts a schema's nesting at `max_depth` (deeper subschemas become
    their `_skeleton`). A subschema shared by many places is pruned once per depth
    (memoized by identity): the result shares it too, so the cost follows the distinct
    (subschema, depth) pairs, not the expanded size. Callers copy the result before changing it."""

    def prune_root(root: Any) -> Any:
        memo: dict[tuple[int, int], Any] = {}
        skeletons: dict[tuple[int, int], Any] = {}

        def prune(node: Any, depth: int) -> Any:
            if not isinstance(node, dict):
                return node
            if depth >= max_depth:
                return _skeleton(node, 0, skeletons)
            key = (id(node), depth)
            if key not in memo:
                memo[key] = {
                    k: ({n: prune(v, depth + 1) for n, v in val.items()} if k in _MAP_KEYS and isinstance(val, dict)
                        else [prune(v, depth + 1) for v in val] if k in _LIST_KEYS and isinstance(val, list)
                        else prune(val, depth + 1)
                        if isinstance(val, dict) and k in ("items", "additionalProperties", "not", "contains")
                        else val)
                    for k, val in node.items()
                }
            return memo[key]

        return prune(root, 0)

    return prune_root


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


def _json_chars(value: Any) -> int:
    """About the JSON length of a keyword's value (strings without escapes: the sizer estimates)."""
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, (bool, int, float)) or value is None:
        return len(str(value))
    return len(json.dumps(value, default=str))


class _Sizer:
    """About how many characters a schema takes as JSON once shared subschemas are written
    out. Walks the schema level by level, each shared object once per level with its
    multiplicity, and stops once the cap is passed: the cost follows what fits, not the
    (possibly exponential) expansion."""

    def __init__(self) -> None:
        self._info: dict[int, tuple[int, list[tuple[int, Any]]]] = {}
        self._alive: list[Any] = []  # measured objects stay alive, so their ids stay unique

    def _node(self, node: dict[str, Any]) -> tuple[int, list[tuple[int, Any]]]:
        key = id(node)
        if key not in self._info:
            kids = _children(node)
            kid_ids = {id(v) for _, v in kids}
            own = sum(
                len(k) + 4 + (0 if k in _MAP_KEYS or k in _LIST_KEYS or id(v) in kid_ids else _json_chars(v))
                for k, v in node.items()
            )
            self._info[key] = (own, [(len(str(name)) + 4, child) for name, child in kids])
            self._alive.append(node)
        return self._info[key]

    def fitting_depth(self, schema: Any, cap: int) -> int | None:
        """None when `schema` fits in `cap` characters, else the deepest nesting cut
        (for `_prune_below`) that keeps it about within `cap` (at least 1)."""
        level: dict[int, tuple[Any, int]] = {id(schema): (schema, 1)} if isinstance(schema, dict) else {}
        total, depth = 0, 0
        while level:
            nxt: dict[int, tuple[Any, int]] = {}
            for node, mult in level.values():
                own, kids = self._node(node)
                total += own * mult
                for extra, child in kids:
                    if isinstance(child, dict):
                        seen = nxt.get(id(child))
                        nxt[id(child)] = (child, (seen[1] if seen else 0) + mult)
                        total += extra * mult
                    else:
                        total += (extra + _json_chars(child)) * mult
            if total > cap:
                return max(depth, 1)
            depth += 1
            level = nxt
        return None


def _cap_expansion(schema: Any, cap: int = MAX_EXPANDED_CHARS, sizer: _Sizer | None = None) -> Any:
    """`schema` with its nesting cut at the deepest level that keeps it under `cap` characters."""
    depth = (sizer or _Sizer()).fitting_depth(schema, cap)
    return schema if depth is None else _prune_below(depth)(schema)


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


def cut_description(text: str) -> str:
    """The tool description cut to TRIMMED_DESCRIPTION_CHARS, keeping a trailing
    BODY_OPTIONAL_NOTE (it says how to read the required fields)."""
    if len(text) <= TRIMMED_DESCRIPTION_CHARS:
        return text
    note = BODY_OPTIONAL_NOTE if text.endswith(BODY_OPTIONAL_NOTE) else ""
    head = text[: len(text) - len(note)] if note else text
    return head[: max(0, TRIMMED_DESCRIPTION_CHARS - len(note))].rstrip() + (" " + note if note else "")


def _strip(tool: Tool, level: int) -> Tool:
    """Trim levels 1-6 (cumulative): annotations; response descriptions; nested parameter
    descriptions; the response; all parameter descriptions; the long tool description."""
    descr = frozenset({"description"})
    both = _ANNOTATIONS | descr

    def params_fn(s: dict[str, Any], d: int) -> dict[str, Any]:
        min_depth = 2 if level < 5 else 1
        return _drop(both if level >= 3 and d >= min_depth else _ANNOTATIONS)(s, d)

    response = None if level >= 4 or tool.response is None else _map_schema(tool.response, _drop(both if level >= 2 else _ANNOTATIONS))
    return dataclasses.replace(
        tool,
        parameters=_map_schema(tool.parameters, params_fn),
        response=response,
        description=cut_description(tool.description) if level >= 6 else tool.description,
    )


def _smallest_fitting(lo: int, hi: int, make: Callable[[int], Tool], budget_tokens: int, larger_is_smaller: bool) -> Tool | None:
    """Binary search over a monotone family of trims for the least-cut one that fits."""
    best: Tool | None = None
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = make(mid)
        if tool_tokens(candidate) <= budget_tokens:
            best = candidate
            lo, hi = (lo, mid - 1) if larger_is_smaller else (mid + 1, hi)
        else:
            lo, hi = (mid + 1, hi) if larger_is_smaller else (lo, mid - 1)
    return best


def _drop_optional(tool: Tool, budget_tokens: int) -> Tool | None:
    """Leave out optional top-level parameters, largest first, until the tool fits."""
    params = tool.parameters
    props = dict(params.get("properties") or {})
    required = set(params.get("required") or [])
    over = (tool_tokens(tool) - budget_tokens) * CHARS_PER_TOKEN
    for name, size in sorted(((n, len(json.dumps(v)) + len(n) + 4) for n, v in props.items() if n not in required),
                             key=lambda item: -item[1]):
        if over <= 0:
            break
        del props[name]
        over -= size
    trimmed = dataclasses.replace(tool, parameters={**params, "properties": props})
    while tool_tokens(trimmed) > budget_tokens:
        optional = [n for n in trimmed.parameters["properties"] if n not in required]
        if not optional:
            return None
        props = {n: v for n, v in trimmed.parameters["properties"].items() if n != optional[-1]}
        trimmed = dataclasses.replace(trimmed, parameters={**trimmed.parameters, "properties": props})
    return trimmed


def trim(tool: Tool, budget_tokens: int) -> Tool | None:
    """The tool cut down to fit `budget_tokens` (see the module docstring), or None when
    even its required parameters alone do not fit."""
    if tool_tokens(stripped := _strip(tool, 6)) <= budget_tokens:
        return _smallest_fitting(1, 6, lambda level: _strip(tool, level), budget_tokens, larger_is_smaller=True)
    depth = _schema_depth(stripped.parameters)
    pruned = _smallest_fitting(
        1, depth - 1, lambda d: dataclasses.replace(stripped, parameters=_prune_below(d)(stripped.parameters)),
        budget_tokens, larger_is_smaller=False,
    )
    if pruned is not None:
        return pruned
    return _drop_optional(dataclasses.replace(stripped, parameters=_prune_below(1)(stripped.parameters)), budget_tokens)
