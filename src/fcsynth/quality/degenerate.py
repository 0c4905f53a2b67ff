"""Degenerate text in user and assistant turns: repeated word n-grams (a model looping),
and markup or code fragments where the conversation never asked for code or markup."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

_WORD = re.compile(r"\w+", re.UNICODE)
# (label, pattern): fragments of markup, templates or code in conversational text.
# ('<' cannot appear in DML text, so tags show up as their remains: "assistant>", "&lt;".)
MARKUP = (
    ("code fence", re.compile(r"```")),
    ("JSON object", re.compile(r"\{\s*\"[^\"]{1,40}\"\s*:")),
    ("markup tag", re.compile(r"\b(?:user|assistant|think|tool_call|tool_response|system)>")),
    ("tool markup", re.compile(r"\b(?:tool_call|tool_response|function_call)\b")),
    ("HTML entity", re.compile(r"&(?:lt|gt|amp|quot|nbsp|#\d+);")),
    ("chat template token", re.compile(r"\|(?:im_start|im_end|endoftext|eot_id)\||\[/?INST\]")),
    ("code", re.compile(r"(?m)^\s*(?:def |class \w+[:(]|import \w|from \w+ import |function \w+\(|const \w+ =|SELECT .+ FROM )|=>|\)\s*\{|\w+\(\)\s*;")),
)
# A conversation that mentions any of these may legitimately carry code or markup.
ASKS_FOR_CODE = re.compile(r"\b(?:code|json|html|xml|markdown|script|snippet|sql|regex|yaml|python|javascript|css|template)\b", re.IGNORECASE)


def conversation_texts(messages: list[dict[str, Any]]) -> list[str]:
    """The free text of user and assistant turns (not tool responses, not thinking)."""
    return [m["content"] for m in messages if m["role"] in ("user", "assistant") and isinstance(m.get("content"), str) and m["content"]]


def repeated_ngram_share(texts: list[str], n: int) -> float:
    """Share of the word n-grams of all `texts` (each text's own windows) that repeat an
    earlier one: 0 for varied text, near 1 for a loop."""
    grams: Counter[tuple[str, ...]] = Counter()
    for text in texts:
        words = _WORD.findall(text.casefold())
        grams.update(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    total = sum(grams.values())
    return round((total - len(grams)) / total, 4) if total else 0.0


def markup_fragments(texts: list[str], asked: str = "") -> list[str]:
    """Markup/code fragments found in `texts`, unless `asked` (the scenario and the user's
    turns) mentions code or markup."""
    if ASKS_FOR_CODE.search(asked):
        return []
    found = []
    for i, text in enumerate(texts):
        for label, pattern in MARKUP:
            hit = pattern.search(text)
            if hit:
                found.append(f"{label} in turn text {i + 1}: {text[max(0, hit.start() - 20):hit.end() + 20]!r}")
    return found
