"""DVC stage `train`: SFT of the model under test on the train split -> data/models/<name>-sft."""

from pathlib import Path

from fcsynth.chat.split import read_split
from fcsynth.config import load_params
from fcsynth.metrics import StageMetrics
from fcsynth.model_store import check_model, load_tokenizer, resolve_eval_model, resolve_model_path, tuned_identity
from fcsynth.paths import ROOT
from fcsynth.stage import run_stage
from fcsynth.train.examples import build_dataset_rows
from fcsynth.train.run import compute_dtype, train, write_loss_curve


def main(train_split: Path, out: Path, loss_curve: Path) -> None:
    cfg = load_params()
    base = resolve_eval_model(cfg)
    records = read_split(train_split)
    check_model(base, ROOT, "evaluate.model" if cfg.evaluate.model else "model")
    base_path = resolve_model_path(base, ROOT)
    tokenizer = load_tokenizer(base_path)
    metrics = StageMetrics("train", records_in=len(records))
    rows, style = build_dataset_rows(records, tokenizer)
    result = train(rows, base_path, tokenizer, cfg.train, cfg.seed, out, base.dtype)
    write_loss_curve(result.losses, loss_curve)
    metrics.records_out = result.sequences
    metrics.tokens = {"train_tokens": result.tokens, "loss_tokens": result.loss_tokens}
    if result.truncated:
        metrics.reject("truncated_to_max_seq_len", result.truncated)
    metrics.extra.update(
        base_model={"name": base.name, "path": base.path},
        tuned_model=tuned_identity(base, out, ROOT),
        prompt_style=style, compute_dtype=compute_dtype(cfg.train), lora=cfg.train.lora.enabled, trainable_params=result.trainable_params,
        steps=result.steps, epochs=cfg.train.epochs, train_wall_time_s=result.train_wall_s,
        first_loss=result.losses[0]["loss"] if result.losses else None, final_loss=result.final_loss,
        loss_per_step=result.losses,
    )
    metrics.write()


if __name__ == "__main__":
    run_stage("train", main, {
        "train_split": "the train split (JSONL)",
        "out": "the tuned model's folder",
        "loss_curve": "the loss per optimizer step (CSV)",
    })
