"""Run TRL's SFTTrainer on pre-tokenized train records and save an HF folder vLLM can load."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fcsynth.atomic import write_text_atomic
from fcsynth.config import TrainConfig
from fcsynth.errors import FcsynthError


@dataclass
class TrainResult:
    """What training did: counts, losses per optimizer step, and timing."""

    sequences: int
    tokens: int
    loss_tokens: int
    truncated: int
    steps: int
    losses: list[dict[str, float]] = field(default_factory=list)
    train_wall_s: float = 0.0
    trainable_params: int = 0

    @property
    def final_loss(self) -> float | None:
        return self.losses[-1]["loss"] if self.losses else None


def compute_dtype(cfg: TrainConfig) -> str:
    """The dtype training computes in: `auto` is bfloat16 on a GPU or a bf16-native CPU, else float32."""
    from fcsynth.llm.cpu import resolve_dtype

    return resolve_dtype(cfg.dtype)


def weights_dtype(compute: str, use_cpu: bool) -> str:
    """On a GPU the weights are loaded in the compute dtype (memory); on a CPU they stay float32
    and bf16/fp16 run as autocast mixed precision, so small updates are not rounded away."""
    return "float32" if use_cpu else compute


def _sft_config(cfg: TrainConfig, seed: int, work_dir: Path, use_cpu: bool) -> Any:
    from trl import SFTConfig

    compute = compute_dtype(cfg)

    return SFTConfig(
        output_dir=str(work_dir),
        num_train_epochs=cfg.epochs,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup,
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        max_length=cfg.max_seq_len,
        gradient_checkpointing=cfg.gradient_checkpointing,
        bf16=compute == "bfloat16",
        fp16=compute == "float16" and not use_cpu,
        use_cpu=use_cpu,
        seed=seed,
        data_seed=seed,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        packing=False,
        remove_unused_columns=False,  # loss_weights reach compute_loss (fcsynth.train.weighting)
    )


def _load_model(path: str, cfg: TrainConfig, use_cpu: bool) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    dtype = weights_dtype(compute_dtype(cfg), use_cpu)
    try:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype))
    except (OSError, ValueError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise FcsynthError(f"train: cannot load the base model from {path!r}: {first}") from None
    if cfg.lora.enabled:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(
            r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
            target_modules=cfg.lora.target_modules, task_type="CAUSAL_LM",
        ))
    return model


def train(rows: list[dict[str, list[int]]], base_path: str, tokenizer: Any, cfg: TrainConfig, seed: int,
          out_dir: Path, save_dtype: str) -> TrainResult:
    """Fine-tune the model at `base_path` on `rows` (input_ids, assistant_masks, step_kinds); save to `out_dir`.

    The folder is written next to `out_dir` and renamed into place, so a failed run leaves
    no half-written model. LoRA adapters are merged, so the folder is a plain HF model.
    """
    import torch
    from datasets import Dataset

    from fcsynth.train.weighting import WeightedCollator, trainer_class, weighted_rows

    if not rows:
        raise FcsynthError("data/dataset/train.jsonl: no record has an assistant message to learn")
    use_cpu = not torch.cuda.is_available()
    model = _load_model(base_path, cfg, use_cpu)
    work = out_dir.parent / f".{out_dir.name}.partial"
    shutil.rmtree(work, ignore_errors=True)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    trainer = trainer_class()(
        model=model, args=_sft_config(cfg, seed, work / "trainer", use_cpu),
        train_dataset=Dataset.from_list(weighted_rows(rows, cfg.text_share, cfg.max_seq_len)),
        processing_class=tokenizer, data_collator=WeightedCollator(pad_id),
    )
    started = time.monotonic()
    trainer.train()
    wall = time.monotonic() - started
    losses = [{"step": int(h["step"]), "loss": float(h["loss"])} for h in trainer.state.log_history if "loss" in h]
    model = trainer.model
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if cfg.lora.enabled:
        model = model.merge_and_unload()
    # `auto` picks the engine's dtype at load time; the stored weights stay machine-independent (bf16).
    model = model.to(getattr(torch, "bfloat16" if save_dtype == "auto" else save_dtype))
    shutil.rmtree(work / "trainer", ignore_errors=True)
    model.save_pretrained(work, safe_serialization=True)
    tokenizer.save_pretrained(work)
    shutil.rmtree(out_dir, ignore_errors=True)
    work.rename(out_dir)
    tokens = sum(len(r["input_ids"][: cfg.max_seq_len]) for r in rows)
    return TrainResult(
        sequences=len(rows), tokens=tokens,
        loss_tokens=sum(sum(r["assistant_masks"][: cfg.max_seq_len]) for r in rows),
        truncated=sum(len(r["input_ids"]) > cfg.max_seq_len for r in rows),
        steps=int(trainer.state.global_step), losses=losses, train_wall_s=round(wall, 3),
        trainable_params=trainable,
    )


def write_loss_curve(losses: list[dict[str, float]], path: Path) -> None:
    """The loss per optimizer step as CSV (`step,loss`), the `train` DVC plot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, "step,loss\n" + "".join(f"{int(x['step'])},{x['loss']:.6f}\n" for x in losses))
