"""How often sampled tool subsets chain: the share of subsets of 2+ tools that are connected in
the catalog's tool graph (`fcsynth.catalog.graph`), with the graph walk and without it.

No LLM: the selections of a config are sampled as the scenarios stage samples them
(`fcsynth.generation.sampling.sample_subset`, `scenarios.tools_per_scenario`), `--samples`
subsets per selection, for each `--random-share` (1.0 = every pick random, the sampler
before the graph; default: 1.0 and the config's `scenarios.random_tool_share`). A tools file (`--tools`, e.g. a directory import) replaces the built-in
catalog; its selections are then its toolkits.

Run: python benchmarks/tool_graph.py [--overrides experiment=bfcl] [--tools FILE]
     -> benchmarks/results/tool_graph.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fcsynth.catalog.build import build_catalog
from fcsynth.catalog.graph import catalog_edges, connected, neighbours
from fcsynth.catalog.selection import select
from fcsynth.catalog.tools_file import read_tools_file
from fcsynth.config import compose, parse_config
from fcsynth.generation.sampling import rng_for, sample_subset
from fcsynth.paths import ROOT
from fcsynth.tools import Tool

OUT = Path(__file__).parent / "results" / "tool_graph.json"


def shares(selections: dict[str, list[Tool]], size: tuple[int, int], samples: int, random_share: float) -> dict:
    tools = {(t.toolkit, t.name): t for group in selections.values() for t in group}
    bundles = [sorted({t.toolkit for t in group}) for group in selections.values()]
    adjacent = neighbours(catalog_edges(list(tools.values()), [b for b in bundles if len(b) > 1]))
    multi = linked = 0
    for name, group in selections.items():
        for i in range(samples):
            subset = sample_subset(group, size, rng_for(0, name, str(i)), adjacent, random_share)
            if len(subset) > 1:
                multi += 1
                linked += connected([(t.toolkit, t.name) for t in subset], adjacent)
    return {"random_share": random_share, "subsets": multi, "connected": linked,
            "connected_share": round(linked / multi, 4) if multi else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--overrides", nargs="*", default=[])
    parser.add_argument("--tools", type=Path, help="a tools file instead of the config's catalog")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--random-share", type=float, nargs="*", help="default: 1.0 and scenarios.random_tool_share")
    args = parser.parse_args()
    cfg = parse_config(compose(args.overrides))
    args.random_share = args.random_share or [1.0, cfg.scenarios.random_tool_share]
    if args.tools:
        tools = read_tools_file(args.tools)
        selections: dict[str, list[Tool]] = {}
        for t in tools:
            selections.setdefault(t.toolkit, []).append(t)
    else:
        selections = select(build_catalog(cfg.catalog, ROOT).result.tools, cfg.toolkits)
    size = tuple(cfg.scenarios.tools_per_scenario)
    rows = [shares(selections, size, args.samples, r) for r in args.random_share]
    result = {"overrides": args.overrides, "tools": str(args.tools or "catalog"), "selections": len(selections),
              "tools_per_scenario": list(size), "samples_per_selection": args.samples, "rows": rows}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
