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


Adjacency = dict[tuple[str, str], set[tuple[str, str]]]  # (toolkit, tool) -> its neighbours in the tool graph


def sample_subset(
    tools: list[Tool], size_range: tuple[int, int], rng: random.Random, adjacent: Adjacency | None = None,
    random_share: float = 1.0,
) -> list[Tool]:
    """A subset of the selection's tools that walks the tool graph (`fcsynth.catalog.graph`):
    it starts at a tool with a neighbour in the selection (in a bundle, one in another of its
    toolkits where there is one), and each further tool neighbours one already chosen, except
    a `random_share` of picks (and when no neighbour is left) that take any. A bundle's
    toolkits are each covered once before any is used twice."""
    lo, hi = size_range
    size = max(1, min(len(tools), rng.randint(lo, hi)))
    adjacent = adjacent or {}
    keys = {(t.toolkit, t.name) for t in tools}
    chosen: list[Tool] = []
    while len(chosen) < size:
        covered = {t.toolkit for t in chosen}
        pool = [t for t in tools if t.toolkit not in covered] or [t for t in tools if t not in chosen]
        if chosen:
            near = set().union(*(adjacent.get((t.toolkit, t.name), set()) for t in chosen))
        else:
            near = {k for k in keys if adjacent.get(k, set()) & keys}
            bridges = {k for k in near if any(n[0] != k[0] for n in adjacent[k] & keys)}
            near = bridges or near
        linked = [t for t in pool if (t.toolkit, t.name) in near]
        pick_random = rng.random() < random_share
        chosen.append(rng.choice(pool if pick_random or not linked else linked))
    return sorted(chosen, key=lambda t: (t.toolkit, t.name))
