"""DVC stage `evaluate`: score the base and the tuned model on the test split.

Each model runs in its own engine, one after the other (the first is closed before the
second starts). Writes metrics/evaluate.json (`base`, `tuned`, `delta`), the per-step
table, the side-by-side plot and data/dataset/EVALUATION.md (the card links to it).
"""

from fcsynth.config import load_params
from fcsynth.evaluate.compare import deltas, evaluation_markdown, write_plot
from fcsynth.evaluate.run import (
    evaluate, load_tokenizer, read_test_split, resolve_eval_model, tuned_checkpoint, write_steps,
)
from fcsynth.metrics import StageMetrics
from fcsynth.model_store import resolve_model_path
from fcsynth.paths import DATA_DIR, METRICS_DIR, ROOT
from fcsynth.stage import run_stage, stage_context
from fcsynth.train.run import require_tuned, tuned_model_config

TEST = DATA_DIR / "dataset" / "test.jsonl"
OUT = DATA_DIR / "evaluate" / "steps.parquet"
CARD = DATA_DIR / "dataset" / "EVALUATION.md"
PLOT = METRICS_DIR / "plots" / "evaluate.csv"


def main() -> None:
    cfg = load_params()
    base = resolve_eval_model(cfg)
    tuned = tuned_model_config(base)
    records = read_test_split(TEST)
    require_tuned(ROOT / tuned.path)
    metrics = StageMetrics("evaluate", records_in=len(records))
    rows, blocks, models, by_selection = [], {}, {}, {}
    skipped = 0
    for label, model_cfg in (("base", base), ("tuned", tuned)):
        model_path = resolve_model_path(model_cfg, ROOT)
        tokenizer = load_tokenizer(model_path) if cfg.llm.backend == "vllm" else None
        with stage_context(cfg, ROOT, model=model_cfg) as ctx:
            checkpoint = ctx.checkpoint("evaluate") if label == "base" else tuned_checkpoint(ctx, ROOT / tuned.path)
            result = evaluate(
                records, ctx.get_backend, tokenizer, cfg.evaluate, cfg.seed,
                checkpoint=checkpoint, max_model_len=model_cfg.max_model_len,
            )
        rows += [{**r, "model": label} for r in result.rows]
        blocks[label] = result.summary["overall"]
        by_selection[label] = result.summary["by_selection"]
        models[label] = {"name": model_cfg.name, "path": model_cfg.path,
                         "prompt_style": result.prompt_style, "generated": result.generated}
        skipped += result.skipped_too_long
    write_steps(rows, OUT)
    metrics.records_out = sum(b["steps"] for b in blocks.values())
    if skipped:
        metrics.reject("prompt_too_long", skipped)
    metrics.tokens = {
        "requests": metrics.records_out,
        "prompt_tokens": sum(b["prompt_tokens"] for b in blocks.values()),
        "completion_tokens": sum(b["completion_tokens"] for b in blocks.values()),
    }
    metrics.extra.update(
        base=blocks["base"], tuned=blocks["tuned"], delta=deltas(blocks["base"], blocks["tuned"]),
        models=models, by_selection=by_selection,
    )
    write_plot(blocks, PLOT)
    data = metrics.as_dict()
    CARD.write_text(evaluation_markdown(data))
    metrics.write()


if __name__ == "__main__":
    run_stage("evaluate", main)
