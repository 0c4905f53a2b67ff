"""Made-up example values keyed by conversation and path: strings, schema instances, and the copy-check sets."""

# Every string is drawn from a generator seeded by the conversation's key (its record id),
# the tool and the value's path, so a model that copies an example value copies a value
# curate can recompute and reject (`example_strings`, `example_string_candidates`). They are
# made-up words and numbers, `.test` domains and documentation IP ranges, never the generic
# "example ..." strings a dataset must not contain.

from __future__ import annotations

import copy
import random
import re
import uuid
from dataclasses import dataclass
from typing import Any

from fcsynth.schema_keywords import merge_all_of

_ADJECTIVES = (
    "amber", "brisk", "cobalt", "dusky", "ember", "fennel", "garnet", "hazel", "indigo", "juniper",
    "kelp", "lunar", "maple", "nimbus", "ochre", "pewter", "quartz", "russet", "saffron", "tundra",
)
_NOUNS = (
    "harbor", "ledger", "orchard", "beacon", "canyon", "delta", "falcon", "grove", "heron", "island",
    "lantern", "meadow", "nectar", "otter", "prairie", "quill", "ridge", "summit", "thicket", "willow",
)
_DOMAINS = ("northwind.test", "contoso.test", "fabrikam.test", "tailspin.test")  # RFC 2606: never real


@dataclass(frozen=True)
class Vocabulary:
    """The words and domains made-up strings are built from."""

    words: tuple[str, ...]
    nouns: tuple[str, ...]
    domains: tuple[str, ...]


EXAMPLE_VOCABULARY = Vocabulary(_ADJECTIVES, _NOUNS, _DOMAINS)
# The facts a simulated user knows share no word or domain with the prompt example, so a
# fact is never mistaken for a copied example value (curate compares them fuzzily).
FACT_VOCABULARY = Vocabulary(
    ("alma", "bruno", "chiara", "dmitri", "elif", "farah", "goran", "hana", "ivo", "jonas",
     "keiko", "lorenz", "mirela", "nadia", "oskar", "priya", "rafael", "sanne", "tomas", "yusuf"),
    ("ackerman", "bergstrom", "castillo", "dufresne", "eriksen", "fontaine", "gallagher", "haddad",
     "ivanova", "jaramillo", "kowalski", "lindqvist", "moreau", "nakamura", "okafor", "petrov"),
    ("bluepeak.test", "larkspur.test", "stonegate.test", "vireo.test"),
)
_ALNUM = "abcdefghjkmnpqrstuvwxyz23456789"
_ID_NAME = re.compile(r"(?:^|[_\-.])(?:id|ids|key|token|code|ref|sku|uuid|hash)$|[a-z0-9](?:Id|ID|Ids|Key|Token|Code)$")
FORMATS = ("date", "date-time", "time", "email", "uri", "url", "uuid", "hostname", "ipv4", "ipv6", "duration")
KINDS = ("id", "text", *FORMATS)  # what a generated string can be


def seeded_rng(key: str, path: str, kind: str) -> random.Random:
    """The generator of the value of `kind` at `path` in the conversation `key`."""
    return random.Random(f"{key}|{path}|{kind}")


def string_kind(schema: dict[str, Any], path: str) -> str:
    """The generator kind for a string schema at `path`: its format, `id` or `text`."""
    fmt = schema.get("format")
    if fmt in FORMATS:
        return fmt
    name = path.rsplit("/", 1)[-1]
    return "id" if _ID_NAME.search(name) else "text"


def example_string(key: str, path: str, kind: str, vocabulary: Vocabulary = EXAMPLE_VOCABULARY) -> str:
    """The made-up string of `kind` for the value at `path` of the conversation `key`."""
    rng = seeded_rng(key, path, kind)
    word, noun, n = rng.choice(vocabulary.words), rng.choice(vocabulary.nouns), rng.randint(100, 9999)
    date = f"{rng.randint(2025, 2027)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    clock = f"{rng.randint(7, 19):02d}:{rng.choice((0, 15, 30, 45)):02d}:00Z"
    domain = rng.choice(vocabulary.domains)
    values = {
        "id": "".join(rng.choice(_ALNUM) for _ in range(10)),
        "text": f"{word} {noun} {n}",
        "date": date,
        "date-time": f"{date}T{clock}",
        "time": clock,
        "email": f"{word}.{noun}{n % 100}@{domain}",
        "uri": f"https://{domain}/{noun}/{n}",
        "url": f"https://{domain}/{noun}/{n}",
        "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "hostname": f"{noun}.{domain}",
        "ipv4": f"192.0.2.{rng.randint(1, 254)}",
        "ipv6": f"2001:db8::{rng.randint(1, 0xFFFF):x}",
        "duration": f"P{rng.randint(1, 30)}D",
    }
    return values[kind]


def example_string_candidates(key: str, path: str) -> set[str]:
    """Every string the generator could have put at `path` (any kind), for copy checks
    where the schema is not at hand (tool responses)."""
    return {example_string(key, path, kind) for kind in KINDS}


def _bounded(text: str, schema: dict[str, Any], max_chars: int, key: str, path: str) -> str:
    lo, hi = int(schema.get("minLength", 0)), int(schema.get("maxLength", max_chars))
    rng = seeded_rng(key, path, "pad")
    while len(text) < lo:
        text += " " + rng.choice(_NOUNS)
    return text[: max(hi, 0)]


def _merged(schema: dict[str, Any]) -> dict[str, Any]:
    """`allOf` merged; when its parts conflict, the first part with the outer keywords."""
    merged = merge_all_of(schema)
    if "allOf" not in merged:
        return merged
    first = next((p for p in merged["allOf"] if isinstance(p, dict)), {})
    return {**first, **{k: v for k, v in merged.items() if k != "allOf"}}


def example_value(schema: Any, path: str = "value", depth: int = 0, max_chars: int = 40, key: str = "") -> Any:
    """A plausible small instance of `schema` (validated by the caller); strings come from
    `example_string(key, path, kind)`, so they depend on the conversation key and the path."""
    if not isinstance(schema, dict) or depth > 6:
        return example_string(key, path, "text")
    if "allOf" in schema:
        schema = _merged(schema)
    if "const" in schema:
        return copy.deepcopy(schema["const"])
    if schema.get("enum"):
        return copy.deepcopy(next((v for v in schema["enum"] if v is not None), schema["enum"][0]))
    for word in ("anyOf", "oneOf"):
        branches = [b for b in schema.get(word) or [] if isinstance(b, dict) and b.get("type") != "null"]
        if branches:
            merged = {**{k: v for k, v in schema.items() if k != word}, **branches[0]}
            return example_value(merged, path, depth + 1, max_chars, key)
    kind = _type_of(schema)
    if kind == "object":
        props = schema.get("properties") or {}
        required = [r for r in schema.get("required", []) if r in props]
        chosen = set(required) or set(list(props)[:1])
        return {
            name: example_value(sub, f"{path}/{name}", depth + 1, max_chars, key)
            for name, sub in props.items() if name in chosen
        }
    if kind == "array":
        lo, hi = int(schema.get("minItems", 1)), int(schema.get("maxItems", 1))
        count = max(lo, min(1, hi))
        items = schema.get("items", {})
        return [example_value(items, f"{path}/[]", depth + 1, max_chars, key) for _ in range(count)]
    if kind in ("integer", "number"):
        lo = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        value = max(1, int(lo) + (1 if "exclusiveMinimum" in schema else 0))
        if "maximum" in schema and value > schema["maximum"]:
            value = int(schema["maximum"])
        return value
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _bounded(example_string(key, path, string_kind(schema, path)), schema, max_chars, key, path)


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    return kind


def arguments_path(tool_name: str) -> str:
    """The generator path of a tool's arguments object (its leaves extend it with /key, /[])."""
    return f"{tool_name}/arguments"


def response_path(tool_name: str) -> str:
    """The generator path of a tool's response object."""
    return f"{tool_name}/response"


def example_strings(key: str, tool_name: str, parameters: Any, max_chars: int = 40) -> set[str]:
    """Every string the example generator gives any property of `parameters` (required or
    not, every branch) for the conversation `key`: what curate rejects when copied."""
    out: set[str] = set()

    def walk(schema: Any, path: str, depth: int) -> None:
        if not isinstance(schema, dict) or depth > 6:
            out.add(example_string(key, path, "text"))
            return
        if "allOf" in schema:
            schema = _merged(schema)
        if "const" in schema or schema.get("enum"):
            return
        for word in ("anyOf", "oneOf"):
            for branch in schema.get(word) or []:
                if isinstance(branch, dict):
                    walk({**{k: v for k, v in schema.items() if k != word}, **branch}, path, depth + 1)
        kind = _type_of(schema)
        if kind == "object":
            for name, sub in (schema.get("properties") or {}).items():
                walk(sub, f"{path}/{name}", depth + 1)
        elif kind == "array":
            walk(schema.get("items", {}), f"{path}/[]", depth + 1)
        elif kind == "string":
            out.add(_bounded(example_string(key, path, string_kind(schema, path)), schema, max_chars, key, path))

    walk(parameters, arguments_path(tool_name), 0)
    return {s for s in out if s}
