"""Catalog import time and peak memory: the shared real-world specs plus synthetic ones.

Each spec is imported with the default options (prompt budget 2048 tokens, `oversize:
trim`) in a fresh subprocess, so `peak_rss_mb` (resource.getrusage ru_maxrss, the whole
process including the interpreter) and `peak_py_mb` (tracemalloc, Python allocations only,
measured in a second run because tracing slows the import down) belong to that spec alone.
Timings (wall and CPU seconds) are the best of `--repeat` runs; on a shared machine the CPU
time is the steadier figure. Synthetic specs are generated here:

- `chains-N`: N operations whose bodies, parameters and responses share deep `$ref`
  chains (each chain schema refers to the next, 12 deep, plus shared parameter and
  response components); sizes 1,250 / 2,500 / 5,000 show how time grows with size.
- `dense-4mb`: a Stripe-like spec (~4 MB): 2,300 schemas and 700 operations whose "expandable" fields are
  `anyOf: [id string, $ref other]` to random others, so almost every schema is in one
  big ref cycle; cycle-exact inlining of it grows exponentially.

Run: python benchmarks/catalog_import.py [--repeat 2] [--quick] -> benchmarks/results/catalog_import.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FCSYNTH_SHARED_OPENAPI") or ROOT.parent / "shared" / "openapi")
RESULTS = ROOT / "benchmarks" / "results" / "catalog_import.json"


def chains_spec(operations: int, depth: int = 12, chains: int = 40, seed: int = 0) -> dict[str, Any]:
    """N operations sharing deep $ref chains (see the module docstring)."""
    rng = random.Random(seed)
    schemas: dict[str, Any] = {}
    for c in range(chains):
        for d in range(depth):
            props: dict[str, Any] = {f"f{i}": {"type": "string", "description": f"Field {i} of level {d}."} for i in range(4)}
            if d + 1 < depth:
                props["next"] = {"$ref": f"#/components/schemas/C{c}_{d + 1}"}
            schemas[f"C{c}_{d}"] = {"type": "object", "description": f"Chain {c} level {d}.", "properties": props, "required": ["f0"]}
    params = {"Limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
              "Cursor": {"name": "cursor", "in": "query", "schema": {"type": "string"}}}
    paths: dict[str, Any] = {}
    for k in range(operations):
        head = f"#/components/schemas/C{rng.randrange(chains)}_{rng.randrange(depth // 2)}"
        paths[f"/r{k}/{{id}}"] = {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "post": {
                "operationId": f"op{k}", "summary": f"Operation {k}.",
                "parameters": [{"$ref": "#/components/parameters/Limit"}, {"$ref": "#/components/parameters/Cursor"}],
                "requestBody": {"content": {"application/json": {"schema": {"$ref": head}}}},
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": head}}}}},
            },
        }
    return {"openapi": "3.0.3", "info": {"title": f"chains {operations}", "version": "1"}, "paths": paths,
            "components": {"schemas": schemas, "parameters": params}}


def dense_spec(schemas: int = 2300, operations: int = 700, fan: int = 5, seed: int = 0) -> dict[str, Any]:
    """A Stripe-like spec: expandable fields link every schema to random others."""
    rng = random.Random(seed)
    comps: dict[str, Any] = {}
    for i in range(schemas):
        props: dict[str, Any] = {f"field_{j}": {"type": "string", "description": "A field " * 5} for j in range(8)}
        for j in range(fan):
            props[f"rel_{j}"] = {"anyOf": [{"type": "string", "maxLength": 5000}, {"$ref": f"#/components/schemas/s{rng.randrange(schemas)}"}],
                                 "description": "Expandable " * 4}
        comps[f"s{i}"] = {"type": "object", "description": f"Schema {i}", "properties": props, "required": ["field_0"]}
    paths: dict[str, Any] = {}
    for k in range(operations):
        ref = f"#/components/schemas/s{rng.randrange(schemas)}"
        form = {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}, "obj": {"$ref": ref}}}
        paths[f"/v1/r{k}"] = {"post": {
            "operationId": f"op{k}",
            "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": form}}},
            "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": ref}}}}},
        }}
    return {"openapi": "3.0.0", "info": {"title": "dense", "version": "1"}, "paths": paths, "components": {"schemas": comps}}


def _one(path: str, trace: bool) -> None:
    """Child process: import one spec, print a JSON line of figures."""
    import resource
    import tracemalloc

    from fcsynth.catalog.openapi import import_openapi

    if trace:
        tracemalloc.start()
    start, cpu = time.perf_counter(), time.process_time()
    result = import_openapi(path, budget_tokens=2048, oversize="trim")
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    out = {"seconds": seconds, "cpu_seconds": round(cpu, 3), "entries": result.entries, "tools": len(result.tools),
           "skipped": dict(result.skipped), "flagged": {k: v for k, v in result.flagged.items()},
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if trace:
        out["peak_py_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    print(json.dumps(out))


def _run(path: Path, trace: bool = False) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, __file__, "--one", str(path)] + (["--trace"] if trace else []),
                          capture_output=True, text=True, env=env, check=True, timeout=1800)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(name: str, path: Path, repeat: int) -> dict[str, Any]:
    runs = [_run(path) for _ in range(repeat)]
    best = min(runs, key=lambda r: r["seconds"])
    traced = _run(path, trace=True)
    row = {"spec": name, "bytes": path.stat().st_size, **best, "peak_py_mb": round(traced["peak_py_mb"], 1),
           "ops_per_s": round(best["entries"] / best["seconds"], 1), "kept_pct": round(100 * best["tools"] / max(1, best["entries"]), 2)}
    row["seconds"] = round(row["seconds"], 3)
    row["peak_rss_mb"] = round(row["peak_rss_mb"], 1)
    print(f"{name:32} {row['bytes'] / 1e6:6.2f} MB {row['entries']:6} ops {row['tools']:6} tools "
          f"{row['seconds']:7.2f} s (cpu {row['cpu_seconds']:6.2f} s) {row['ops_per_s']:8.1f} ops/s rss {row['peak_rss_mb']:6.1f} MB py {row['peak_py_mb']:6.1f} MB", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs per spec (the fastest is kept)")
    parser.add_argument("--quick", action="store_true", help="only the synthetic specs")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _one(args.one, args.trace)
        return
    rows = []
    if not args.quick and (SHARED / "MANIFEST.tsv").exists():
        with (SHARED / "MANIFEST.tsv").open() as f:
            for entry in csv.DictReader(f, delimiter="\t"):
                rows.append(measure(entry["filename"], SHARED / entry["filename"], args.repeat))
    with tempfile.TemporaryDirectory() as tmp:
        synthetic = [(f"chains-{n}", chains_spec(n)) for n in (1250, 2500, 5000)] + [("dense-4mb", dense_spec())]
        for name, spec in synthetic:
            path = Path(tmp) / f"{name}.json"
            path.write_text(json.dumps(spec))
            rows.append(measure(name, path, args.repeat))
    load = os.getloadavg()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "loadavg_at_end": [round(x, 1) for x in load]},
        "options": {"prompt_budget_tokens": 2048, "oversize": "trim"},
        "specs": rows,
    }, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)} (load average {load[0]:.1f} on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
