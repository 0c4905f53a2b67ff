"""How well curate's placeholder check recognizes copies of the prompt example (no LLM).

Builds the prompt example of N conversations over random 3-tool sets (real OpenAPI specs
from ../shared/openapi plus the built-in toolkits), treats each as if a model had copied it,
and counts the string values flagged under the conversation's own record id (copies must be
caught) and under another id (values of another conversation's example: should not be).

Run: python benchmarks/example_copies.py [--n 200] [--specs-dir ../shared/openapi] -> benchmarks/results/example_copies.json
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from fcsynth.catalog import openapi
from fcsynth.catalog.tools_file import read_tools_file
from fcsynth.config import load_params
from fcsynth.constraints.example import example_messages
from fcsynth.quality.leaves import argument_leaves, json_leaves, parse_json
from fcsynth.quality.placeholders import placeholders
from fcsynth.tools import Tool

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT.parent / "shared" / "openapi"


def load_tools(specs: Path, max_specs: int) -> list[Tool]:
    tools: list[Tool] = []
    for spec in sorted(specs.glob("*.y*ml"))[:max_specs]:
        try:
            tools += openapi.import_openapi(spec).tools
        except Exception:  # noqa: BLE001 - a spec the importer rejects is just not sampled
            continue
    return tools + [t for f in sorted((ROOT / "data" / "builtin_tools").glob("*.json")) for t in read_tools_file(f)]


def strings_of(messages: list[dict], schemas: dict) -> int:
    n = 0
    for m in messages:
        for c in m.get("tool_calls") or []:
            leaves = argument_leaves(c["function"]["arguments"], schemas[c["function"]["name"]])
            n += sum(isinstance(leaf.value, str) and leaf.free for leaf in leaves)
        if m["role"] == "tool":
            n += sum(isinstance(leaf.value, str) for leaf in json_leaves(parse_json(m["content"])))
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--specs", type=int, default=12, help="how many OpenAPI specs to import")
    ap.add_argument("--specs-dir", type=Path, default=SPECS)
    ap.add_argument("--similarity", type=float, default=90)
    args = ap.parse_args()
    tools = load_tools(args.specs_dir, args.specs)
    rnd = random.Random(3)
    totals = {"conversations": 0, "strings": 0, "flagged_own_id": 0, "flagged_other_id": 0}
    for i in range(args.n):
        sample = list({t.name: t for t in rnd.sample(tools, 3)}.values())
        schemas = {t.name: t.parameters for t in sample}
        msgs = example_messages(sample, load_params().dml, key=f"k-{i}")
        n = strings_of(msgs, schemas)
        if not n:
            continue
        own = placeholders(f"k-{i}", msgs, schemas, args.similarity)[1]
        other = placeholders(f"other-{i}", msgs, schemas, args.similarity)[1]
        totals["conversations"] += 1
        totals["strings"] += n
        totals["flagged_own_id"] += sum("user turn" not in f for f in own)
        totals["flagged_other_id"] += sum("user turn" not in f and "copied" in f for f in other)
    result = {"tools": len(tools), **totals,
              "own_id_rate": round(totals["flagged_own_id"] / totals["strings"], 4),
              "other_id_rate": round(totals["flagged_other_id"] / totals["strings"], 4)}
    out = ROOT / "benchmarks" / "results" / "example_copies.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
