"""Weigh the two kinds of assistant step in the loss: call steps and text steps.

A call step's tokens (JSON calls) far outnumber a text step's, so a plain mean over the
learned tokens teaches a small model to call at every step and forget to answer in text.
With `train.text_share` s, text-step tokens share s of the loss and call-step tokens the
rest: every text-step token weighs `s * total / text_tokens` and every call-step token
`(1 - s) * total / call_tokens` (the weights average 1 over the learned tokens, so the
learning rate keeps its meaning). With null, every learned token weighs 1: the plain SFT loss.

The loss is the weighted token cross-entropy, summed over the micro-batches of one optimizer
step and divided by their learned tokens (as transformers does for the plain loss). The model
computes logits only where the next token is learned (`logits_to_keep`): the vocabulary
projection and its softmax over every prompt and tool-result token cost a quarter of a step.
"""

from __future__ import annotations

from typing import Any

IGNORE = -100


def kind_weights(rows: list[dict[str, list[int]]], text_share: float | None) -> dict[int, float]:
    """The weight of a call-step (1) and a text-step (2) token."""
    counts = {kind: sum(r["step_kinds"].count(kind) for r in rows) for kind in (1, 2)}
    if text_share is None or not all(counts.values()):
        return {1: 1.0, 2: 1.0}
    total = sum(counts.values())
    return {1: (1 - text_share) * total / counts[1], 2: text_share * total / counts[2]}


def weighted_rows(rows: list[dict[str, list[int]]], text_share: float | None, max_len: int) -> list[dict[str, Any]]:
    """`input_ids`, `labels` (-100 off the learned spans) and `loss_weights`, cut at `max_len`."""
    weights = kind_weights(rows, text_share)
    out = []
    for r in rows:
        ids, kinds = r["input_ids"][:max_len], r["step_kinds"][:max_len]
        out.append({
            "input_ids": ids,
            "labels": [t if k else IGNORE for t, k in zip(ids, kinds, strict=True)],
            "loss_weights": [weights[k] if k else 0.0 for k in kinds],
        })
    return out


class WeightedCollator:
    """Pads `input_ids` (pad id), `labels` (-100) and `loss_weights` (0) to the batch's longest row."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        longest = max(len(e["input_ids"]) for e in examples)

        def pad(key: str, value: float, dtype: Any) -> Any:
            return torch.tensor([list(e[key]) + [value] * (longest - len(e[key])) for e in examples], dtype=dtype)

        return {
            "input_ids": pad("input_ids", self.pad_id, torch.long),
            "attention_mask": torch.tensor([[1] * len(e["input_ids"]) + [0] * (longest - len(e["input_ids"]))
                                            for e in examples], dtype=torch.long),
            "labels": pad("labels", IGNORE, torch.long),
            "loss_weights": pad("loss_weights", 0.0, torch.float32),
        }


def learned_positions(labels: Any) -> Any:
    """Positions whose next token is learned in some row of the batch (the logits the loss needs)."""
    return (labels[:, 1:] != IGNORE).any(dim=0).nonzero().squeeze(1)


def weighted_loss(logits: Any, labels: Any, weights: Any, positions: Any, num_items_in_batch: Any = None) -> Any:
    """Sum of the weighted next-token cross-entropies over the learned tokens, divided by the
    learned tokens of the optimizer step (`num_items_in_batch`) or of this batch. `logits` are
    the model's at `positions` of the batch's rows (`learned_positions`)."""
    import torch.nn.functional as F

    targets, weights = labels[:, 1:][:, positions], weights[:, 1:][:, positions]
    ce = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1),
                         ignore_index=IGNORE, reduction="none")
    total = (ce * weights.reshape(-1).to(ce.dtype)).sum()
    count = num_items_in_batch if num_items_in_batch is not None else (labels[:, 1:] != IGNORE).sum()
    return total / count


def model_loss(model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> tuple[Any, Any]:
    """The weighted loss of `model` on a collated batch (its `labels` and `loss_weights` are taken
    out of `inputs`), and the model's outputs."""
    weights, labels = inputs.pop("loss_weights"), inputs.pop("labels")
    positions = learned_positions(labels)
    outputs = model(**inputs, use_cache=False, logits_to_keep=positions)
    return weighted_loss(outputs.logits, labels, weights, positions, num_items_in_batch), outputs


def trainer_class() -> type:
    """TRL's SFTTrainer with the weighted loss."""
    from trl import SFTTrainer

    class WeightedSFTTrainer(SFTTrainer):
        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            loss, outputs = model_loss(model, inputs, num_items_in_batch)
            return (loss, outputs) if return_outputs else loss

    return WeightedSFTTrainer
