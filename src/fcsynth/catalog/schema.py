"""Turn a schema from a tool source into a self-contained JSON Schema (draft 2020-12)."""

from __future__ import annotations

from typing import Any, Literal

import referencing

from fcsynth.catalog.refs import lookup, make_resolver
from fcsynth.schema_keywords import SCHEMA_KEYS, SCHEMA_LIST_KEYS, SCHEMA_MAP_KEYS, merge_all_of

Direction = Literal["request", "response"]
_NONE: frozenset[int] = frozenset()
# Schema nodes one cycle-exact conversion may visit before the converter switches to bounded
# expansion (the shared specs need under 1,000; a Stripe-like spec needs millions).
MAX_WORK = 5_000
MAX_REF_NESTING = 32  # refs inlined inside each other; deeper also switches to bounded expansion
BOUNDED_REF_DEPTH = 3

# `$defs`/`definitions` are only ref targets: once every ref is inlined they are dropped.
DROP_KEYS = frozenset(
    {"xml", "externalDocs", "discriminator", "$schema", "$id", "$anchor", "$dynamicAnchor", "$defs", "definitions"}
)


class _TooMuchWork(Exception):
    pass


class SchemaConverter:
    """Inline refs and convert one source's schemas; remembers which refs were cycles.

    - Every `$ref` is resolved with the `referencing` library (JSON pointers with
      percent-encoded and `~0`/`~1` segments, refs into `#/paths/...`, chains of refs, refs into
      other files or URLs relative to the source) and inlined. Keywords next to a `$ref`
      (typically `description`) are laid over the resolved schema. A document loaded from an
      http(s) URL may only refer to http(s) documents: any other `$ref` in it (`file:`, a local
      path, `ftp:`, ...) raises fcsynth.catalog.url_policy.RefusedRef, a one-line error that stops
      the import (see fcsynth.catalog.url_policy).
    - A `$ref` cycle (a schema that contains itself, e.g. a tree node) is broken: the inner,
      recursive occurrence becomes `{"type": <the target's type, default "object">}` plus the
      target's description. Counted as `ref_cycle_broken`.
    - A `$ref` that points nowhere raises DanglingRef; callers decide (skip the tool, or drop
      an optional response schema) and count it.
    - OpenAPI 3.0 / Swagger 2.0 dialect is converted: `nullable` -> `"null"` in `type`,
      boolean `exclusiveMinimum/Maximum` -> numeric, `type: file` -> binary string,
      `example` -> `examples`, a property-level boolean `required` -> the parent's `required`
      list; vendor extensions (`x-*`), `xml`, `externalDocs` and `discriminator` are dropped.
    - `allOf` is merged into one schema when its parts agree (else it is kept);
      `oneOf`/`anyOf` are kept.
    - Request schemas drop `readOnly` properties, response schemas drop `writeOnly` ones.

    Cost stays linear in the spec: resolved refs and converted ref targets are memoized (a
    target's result is shared, not copied). Memoizing a target is only sound when no cycle was
    cut inside it, so in a spec whose schemas are densely interlinked (Stripe's expandable
    fields) cycle-exact inlining grows exponentially. One conversion that visits more than
    `MAX_WORK` schema nodes (or nests more than `MAX_REF_NESTING` refs) therefore switches the converter to bounded expansion for the
    rest of the spec: a `$ref` is inlined at most `BOUNDED_REF_DEPTH` levels deep, every
    (target, depth) is converted once, and a ref past the depth becomes the same stub as a
    cut cycle (counted in `bounded_refs`).
    """

    def __init__(self, resolver: referencing.Resolver, max_work: int = MAX_WORK) -> None:
        self.resolver = resolver
        self.cycle_refs: dict[str, None] = {}  # the refs whose recursive use was cut (ordered set)
        self.bounded = False  # True once a conversion exceeded `max_work` (see the class docstring)
        self.bounded_refs = 0  # refs stubbed at the depth limit in bounded mode
        self.max_work = max_work
        self._work = 0
        self._memo: dict[tuple[int, Direction], Any] = {}
        self._bounded_memo: dict[tuple[int, Direction, int], Any] = {}
        self._lookups: dict[tuple[str, str], referencing._core.Resolved] = {}

    def convert(self, schema: Any, direction: Direction = "request", resolver: referencing.Resolver | None = None) -> Any:
        """A self-contained draft 2020-12 schema for `schema` (raises DanglingRef)."""
        resolver = resolver or self.resolver
        if not self.bounded:
            self._work = 0
            try:
                return self._convert(schema, resolver, direction, ())[0]
            except _TooMuchWork:
                self.bounded = True
        return self._convert(schema, resolver, direction, (), BOUNDED_REF_DEPTH)[0]

    def _lookup(self, resolver: referencing.Resolver, ref: str) -> referencing._core.Resolved:
        key = (str(getattr(resolver, "_base_uri", "")), ref)
        if key not in self._lookups:
            self._lookups[key] = lookup(resolver, ref)
        return self._lookups[key]

    # Each step returns (schema, hits): `hits` are the enclosing ref targets whose recursive
    # occurrence was stubbed below. A ref target's result with no hits left once its own
    # frame returns does not depend on where it is used, so it is memoized: that keeps big
    # specs (Google APIs refer to the same schemas hundreds of times) fast.
    # `depth` is None in cycle-exact mode, else the ref levels still to inline (bounded mode).
    def _convert(
        self, node: Any, resolver: referencing.Resolver, direction: Direction, stack: tuple[int, ...], depth: int | None = None
    ) -> tuple[Any, frozenset[int]]:
        if isinstance(node, bool):
            return node, _NONE
        if not isinstance(node, dict):
            return {}, _NONE  # a malformed schema (null, a string): accept anything
        if depth is None:
            self._work += 1
            if self._work > self.max_work:
                raise _TooMuchWork
        if isinstance(node.get("$ref"), str):
            return self._convert_ref(node, resolver, direction, stack, depth)
        out: dict[str, Any] = {}
        lifted_required: list[str] = []
        cyclic: frozenset[int] = _NONE
        for key, value in node.items():
            if key.startswith("x-") or key in DROP_KEYS:
                continue
            if key in SCHEMA_MAP_KEYS and isinstance(value, dict):
                converted = {}
                for name, sub in value.items():
                    sub_out, c = self._convert(sub, resolver, direction, stack, depth)
                    cyclic |= c
                    if key == "properties" and isinstance(sub, dict) and sub.get("required") is True:
                        lifted_required.append(name)
                    if key == "properties" and _hidden(sub_out, direction):
                        continue
                    converted[name] = sub_out
                out[key] = converted
            elif key in SCHEMA_LIST_KEYS and isinstance(value, list):
                items = []
                for sub in value:
                    sub_out, c = self._convert(sub, resolver, direction, stack, depth)
                    cyclic |= c
                    items.append(sub_out)
                out[key] = items
            elif key in SCHEMA_KEYS:
                if key == "items" and isinstance(value, list):  # draft 4 tuple form
                    items = []
                    for sub in value:
                        sub_out, c = self._convert(sub, resolver, direction, stack, depth)
                        cyclic |= c
                        items.append(sub_out)
                    out["prefixItems"] = items
                else:
                    out[key], c = self._convert(value, resolver, direction, stack, depth)
                    cyclic |= c
            elif key == "required":
                if isinstance(value, list):
                    out[key] = list(dict.fromkeys(v for v in value if isinstance(v, str)))
            elif key == "example":
                out.setdefault("examples", [value])
            elif key == "examples":
                if isinstance(value, list):
                    out["examples"] = value
            elif key == "type" and value == "file":
                out["type"] = "string"
                out.setdefault("format", "binary")
            elif key in ("nullable", "exclusiveMinimum", "exclusiveMaximum") and isinstance(value, bool):
                continue  # OpenAPI 3.0 / draft 4 booleans, applied below
            else:
                out[key] = value
        _apply_openapi30_booleans(node, out)
        if "required" in out and "properties" in out:
            out["required"] = [r for r in out["required"] if r in out["properties"] or not _declared(node, r)]
        if lifted_required:
            out["required"] = list(dict.fromkeys([*out.get("required", []), *lifted_required]))
        if "allOf" in out:
            out = merge_all_of(out)
        return out, cyclic

    def _convert_ref(
        self, node: dict[str, Any], resolver: referencing.Resolver, direction: Direction, stack: tuple[int, ...],
        depth: int | None = None,
    ) -> tuple[Any, frozenset[int]]:
        resolved = self._lookup(resolver, node["$ref"])
        target = resolved.contents
        key = id(target)
        memo_key = (key, direction)
        if memo_key in self._memo:  # exact and acyclic: valid in either mode
            inner, cyclic = self._memo[memo_key], _NONE
        elif depth is not None:
            cyclic = _NONE
            if depth <= 0:
                self.bounded_refs += 1
                inner = _cycle_stub(target)
            elif (key, direction, depth) in self._bounded_memo:
                inner = self._bounded_memo[(key, direction, depth)]
            else:
                inner = self._convert(target, resolved.resolver, direction, (), depth - 1)[0]
                self._bounded_memo[(key, direction, depth)] = inner
        elif key in stack:
            self.cycle_refs[node["$ref"]] = None
            return _cycle_stub(target), frozenset({key})
        else:
            if len(stack) >= MAX_REF_NESTING:
                raise _TooMuchWork
            inner, cyclic = self._convert(target, resolved.resolver, direction, (*stack, key))
            cyclic = cyclic - {key}
            if not cyclic:
                self._memo[memo_key] = inner
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        if not siblings:
            return inner, cyclic
        extra, c = self._convert(siblings, resolver, direction, stack, depth)
        if isinstance(inner, dict):
            return ({**inner, **extra} if "allOf" not in extra else merge_all_of({"allOf": [inner, extra]})), cyclic | c
        return extra, cyclic | c


def _apply_openapi30_booleans(node: dict[str, Any], out: dict[str, Any]) -> None:
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if node.get(bound) is True and isinstance(out.get(limit), (int, float)):
            out[bound] = out.pop(limit)
    if node.get("nullable") is True:
        typ = out.get("type")
        if isinstance(typ, str) and typ != "null":
            out["type"] = [typ, "null"]
        elif isinstance(typ, list) and "null" not in typ:
            out["type"] = [*typ, "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]


def _hidden(schema: Any, direction: Direction) -> bool:
    """A readOnly property is not sent in a request; a writeOnly one is not returned."""
    if not isinstance(schema, dict):
        return False
    return bool(schema.get("readOnly") if direction == "request" else schema.get("writeOnly"))


def _declared(node: dict[str, Any], name: str) -> bool:
    props = node.get("properties")
    return isinstance(props, dict) and name in props


def _cycle_stub(target: Any) -> dict[str, Any]:
    stub: dict[str, Any] = {"type": "object"}
    if isinstance(target, dict):
        if isinstance(target.get("type"), str) and target["type"] != "file":
            stub["type"] = target["type"]
        if isinstance(target.get("description"), str):
            stub["description"] = target["description"]
    return stub


def convert_standalone(schema: Any, uri: str, direction: Direction = "request") -> tuple[Any, list[str]]:
    """Convert a schema whose `$ref`s point into itself (MCP, OpenAI, catalog records:
    `#/$defs/...`); returns the schema and the refs whose recursion was cut."""
    if not isinstance(schema, dict) or not _mentions_ref(schema):
        converter = SchemaConverter(make_resolver({}, uri))
    else:
        converter = SchemaConverter(make_resolver(schema, uri, jsonschema_document=True))
    return converter.convert(schema, direction), list(converter.cycle_refs)


def _mentions_ref(node: Any) -> bool:
    if isinstance(node, dict):
        return "$ref" in node or any(_mentions_ref(v) for v in node.values())
    if isinstance(node, list):
        return any(_mentions_ref(v) for v in node)
    return False
