"""A tool graph per toolkit: which tools can feed which, so a scenario's tools chain.

Three kinds of edge (ToolMind, Magnet, FunReason-MT sample tools along such graphs):
- `response_field`: a field of A's response can fill an identifier-like parameter of B
  (`fcsynth.catalog.identifiers`): the same name (`thread_id` <- `threadId`), or B's
  `<noun>_id` (also `_gid`, `_key`, ...) fed by A's `id` when A acts on that noun
  (`create_invoice` -> `send_invoice(invoice_id)`).
- `same_resource`: A and B act on the same resource: the collection of their OpenAPI path
  (`GET /invoices/{id}`, `POST /invoices` -> `invoice`), else the noun their name ends with
  (`list_messages`, `trash_message` -> `message`). These edges go both ways.
- `shared_value`, between the toolkits of a bundle only: a field of A's response holds the
  kind of value an identifier-like parameter of B takes, an email address or a link (by
  `format`, else by name: `organizer.email` -> `send_message(to: [email])`, `web_view_link` ->
  `send_media(link)`). This is what joins a bundle's toolkits, which share no ids; inside one
  API it would link almost any two tools (every `html_url` to every `*_url` parameter).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fcsynth.catalog.identifiers import identifier_arguments
from fcsynth.tools import Tool

RESPONSE_FIELD, SAME_RESOURCE, SHARED_VALUE = "response_field", "same_resource", "shared_value"
KINDS = (RESPONSE_FIELD, SAME_RESOURCE, SHARED_VALUE)
_ID_SUFFIXES = ("id", "ids", "gid", "uid", "key", "uuid", "code")
_VERSION = re.compile(r"v\d+(\.\d+)*|\d+(\.\d+)*")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
MAX_FIELD_DEPTH = 4
_ROLE_FORMATS = {"email": "email", "idn-email": "email", "uri": "link", "url": "link", "uri-reference": "link"}
_ROLE_NAME = re.compile(r"(?:^|_)(?:(email)(?:_address)?(?:es|s)?|(url|uri|link)s?)$")


@dataclass(frozen=True)
class Edge:
    """B (`target` of `target_toolkit`) can use what A (`source` of `toolkit`) gives, `via` a
    field or a shared resource. The two toolkits differ only for the toolkits of a bundle."""

    toolkit: str
    source: str
    target_toolkit: str
    target: str
    kind: str
    via: str


def snake(name: str) -> str:
    """`threadId` -> `thread_id`; separators become `_`, lower case."""
    return re.sub(r"[^a-z0-9]+", "_", _CAMEL.sub("_", name).lower()).strip("_")


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def resource(tool: Tool) -> str | None:
    """The noun a tool acts on: its path's collection, else the last word of its name."""
    if tool.operation and " /" in tool.operation:
        segments = [s for s in tool.operation.split(" ", 1)[1].split("/") if s]
        literal = [i for i, s in enumerate(segments) if "{" not in s and not _VERSION.fullmatch(s)]
        params = [i for i, s in enumerate(segments) if "{" in s]
        before = [i for i in literal if params and i < params[-1]]
        index = before[-1] if before else (literal[-1] if literal else None)
        return singular(snake(segments[index])) if index is not None else None
    words = snake(tool.name).split("_")
    return singular(words[-1]) if len(words) > 1 else None


def _response_properties(schema: Any) -> Iterator[tuple[str, Any]]:
    """(name, schema) of every property of a response schema, nested objects and arrays included."""
    stack = [(schema, 0)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict) or depth > MAX_FIELD_DEPTH:
            continue
        for name, sub in (node.get("properties") or {}).items() if isinstance(node.get("properties"), dict) else ():
            yield name, sub
            stack.append((sub, depth + 1))
        for key in ("items", "additionalProperties"):
            stack.append((node.get(key), depth + 1))
        for key in ("anyOf", "oneOf", "allOf"):
            stack.extend((s, depth + 1) for s in node.get(key) or [] if isinstance(node.get(key), list))


def response_fields(schema: Any) -> set[str]:
    """The property names (snake case) of a response schema, nested ones included."""
    return {snake(name) for name, _ in _response_properties(schema)}


def value_role(name: str, schema: Any) -> str | None:
    """"email" or "link" when a field or parameter holds such a value (its format, else its
    snake-case name), else None."""
    if isinstance(schema, dict):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        role = _ROLE_FORMATS.get(str(schema.get("format") or items.get("format")))
        if role:
            return role
    found = _ROLE_NAME.search(snake(name))
    return None if found is None else "email" if found.group(1) else "link"


def response_roles(schema: Any) -> set[str]:
    """The value roles (`value_role`) of a response's fields, nested ones included."""
    return {role for name, sub in _response_properties(schema) if (role := value_role(name, sub))}


def _feeds(source_noun: str | None, fields: set[str], param: str, target_noun: str | None) -> bool:
    """Whether a response with `fields` (of a tool acting on `source_noun`) can fill `param`."""
    if param in _ID_SUFFIXES:  # a bare `id` names the target's own resource
        return (param in fields or "id" in fields) and source_noun is not None and source_noun == target_noun
    if param in fields:
        return True
    noun, _, suffix = param.rpartition("_")
    return bool(noun) and suffix in _ID_SUFFIXES and (suffix in fields or "id" in fields) and (
        singular(noun.rsplit("_", 1)[-1]) == source_noun)


def tool_edges(tools: Iterable[Tool], across_only: bool = False) -> list[Edge]:
    """Every edge between `tools` (one toolkit, or a bundle's toolkits), in a stable order;
    `across_only`: only edges between tools of different toolkits."""
    tools = sorted(tools, key=lambda t: (t.toolkit, t.name))
    fields = {(t.toolkit, t.name): response_fields(t.response) for t in tools}
    id_args = {(t.toolkit, t.name): identifier_arguments(t.parameters) for t in tools}
    params = {k: sorted(snake(p) for p in args) for k, args in id_args.items()}
    roles = {(t.toolkit, t.name): response_roles(t.response) for t in tools}
    takes = {k: [(f"{role}:{snake(p)}", role) for p, sub in args.items() if (role := value_role(p, sub))]
             for k, args in id_args.items()}
    nouns = {(t.toolkit, t.name): resource(t) for t in tools}
    edges = []
    for a in tools:
        for b in tools:
            if (a.toolkit, a.name) == (b.toolkit, b.name) or (across_only and a.toolkit == b.toolkit):
                continue
            fed = [p for p in params[(b.toolkit, b.name)] if _feeds(nouns[(a.toolkit, a.name)], fields[(a.toolkit, a.name)], p, nouns[(b.toolkit, b.name)])]
            if fed:
                edges.append(Edge(a.toolkit, a.name, b.toolkit, b.name, RESPONSE_FIELD, ",".join(fed)))
            elif nouns[(a.toolkit, a.name)] and nouns[(a.toolkit, a.name)] == nouns[(b.toolkit, b.name)]:
                edges.append(Edge(a.toolkit, a.name, b.toolkit, b.name, SAME_RESOURCE, str(nouns[(a.toolkit, a.name)])))
            elif a.toolkit != b.toolkit:
                shared = sorted(via for via, role in takes[(b.toolkit, b.name)] if role in roles[(a.toolkit, a.name)])
                if shared:
                    edges.append(Edge(a.toolkit, a.name, b.toolkit, b.name, SHARED_VALUE, ",".join(shared)))
    return edges


def catalog_edges(tools: Iterable[Tool], bundles: Iterable[Iterable[str]] = ()) -> list[Edge]:
    """The tool graph of every toolkit of a catalog, plus the edges between the toolkits of
    each bundle (the scenarios of a bundle use its toolkits together)."""
    by_toolkit: dict[str, list[Tool]] = {}
    for t in tools:
        by_toolkit.setdefault(t.toolkit, []).append(t)
    edges = [e for name in sorted(by_toolkit) for e in tool_edges(by_toolkit[name])]
    pairs: set[tuple[str, str]] = set()
    for bundle in bundles:
        names = sorted(set(bundle) & by_toolkit.keys())
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                if (a, b) not in pairs:
                    pairs.add((a, b))
                    edges += tool_edges(by_toolkit[a] + by_toolkit[b], across_only=True)
    return edges


def neighbours(edges: Iterable[Edge]) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """(toolkit, tool) -> the tools it shares an edge with, either way."""
    out: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for e in edges:
        a, b = (e.toolkit, e.source), (e.target_toolkit, e.target)
        out.setdefault(a, set()).add(b)
        out.setdefault(b, set()).add(a)
    return out


def connected(keys: list[tuple[str, str]], adjacent: dict[tuple[str, str], set[tuple[str, str]]]) -> bool:
    """Whether the tools `keys` form one connected piece of the graph."""
    if len(keys) < 2:
        return True
    wanted, seen, stack = set(keys), {keys[0]}, [keys[0]]
    while stack:
        for nxt in adjacent.get(stack.pop(), set()) & wanted - seen:
            seen.add(nxt)
            stack.append(nxt)
    return seen == wanted


def graph_schema() -> dict[str, Any]:
    """Polars schema of data/catalog/graph.parquet (one row per edge)."""
    import polars as pl

    return {"id": pl.String, "toolkit": pl.String, "source": pl.String, "target_toolkit": pl.String,
            "target": pl.String, "kind": pl.String, "via": pl.String}


def edge_rows(edges: Iterable[Edge]) -> list[dict[str, str]]:
    return [{"id": f"{e.toolkit}/{e.source}->{e.target_toolkit}/{e.target}", **dataclasses.asdict(e)} for e in edges]


def rows_edges(rows: Iterable[dict[str, Any]]) -> list[Edge]:
    return [Edge(**{f.name: r[f.name] for f in dataclasses.fields(Edge)}) for r in rows]


def graph_metrics(tools: list[Tool], edges: list[Edge]) -> dict[str, dict[str, int]]:
    """Per toolkit: tools, edges (by kind) and tools without any edge."""
    adjacent = neighbours(edges)
    out: dict[str, dict[str, int]] = {}
    for t in tools:
        entry = out.setdefault(t.toolkit, {"tools": 0, **dict.fromkeys(KINDS, 0), "isolated": 0})
        entry["tools"] += 1
        entry["isolated"] += (t.toolkit, t.name) not in adjacent
    for e in edges:
        out[e.toolkit][e.kind] += 1  # an edge between a bundle's toolkits counts for its source
    return dict(sorted(out.items()))
