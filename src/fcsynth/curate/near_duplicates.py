"""Conversation-level near duplicates: MinHash of word 3-gram shingles, LSH over accepted ones."""

from __future__ import annotations

import json
import re
from typing import Any

from datasketch import MinHash, MinHashLSH

_WORD = re.compile(r"\w+", re.UNICODE)
SHINGLE = 3  # words per shingle


def conversation_text(messages: list[dict[str, Any]]) -> str:
    """What near-duplicate detection compares: the words of every turn, call and result."""
    parts = []
    for m in messages:
        if m.get("content"):
            parts.append(str(m["content"]))
        for c in m.get("tool_calls") or []:
            args = c["function"].get("arguments")
            parts.append(c["function"]["name"] + " " + (args if isinstance(args, str) else json.dumps(args, sort_keys=True)))
    return " ".join(parts)


def minhash(text: str, num_perm: int) -> MinHash:
    """MinHash of a text's word 3-gram shingles (lower-cased; short texts use what they have)."""
    words = _WORD.findall(text.lower())
    shingles = {" ".join(words[i:i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1))}
    m = MinHash(num_perm=num_perm, seed=1)
    for s in sorted(shingles):
        m.update(s.encode())
    return m


class NearDuplicates:
    """The conversations kept so far; `twin_of` answers the first kept near duplicate."""

    def __init__(self, threshold: float, num_perm: int) -> None:
        self.threshold, self.num_perm = threshold, num_perm
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.hashes: dict[str, MinHash] = {}
        self.found = 0

    def twin_of(self, row_id: str, messages: list[dict[str, Any]]) -> str | None:
        """The id of a kept near duplicate of `messages`, or None (and `row_id` is kept)."""
        m = minhash(conversation_text(messages), self.num_perm)
        twins = sorted(k for k in self.lsh.query(m) if self.hashes[k].jaccard(m) >= self.threshold)
        if twins:
            self.found += 1
            return twins[0]
        self.lsh.insert(row_id, m)
        self.hashes[row_id] = m
        return None

    @property
    def rate(self) -> float:
        """Near duplicates found / conversations compared."""
        seen = len(self.hashes) + self.found
        return round(self.found / seen, 4) if seen else 0.0
