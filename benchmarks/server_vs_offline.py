"""Throughput of the `openai` backend against a local vLLM server vs the offline engine.

The same batch of conversation requests (chat messages, each under the DML grammar of its
own tools, its own seed) goes through fcsynth's two backends back to back: first the
offline `vllm.LLM` engine (then closed), then `python -m vllm.entrypoints.openai.api_server`
with the same engine settings and the `openai` backend (all requests in flight). Each
mode runs a warm-up batch, then --rounds timed batches; throughput = completion tokens
(as each backend reports them) / wall time of the batch, best round. Only one engine runs
at a time.

Run: python benchmarks/server_vs_offline.py -> benchmarks/results/server_vs_offline.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_requests(batch: int, max_tokens: int, seed: int) -> list:
    """`batch` assistant-turn requests over the built-in toolkits, under the grammars the simulation builds."""
    from outlines.types import CFG

    from fcsynth.catalog.tools_file import read_tools_file
    from fcsynth.config import SamplingConfig, load_params
    from fcsynth.constraints.turns import assistant_grammar
    from fcsynth.llm import Request, derive_seed

    kits = sorted((ROOT / "data" / "builtin_tools").glob("*.json"))
    sampling = SamplingConfig(temperature=0.8, top_p=0.95, max_tokens=max_tokens, repetition_penalty=1.0)
    requests = []
    for i in range(batch):
        tools = read_tools_file(kits[i % len(kits)])[:3]
        cfg = load_params()
        grammar = assistant_grammar(tools, cfg.dml, [], "either", (1, 2), cfg.conversations.max_tokens)
        names = ", ".join(t.name for t in tools)
        ask = f"Write a short conversation in which a user asks an assistant for help; the assistant can call {names}."
        requests.append(Request(
            id=f"bench-{i:03d}", sampling=sampling, seed=derive_seed(seed, f"bench-{i}"),
            messages=[{"role": "user", "content": ask}], constraint=CFG(grammar.lark),
        ))
    return requests


def timed(backend, requests: list, rounds: int) -> dict:
    """Warm up, then the best of `rounds` batches: tokens/s, requests/s, and the texts of the last."""
    list(backend.generate(requests[:2]))
    best, texts = None, {}
    for _ in range(rounds):
        start = time.perf_counter()
        done = list(backend.generate(requests))
        wall = time.perf_counter() - start
        tokens = sum(c.completion_tokens for c in done)
        texts = {c.id: c.text for c in done}
        if best is None or tokens / wall > best["tokens_per_s"]:
            best = {"wall_s": round(wall, 2), "completion_tokens": tokens,
                    "tokens_per_s": round(tokens / wall, 1), "requests_per_s": round(len(done) / wall, 3),
                    "errors": sum(c.finish_reason == "error" for c in done)}
    return {**best, "texts": texts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from fcsynth.config import OpenAIConfig, compose, parse_config
    from fcsynth.llm.openai_backend import OpenAIBackend
    from fcsynth.llm.serve import local_vllm_server
    from fcsynth.llm.vllm_backend import VLLMBackend
    from fcsynth.model_store import embedded_model_dir

    cfg = parse_config(compose())
    model_dir = embedded_model_dir(ROOT)
    requests = build_requests(args.batch, args.max_tokens, cfg.seed)
    llm = cfg.llm.model_copy(update={"max_num_seqs": args.batch})
    max_len, dtype = cfg.model.max_model_len, cfg.model.dtype

    offline_backend = VLLMBackend(str(model_dir), llm, max_len, dtype)
    offline = timed(offline_backend, requests, args.rounds)
    offline_backend.close()
    del offline_backend

    with tempfile.TemporaryDirectory() as tmp, \
            local_vllm_server(model_dir, cfg.model.name, llm, max_len, dtype, Path(tmp) / "server.log") as url:
        server_backend = OpenAIBackend(OpenAIConfig(
            backend="openai", base_url=url, model=cfg.model.name, api_key_env=None,
            max_concurrency=args.batch, timeout_s=600, max_retries=2,
        ))
        server = timed(server_backend, requests, args.rounds)
        server_backend.close()

    same = sum(offline["texts"][i] == server["texts"].get(i) for i in offline["texts"])
    result = {
        "batch": args.batch, "max_tokens": args.max_tokens, "rounds": args.rounds,
        "model": cfg.model.name, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "offline": {k: v for k, v in offline.items() if k != "texts"},
        "server": {k: v for k, v in server.items() if k != "texts"},
        "server_over_offline_tokens_per_s": round(server["tokens_per_s"] / offline["tokens_per_s"], 3),
        "identical_texts": f"{same}/{len(offline['texts'])}",
    }
    out = ROOT / "benchmarks" / "results" / "server_vs_offline.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
