"""Seeded sampling: how many conversations per selection, which tools each one sees."""

from __future__ import annotations

import hashlib
import random

from fcsynth.tools import Tool


def rng_for(seed: int, *key: str) -> random.Random:
    """A random generator that depends only on the seed and the key (record id, purpose)."""
    digest = hashlib.sha256(":".join([str(seed), *key]).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def allocate(total: int, names: list[str], weights: dict[str, float]) -> dict[str, int]:
    """Split `total` over names by weight (default uniform), largest remainder first."""
    w = {n: float(weights.get(n, 1.0)) for n in names}
    mass = sum(w.values()) or 1.0
    exact = {n: total * w[n] / mass for n in names}
    counts = {n: int(exact[n]) for n in names}
    left = total - sum(counts.values())
    for n in sorted(names, key=lambda n: (-(exact[n] - counts[n]), names.index(n)))[:left]:
        counts[n] += 1
    return counts


def sample_subset(tools: list[Tool], size_range: tuple[int, int], rng: random.Random) -> list[Tool]:
    """A subset of the selection's tools, covering every toolkit of a bundle once first."""
    lo, hi = size_range
    size = max(1, min(len(tools), rng.randint(lo, hi)))
    by_toolkit: dict[str, list[Tool]] = {}
    for t in tools:
        by_toolkit.setdefault(t.toolkit, []).append(t)
    chosen = [rng.choice(group) for group in by_toolkit.values()][:size]
    rest = [t for t in tools if t not in chosen]
    chosen += rng.sample(rest, size - len(chosen)) if size > len(chosen) else []
    return sorted(chosen, key=lambda t: (t.toolkit, t.name))
