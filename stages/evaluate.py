"""DVC stage `evaluate`: score a model's tool calls on the test split (metrics/evaluate.json)."""

from fcsynth.config import load_params
from fcsynth.errors import FcsynthError
from fcsynth.evaluate import run as evaluate
from fcsynth.evaluate.run import read_test_split, resolve_eval_model, write_steps
from fcsynth.paths import DATA_DIR, ROOT
from fcsynth.stage import run_stage, stage_context

TEST = DATA_DIR / "dataset" / "test.jsonl"
OUT = DATA_DIR / "evaluate" / "steps.parquet"


def main() -> None:
    cfg = load_params()
    records = read_test_split(TEST)
    if not records:
        raise FcsynthError(f"{TEST}: no test records to evaluate (export.test_per_selection is 0?); nothing written")
    with stage_context(cfg, ROOT, model=resolve_eval_model(cfg)) as ctx:
        rows, metrics = evaluate.run(ctx, records)
    write_steps(rows, OUT)
    metrics.write()


if __name__ == "__main__":
    run_stage("evaluate", main)
