"""One `train` optimizer step on the CPU, before/after: logits only where the loss needs them.

Loads the embedded SmolLM2-135M as the train stage does (float32 weights) and times a forward
and backward pass plus an AdamW step over one sequence of --tokens random tokens, --learned
of them learned (the default run's train split: 48.5k tokens in 15 sequences, 23% learned),
under bf16 autocast where the CPU has native bf16 (`train.dtype: auto`), else float32.

Settings:
  before  logits at every position, then the weighted loss over the learned ones
  after   fcsynth.train.weighting.model_loss: logits only where the next token is learned

Both settings' first losses on the same sequence are reported too: they are the same sum.
Run on an idle machine; each setting runs a warm-up step, then the settings take turns for
--rounds timed steps each (the median is quoted).

Run: python benchmarks/train_step.py -> benchmarks/results/train_step.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _batch(tokens: int, learned: float, seed: int) -> dict[str, Any]:
    import torch

    from fcsynth.train.weighting import IGNORE

    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 49000, (1, tokens), generator=gen)
    mask = torch.rand(1, tokens, generator=gen) < learned
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids),
            "labels": torch.where(mask, ids, torch.full_like(ids, IGNORE)), "loss_weights": mask.float()}


def _before_loss(model: Any, batch: dict[str, Any]) -> Any:
    """The weighted loss from the logits at every position (as `train` computed it before)."""
    import torch

    from fcsynth.train.weighting import weighted_loss

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits[:, :-1]
    return weighted_loss(logits, batch["labels"], batch["loss_weights"], torch.arange(logits.size(1)))


SETTINGS = ("before", "after")


def _setting(setting: str, batch: dict[str, Any]) -> Any:
    """A step function for `setting` (its own model and optimizer, the same initial weights)."""
    import torch
    from transformers import AutoModelForCausalLM

    from fcsynth.llm.cpu import resolve_dtype
    from fcsynth.model_store import embedded_model_dir
    from fcsynth.train.run import weights_dtype
    from fcsynth.train.weighting import model_loss

    compute = resolve_dtype("auto")
    weights = weights_dtype(compute, use_cpu=True)
    model = AutoModelForCausalLM.from_pretrained(str(embedded_model_dir(ROOT)), dtype=getattr(torch, weights))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if compute == "bfloat16" else nullcontext()

    def step() -> float:
        with autocast:
            loss = _before_loss(model, batch) if setting == "before" else model_loss(model, dict(batch))[0]
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.item()

    return step, {"compute_dtype": compute}


def measure(batch: dict[str, Any], rounds: int) -> dict[str, Any]:
    """Seconds per optimizer step of each setting (the median of `rounds`, the settings taking
    turns so a machine that slows down or speeds up meanwhile affects all alike) and the first
    step's loss."""
    import statistics

    steps = {s: _setting(s, batch) for s in SETTINGS}
    out = {s: {**info, "first_loss": round(fn(), 4), "s": []} for s, (fn, info) in steps.items()}  # warm-up
    for _ in range(rounds):
        for s, (fn, _) in steps.items():
            start = time.perf_counter()
            fn()
            out[s]["s"].append(round(time.perf_counter() - start, 2))
    for v in out.values():
        v["s_per_step"] = statistics.median(v["s"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=3200)
    parser.add_argument("--learned", type=float, default=0.23)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "train_step.json")
    args = parser.parse_args()
    batch = _batch(args.tokens, args.learned, seed=0)
    results = measure(batch, args.rounds)
    report = {"machine": platform.processor() or platform.machine(), "tokens": args.tokens,
              "learned": args.learned, "rounds": args.rounds, **results,
              "speedup": round(results["before"]["s_per_step"] / results["after"]["s_per_step"], 2)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
