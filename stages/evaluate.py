"""DVC stage `evaluate`: score the base and the tuned model on the test split.

Each model runs in its own engine, one after the other (the first is closed before the
second starts). Writes metrics/evaluate.json (`base`, `tuned`, `delta`), the per-step
table, the side-by-side plot and data/dataset/EVALUATION.md (the card links to it).
"""

from pathlib import Path

from fcsynth.atomic import write_text_atomic
from fcsynth.bfcl.evaluate import run_bfcl
from fcsynth.chat.split import read_split
from fcsynth.config import load_params
from fcsynth.errors import FcsynthError
from fcsynth.evaluate import run as evaluate
from fcsynth.evaluate.compare import (
    bfcl_markdown,
    bfcl_summaries,
    deltas,
    evaluation_markdown,
    write_bfcl_plot,
    write_plot,
)
from fcsynth.evaluate.run import tuned_checkpoint, write_bfcl_rows, write_steps
from fcsynth.llm.context import stage_context
from fcsynth.metrics import StageMetrics
from fcsynth.model_store import require_tuned, resolve_eval_model, tuned_model_config
from fcsynth.paths import ROOT
from fcsynth.stage import run_stage


def main(test_split: Path, tuned_model: Path, steps: Path, bfcl_steps: Path, card: Path, plot: Path, bfcl_plot: Path) -> None:
    cfg = load_params()
    base = resolve_eval_model(cfg)
    tuned = tuned_model_config(base, tuned_model, ROOT)
    records = read_split(test_split)
    if not records:
        raise FcsynthError(f"{test_split}: no test records to evaluate (export.test_fraction is 0?); nothing written")
    require_tuned(tuned_model)
    metrics = StageMetrics("evaluate", records_in=len(records))  # created first: its wall time covers both models
    rows, bfcl_rows, per_model = [], [], {}
    keys = {"base": "evaluate.model" if cfg.evaluate.model else "model", "tuned": "train (the tuned model)"}
    for label, model_cfg in (("base", base), ("tuned", tuned)):
        with stage_context(cfg, ROOT, model=model_cfg, key=keys[label]) as ctx:
            checkpoint = tuned_checkpoint(ctx, tuned_model) if label == "tuned" else ctx.checkpoint(evaluate.STAGE)
            model_rows, per_model[label] = evaluate.run(ctx, records, checkpoint)
            bfcl_rows += run_bfcl(ctx, checkpoint, label)
        rows += [{**r, "model": label} for r in model_rows]
    write_steps(rows, steps)
    write_bfcl_rows(bfcl_rows, bfcl_steps)
    for m in per_model.values():
        metrics.records_out += m.records_out
        metrics.reasons.update(m.reasons)
    metrics.tokens = {k: sum(m.tokens[k] for m in per_model.values()) for k in per_model["base"].tokens}
    blocks = {label: m.extra["overall"] for label, m in per_model.items()}
    metrics.extra.update(
        base=blocks["base"], tuned=blocks["tuned"], delta=deltas(blocks["base"], blocks["tuned"]),
        models={label: {**m.extra["model"], "prompt_style": m.extra["prompt_style"], "generated": m.extra["generated"]}
                for label, m in per_model.items()},
        by_selection={label: m.extra["by_selection"] for label, m in per_model.items()},
    )
    markdown = evaluation_markdown(metrics.as_dict())
    if cfg.evaluate.bfcl.categories:
        bfcl = bfcl_summaries(bfcl_rows, list(cfg.evaluate.bfcl.categories))
        metrics.extra["bfcl"] = bfcl
        write_bfcl_plot(bfcl, bfcl_plot)
        markdown += bfcl_markdown(bfcl, full=cfg.evaluate.bfcl.full)
    write_plot(blocks, plot)
    write_text_atomic(card, markdown)
    metrics.write()


if __name__ == "__main__":
    run_stage("evaluate", main, {
        "test_split": "the test split (JSONL)",
        "tuned_model": "the tuned model's folder (`train`'s output)",
        "steps": "the scored steps of both models (Parquet)",
        "bfcl_steps": "the scored BFCL entries of both models (Parquet)",
        "card": "the evaluation card (Markdown)",
        "plot": "base vs tuned per figure (CSV)",
        "bfcl_plot": "BFCL accuracy per category (CSV)",
    })
