"""A small valid conversation over given tools: the example shown in the generation prompt.

It respects the options it will be generated under (turn bounds, thinking, parallel calls,
text length) and its arguments validate against the tools' schemas, so the grammar built
from the same tools and options accepts its rendering (tests prove it).

Its values vary per conversation: every string is drawn from a generator seeded by the
conversation's key (its record id), the tool and the value's path, so a model that copies
the example copies values curate can recompute and reject (`example_strings`,
`example_string_candidates`). They are made-up words and numbers, `.test` domains and
documentation IP ranges, never the generic "example …" strings a dataset must not contain.
"""

from __future__ import annotations

import copy
import random
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fcsynth.dml.validate import argument_errors
from fcsynth.schema_keywords import merge_all_of

if TYPE_CHECKING:
    from fcsynth.dml.grammar import GrammarOptions
    from fcsynth.tools import Tool

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

# The user's lines of the example, picked per conversation; a user turn that copies one is
# flagged by curate (a closing "that is all" is natural speech and is not listed here).
ASKS = (
    "Hi, could you take care of something for me?",
    "Hello, I need a hand with a quick task.",
    "Hi there, can you sort this out for me?",
)
FOLLOW_UPS = (
    "Thanks. Please also check the other details.",
    "Great, and could you look into the related item too?",
    "Perfect. One more thing while you are at it.",
)
CLOSINGS = ("Great, that is all I needed.", "Thanks, that covers it.")
_FINALS = ("Done. Here is what I found, based on the results above.", "All set: the results are above.")
_WELCOMES = ("You are welcome. Let me know if you need anything else.", "Glad to help. Anything else?")
USER_PHRASES = ASKS + FOLLOW_UPS


def _rng(key: str, path: str, kind: str) -> random.Random:
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
    rng = _rng(key, path, kind)
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
    rng = _rng(key, path, "pad")
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


def example_arguments(tool: Tool, key: str = "") -> dict[str, Any] | None:
    """Arguments for `tool` that validate against its parameters, or None."""
    from fcsynth.llm.fake_backend import minimal_instance

    makers = (lambda: example_value(tool.parameters, arguments_path(tool.name), key=key),
              lambda: minimal_instance(tool.parameters))
    for make in makers:
        try:
            args = make()
        except (TypeError, ValueError, KeyError):
            continue
        if isinstance(args, dict) and not argument_errors(tool.parameters, args):
            return args
    return None


def example_response(tool: Tool, options: GrammarOptions, key: str = "") -> Any:
    """A response for `tool` (an instance of its response schema as the grammar narrows
    it, when it has one), or None."""
    from fcsynth.dml.grammar import narrowed_response
    from fcsynth.llm.fake_backend import minimal_instance

    path = response_path(tool.name)
    if tool.response is None:
        return {"status": "ok", "result": example_string(key, f"{path}/result", "text")}
    pruned = narrowed_response(tool, options)
    for make in (lambda: example_value(pruned, path, key=key), lambda: minimal_instance(pruned)):
        try:
            value = make()
        except (TypeError, ValueError, KeyError):
            continue
        if isinstance(value, dict) and not argument_errors(tool.response, value):
            return value
    return None


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip()


def _first_string(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return next((s for s in map(_first_string, items) if s), None)


def example_messages(tools: list[Tool], options: GrammarOptions, key: str = "") -> list[dict[str, Any]]:
    """A short valid conversation over `tools` under `options` (TRL/OpenAI messages), its
    values and phrasing drawn for the conversation `key` (the record id)."""
    from dataclasses import replace

    from fcsynth.dml.grammar import narrowed_arguments
    from fcsynth.dml.render import dump_json

    # Arguments drawn from the schema the grammar narrows calls to (validated against the full one).
    tools = [replace(t, parameters=narrowed_arguments(t, options)) for t in tools]
    usable = [
        (t, a, r)
        for t in tools
        if (a := example_arguments(t, key)) is not None and (r := example_response(t, options, key)) is not None
    ]
    if options.max_steps_per_turn == 0:
        usable = []
    rng = _rng(key, "messages", "phrasing")
    n_turns = 2
    text, think = options.max_text_chars, options.think_chars
    messages: list[dict[str, Any]] = []
    n_calls = 0
    for turn in range(n_turns):
        if turn == 0:
            step = usable[:1]
            ask = rng.choice(ASKS)
            value = _first_string(step[0][1]) if step else None
            if value and "<" not in value:  # the user states the value the call then uses
                ask += f" Please use {value}."
        elif turn == 1 and len(usable) > 1:  # other tools: the example never repeats a call
            step = usable[1 : 1 + min(2, options.max_parallel_calls)]
            ask = rng.choice(FOLLOW_UPS)
        else:
            step = []
            ask = rng.choice(CLOSINGS)
        messages.append({"role": "user", "content": _fit(ask, text)})
        first = len(messages)
        if step:
            calls = []
            for tool, args, _ in step:
                n_calls += 1
                calls.append(
                    {"id": f"call_{n_calls}", "type": "function", "function": {"name": tool.name, "arguments": args}}
                )
            messages.append({"role": "assistant", "content": "", "tool_calls": calls})
            for call, (tool, _, response) in zip(calls, step, strict=True):
                messages.append(
                    {"role": "tool", "tool_call_id": call["id"], "name": tool.name, "content": dump_json(response)}
                )
            final = rng.choice(_FINALS)
        else:
            final = rng.choice(_WELCOMES)
        messages.append({"role": "assistant", "content": _fit(final, text)})
        if options.thinking:
            messages[first]["reasoning_content"] = _fit("The user wants this done; I will use the right tool.", think)
    return messages
