"""Train records -> token ids + an assistant mask, rendered exactly as `evaluate` prompts.

Every evaluation step of a record (`evaluate.steps.cut_steps`) is one learned span: the
step's prompt is what `PromptBuilder.build` sends the model, and the span is what follows
it when the gold assistant message is rendered too (its text, its tool calls in the
prompt style's markup, and the end-of-turn token). Steps of one record share one sequence
while each step's prompt extends the previous render; a template that rewrites earlier
turns (e.g. drops past reasoning) starts a new sequence instead, so every span is still
learned after exactly the prompt it is scored on.

Each learned token also carries its step's kind (`step_kinds`: 1 on a call step, 2 on a text
step, 0 elsewhere), so training can weigh the two kinds (`train.text_share`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fcsynth.chat.prompting import PromptBuilder
from fcsynth.chat.steps import cut_steps
from fcsynth.errors import FcsynthError


@dataclass(frozen=True)
class Example:
    """One training sequence: its text and the character spans the loss is taken on."""

    record_id: str
    text: str
    spans: list[tuple[int, int]]
    kinds: list[str]  # per span: "call" or "text"


def record_examples(record: dict[str, Any], builder: PromptBuilder) -> list[Example]:
    """The training sequences of one record (one, unless the template rewrites history)."""
    examples: list[Example] = []
    text, spans, kinds = "", [], []
    for step in cut_steps(record):
        prompt = builder.render(step.history, step.tools)
        gold = record["messages"][step.index]
        answered = builder.render([*step.history, gold], step.tools, add_generation_prompt=False)
        if not answered.startswith(prompt):
            raise FcsynthError(
                f"train record {step.record_id}: the chat template does not render message {step.index} "
                "after its own generation prompt, so its assistant tokens cannot be found"
            )
        if not prompt.startswith(text):
            examples.append(Example(step.record_id, text, spans, kinds))
            spans, kinds = [], []
        spans.append((len(prompt), len(answered)))
        kinds.append(step.kind)
        text = answered
    if spans:
        examples.append(Example(record["id"], text, spans, kinds))
    return examples


STEP_KIND_IDS = {"call": 1, "text": 2}


def tokenize_example(example: Example, tokenizer: Any) -> dict[str, list[int]]:
    """`input_ids`, `assistant_masks` (1 on the learned spans' tokens) and `step_kinds`.

    The text is tokenized piece by piece, cut at the span edges, so a prompt's tokens are
    those evaluate sends (no token straddles a prompt's end). No special tokens are added:
    the rendered template holds them, and evaluate counts prompt tokens the same way.
    """
    ids: list[int] = []
    kinds: list[int] = []
    cut = 0
    for (lo, hi), kind in zip(example.spans, example.kinds, strict=True):
        for piece, learned in ((example.text[cut:lo], 0), (example.text[lo:hi], STEP_KIND_IDS[kind])):
            piece_ids = tokenizer(piece, add_special_tokens=False)["input_ids"] if piece else []
            ids += piece_ids
            kinds += [learned] * len(piece_ids)
        cut = hi
    return {"input_ids": ids, "assistant_masks": [int(k > 0) for k in kinds], "step_kinds": kinds}


def build_dataset_rows(records: list[dict[str, Any]], tokenizer: Any) -> tuple[list[dict[str, list[int]]], str]:
    """Tokenized rows of every record, and the prompt style they were rendered in."""
    builder = PromptBuilder(tokenizer)
    rows = [tokenize_example(e, tokenizer) for r in records for e in record_examples(r, builder)]
    return [r for r in rows if any(r["assistant_masks"])], builder.style
