"""DVC stage `evaluate`: score a model's tool calls on the test split (metrics/evaluate.json)."""

from fcsynth.config import load_params
from fcsynth.errors import FcsynthError
from fcsynth.evaluate.run import evaluate, load_tokenizer, read_test_split, resolve_eval_model, write_steps
from fcsynth.metrics import StageMetrics
from fcsynth.model_store import resolve_model_path
from fcsynth.paths import DATA_DIR, ROOT
from fcsynth.stage import run_stage, stage_context

TEST = DATA_DIR / "dataset" / "test.jsonl"
OUT = DATA_DIR / "evaluate" / "steps.parquet"


def main() -> None:
    cfg = load_params()
    model_cfg = resolve_eval_model(cfg)
    records = read_test_split(TEST)
    if not records:
        raise FcsynthError(f"{TEST}: no test records to evaluate (export.test_per_selection is 0?); nothing written")
    model_path = resolve_model_path(model_cfg, ROOT)
    tokenizer = load_tokenizer(model_path) if cfg.llm.backend == "vllm" else None
    metrics = StageMetrics("evaluate")
    with stage_context(cfg, ROOT, model=model_cfg) as ctx:
        result = evaluate(
            records, ctx.get_backend, tokenizer, cfg.evaluate, cfg.seed,
            checkpoint=ctx.checkpoint("evaluate"), max_model_len=model_cfg.max_model_len,
        )
    if not result.rows:
        raise FcsynthError(
            f"no test step to score ({result.skipped_too_long} skipped: prompt longer than"
            f" max_model_len={model_cfg.max_model_len}); nothing written"
        )
    write_steps(result.rows, OUT)
    overall = result.summary["overall"]
    metrics.records_in = len(records)
    metrics.records_out = overall["steps"]
    if result.skipped_too_long:
        metrics.reject("prompt_too_long", result.skipped_too_long)
    metrics.tokens = {
        "requests": overall["steps"],
        "prompt_tokens": overall["prompt_tokens"],
        "completion_tokens": overall["completion_tokens"],
    }
    metrics.extra.update(
        model={"name": model_cfg.name, "path": model_cfg.path},
        prompt_style=result.prompt_style,
        generated=result.generated,
        **result.summary,
    )
    metrics.write()


if __name__ == "__main__":
    run_stage("evaluate", main)
