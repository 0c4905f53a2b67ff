"""Placeholder values: copies of the prompt example's values (recomputed from the record id)
and generic placeholders ("example …", "<…>", "string", "xxx", "TODO", "base64 content", …)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process

from fcsynth.constraints.example import USER_PHRASES
from fcsynth.constraints.example_values import arguments_path, example_string_candidates, example_strings, response_path
from fcsynth.quality.leaves import Leaf, argument_leaves, json_leaves, norm, parse_json

# Matched against the whole normalized value (case-folded, whitespace collapsed).
# Placeholders in any string:
GENERIC = re.compile(
    r"""(?x)^(?:
      example(?:\b|_).*                                   # "example id", "example_fileId", "example.com"
    | <[^<>]*> | \{\{.*\}\} | \$\{.*\} | %\w+%             # <name>, {{name}}, ${name}, %name%
    | \[(?:insert|your|enter|add|placeholder)\b.*\]       # [insert name]
    | placeholder | lorem\ ipsum\b.* | \.{2,} | …
    | x{3,} | \*{3,} | \#{3,}
    | your_\w+ | your\ .*\ here | (?:insert|enter|put|add)\ .*\ here | .*\ goes\ here
    | (?:file\ )?contents?\ (?:here|of\ the\ file)
    | base64(?:[\ _-](?:encoded|encoding))?(?:[\ _-](?:file|image|pdf|attachment))?[\ _-](?:content|contents|data|string|here)
    | base64[\ _-]encoded(?:[\ _-](?:file|image|pdf|attachment))?
    )$""",
)
# Placeholder words that real APIs also use as enum members ("text", "none", "todo"): only
# flagged where the schema is known and says the value is free (call arguments).
GENERIC_WORDS = re.compile(
    r"""(?x)^(?:
      string | str | text | value | none | null | nil | undefined | n/?a | tbd | tba | todo | fixme
    | dummy | sample | foo | bar | baz | foobar | test | testing | abc | abc123 | xyz | asdf | qwerty | -
    | 0{4,} | 1234\d* | 12345\w* | base64
    )$""",
)
MIN_FUZZY_CHARS = 6  # shorter values must match an example value exactly


def is_generic(value: str, words: bool = True) -> bool:
    """`value` is a generic placeholder (`words`: placeholder words count too)."""
    v = norm(value)
    return bool(GENERIC.match(v) or (words and GENERIC_WORDS.match(v)))


def _wordy(text: str) -> bool:
    """Mostly letters: a value fuzzy matching may compare (dates, times and numbers are not:
    two real dates a day apart are as similar as a copy)."""
    letters = sum(ch.isalpha() for ch in text)
    return letters >= 4 and letters * 2 >= len(text)


@dataclass
class ExampleValues:
    """The strings the prompt example of one conversation (its record id) could hold.

    A value is compared with the generator's candidates at its own path (every kind), and
    with the wordy example strings of every argument of the conversation's tools (a copy
    into another field)."""

    key: str
    wordy: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, key: str, tools: Iterable[tuple[str, Any]]) -> ExampleValues:
        """From the record id and its tools (name, parameters schema)."""
        out = cls(key)
        for name, parameters in tools:
            out.wordy |= {v for s in example_strings(key, name, parameters) if _wordy(v := norm(s))}
        return out

    def copied(self, value: str, path: str, similarity: float) -> bool:
        """`value` at generator path `path` is (nearly) an example string, or a truncation of one."""
        v = norm(value)
        if not v:
            return False
        local = {norm(s) for s in example_string_candidates(self.key, path)}
        if v in local or v in self.wordy:
            return True
        if len(v) >= 8 and any(s.startswith(v) for s in local | self.wordy):
            return True
        return (
            len(v) >= MIN_FUZZY_CHARS and _wordy(v)
            and process.extractOne(v, self.wordy | {s for s in local if _wordy(s)}, scorer=fuzz.ratio, score_cutoff=similarity) is not None
        )


def copies_example_phrase(text: str, similarity: float) -> bool:
    """A user turn that is (or starts with) one of the example's user lines."""
    t = norm(text)
    return any(t.startswith(norm(p)) or fuzz.ratio(t, norm(p)) >= similarity for p in USER_PHRASES)


def placeholders(
    record_id: str, messages: list[dict[str, Any]], schemas: dict[str, Any], similarity: float
) -> tuple[int, list[str]]:
    """(values checked, placeholder findings): every string leaf of call arguments and tool
    responses, and every user turn (against the example's user lines)."""
    examples = ExampleValues.of(record_id, schemas.items())
    leaves: list[tuple[str, str, Leaf, bool]] = []  # (where, generator path, leaf, schema known)
    names = {}
    for m in messages:
        for c in m.get("tool_calls") or []:
            fn = c["function"]
            names[c.get("id")] = fn["name"]
            for leaf in argument_leaves(fn.get("arguments"), schemas.get(fn["name"])):
                leaves.append((f"{fn['name']} argument {leaf.path or '/'}", arguments_path(fn["name"]) + leaf.path, leaf, True))
        if m["role"] == "tool":
            tool = m.get("name") or names.get(m.get("tool_call_id"), "")
            for leaf in json_leaves(parse_json(m.get("content"))):
                leaves.append((f"{tool} response {leaf.path or '/'}", response_path(tool) + leaf.path, leaf, False))
    found: list[str] = []
    checked = 0
    for where, path, leaf, schema_known in leaves:
        if not isinstance(leaf.value, str) or not leaf.free:
            continue
        checked += 1
        if is_generic(leaf.value, words=schema_known):
            found.append(f"{where}: generic placeholder {leaf.value[:60]!r}")
        elif examples.copied(leaf.value, path, similarity):
            found.append(f"{where}: copied from the prompt example {leaf.value[:60]!r}")
    for m in messages:
        if m["role"] == "user" and isinstance(m.get("content"), str):
            checked += 1
            if copies_example_phrase(m["content"], similarity):
                found.append(f"user turn copies the prompt example: {m['content'][:60]!r}")
    return checked, found
