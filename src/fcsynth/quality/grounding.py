"""Argument grounding: the share of a call's free argument leaves (strings, numbers; not
enum, const, default or boolean values) found in what came before the call: the system
prompt, the user turns and earlier tool responses."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from fcsynth.quality.leaves import argument_leaves, json_leaves, norm, parse_json

_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d{3}\b)")
SHORT = 3  # strings this short must appear as a whole word


@dataclass
class Grounding:
    """Free argument leaves of one conversation: how many, which were found."""

    values: int = 0
    grounded: int = 0
    ungrounded: list[str] = field(default_factory=list)

    @property
    def share(self) -> float | None:
        """grounded / values, or None when no call has a free leaf."""
        return round(self.grounded / self.values, 4) if self.values else None


def _context_part(message: dict[str, Any]) -> str:
    content = message.get("content")
    if message["role"] != "tool":
        return content if isinstance(content, str) else ""
    # JSON responses contribute their decoded leaves (escapes would hide them otherwise)
    parsed = parse_json(content)
    if isinstance(parsed, str):
        return parsed
    return "\n".join(str(leaf.value) for leaf in json_leaves(parsed))


def _number_forms(value: float) -> list[str]:
    forms = {repr(value)}
    if isinstance(value, float) and value.is_integer():
        forms.add(str(int(value)))
    return sorted(forms)


def found(value: str | float, context: str, similarity: float) -> bool:
    """`value` appears in the normalized `context`: numbers and short strings as a whole
    token, longer strings verbatim or with rapidfuzz partial_ratio >= similarity."""
    if isinstance(value, (int, float)):
        alternatives = "|".join(re.escape(f) for f in _number_forms(value))
        return re.search(rf"(?<![\d.])(?:{alternatives})(?!\d|\.\d)", _DIGIT_COMMA.sub("", context)) is not None
    v = norm(value)
    if len(v) <= SHORT:
        return re.search(rf"(?<!\w){re.escape(v)}(?!\w)", context) is not None
    return v in context or fuzz.partial_ratio(v, context, score_cutoff=similarity) > 0


def grounding(messages: list[dict[str, Any]], schemas: dict[str, Any], similarity: float) -> Grounding:
    """Grounding of every call's free argument leaves against the context before its turn."""
    out = Grounding()
    context: list[str] = []
    for m in messages:
        if m["role"] in ("system", "user", "tool"):
            context.append(norm(_context_part(m)))
            continue
        calls = m.get("tool_calls") or []
        if not calls:
            continue
        text = "\n".join(context)
        for c in calls:
            fn = c["function"]
            for leaf in argument_leaves(fn.get("arguments"), schemas.get(fn["name"])):
                if not leaf.free or (isinstance(leaf.value, str) and not norm(leaf.value)):
                    continue
                out.values += 1
                if found(leaf.value, text, similarity):
                    out.grounded += 1
                else:
                    shown = leaf.value[:60] if isinstance(leaf.value, str) else leaf.value
                    out.ungrounded.append(f"{fn['name']} {leaf.path}={shown!r}")
    return out
