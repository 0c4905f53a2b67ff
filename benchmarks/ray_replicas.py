"""`llm=ray` throughput with 1 vs 2 engine replicas on the embedded SmolLM2-135M.

Each setting runs in its own process, on a local Ray cluster that process starts (RAY_ADDRESS
unset), through fcsynth's RayBackend: `--requests` JSON-constrained requests of at most
`--max-tokens` tokens each (a note of up to 2000 chars, so most run to the limit).

  1 replica   cpus_per_replica = all cores (one engine, every thread)
  2 replicas  cpus_per_replica = cores / 2 (two engines, their threads unbound)

Reported: wall time of the whole `generate` call, replica start-up (Ray workers, engine
load) included, as every stage pays it; the time to the first completion; and completion
tokens per second of wall time. On this 2-core machine two replicas share the same two
cores, so the ratio shows what Ray and a split machine cost, not a speed-up; on a cluster
each replica has its own GPU or node.

Run: python benchmarks/ray_replicas.py [--requests 32 --max-tokens 128] -> benchmarks/results/ray_replicas.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "ray_replicas.json"
SCHEMA = {"type": "object", "properties": {"note": {"type": "string", "maxLength": 2000}}, "required": ["note"],
          "additionalProperties": False}


def measure(replicas: int, requests: int, max_tokens: int) -> dict:
    """One setting in this process: a local cluster, `replicas` replicas, the timed batch."""
    from fcsynth.config import ModelConfig, RayConfig, compose, parse_config
    from fcsynth.llm.constraints import JsonSchema
    from fcsynth.llm.cpu import usable_cores
    from fcsynth.llm.ray_backend import RayBackend
    from fcsynth.model_store import embedded_model_dir
    from fcsynth.runner import make_request

    os.environ.pop("RAY_ADDRESS", None)
    base = parse_config(compose(["llm=ray"])).llm
    cores = usable_cores()
    cfg = RayConfig.model_validate({**base.model_dump(), "replicas": replicas,
                                    "cpus_per_replica": max(1, cores // replicas), "max_num_seqs": 16})
    model = ModelConfig(name="smollm2-135m-instruct", source="local", path=str(embedded_model_dir(ROOT)),
                        gguf_package=None, max_model_len=4096, dtype="auto")
    sampling = parse_config(compose()).sampling.model_copy(update={"repetition_penalty": 1.0})
    batch = [make_request(f"r{i}", f"Write a long note number {i} as JSON.", JsonSchema(json.dumps(SCHEMA)),
                          sampling, max_tokens, 1000 + i) for i in range(requests)]
    backend = RayBackend(cfg, model, ROOT)
    try:
        started = time.perf_counter()
        tokens, first = 0, None
        for completion in backend.generate(batch):
            first = first if first is not None else time.perf_counter() - started
            tokens += completion.completion_tokens
        wall = time.perf_counter() - started
    finally:
        backend.close()
    return {"replicas": replicas, "cpus_per_replica": cfg.cpus_per_replica, "requests": requests,
            "completion_tokens": tokens, "wall_s": round(wall, 2), "first_completion_s": round(first or 0.0, 2), "tokens_per_s": round(tokens / wall, 1),
            "nodes": len(backend.by_node)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.requests, args.max_tokens)))
        return
    rows = []
    for replicas in (1, 2):
        proc = subprocess.run([sys.executable, __file__, "--one", str(replicas), "--requests", str(args.requests),
                               "--max-tokens", str(args.max_tokens)], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"settings": rows, "ratio_2_vs_1": round(rows[1]["tokens_per_s"] / rows[0]["tokens_per_s"], 3)},
                                  indent=2) + "\n")
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
