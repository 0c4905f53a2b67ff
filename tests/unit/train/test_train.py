"""The `train` stage: examples rendered as evaluate prompts them, masks, dtype, step weights.
The real runs: tests/slow/test_train_real.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fcsynth.chat.prompting import PromptBuilder
from fcsynth.chat.steps import cut_steps
from fcsynth.config import TrainConfig
from fcsynth.errors import FcsynthError
from fcsynth.train.examples import build_dataset_rows, record_examples, tokenize_example

from helpers.fabricate import TOOLS, conf_section, dataset_record, messages_for


@pytest.fixture(scope="module")
def tokenizer(embedded_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(embedded_model_dir))


def test_only_assistant_tokens_are_learned_after_evaluates_prompts(tokenizer: Any) -> None:
    rec = dataset_record(1)
    rows, style = build_dataset_rows([rec], tokenizer)
    assert style == "hermes_default" and len(rows) == 1
    ids, mask = rows[0]["input_ids"], rows[0]["assistant_masks"]
    builder = PromptBuilder(tokenizer)
    steps = cut_steps(rec)
    assert [s.kind for s in steps] == ["call", "text"]
    # Each step's learned tokens start right after the exact tokens evaluate sends as its prompt.
    starts = [i for i in range(len(mask)) if mask[i] and (i == 0 or not mask[i - 1])]
    assert len(starts) == len(steps)
    for start, step in zip(starts, steps, strict=True):
        prompt_ids = tokenizer(builder.build(step).prompt, add_special_tokens=False)["input_ids"]
        assert ids[:start] == prompt_ids
    learned = tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if m])
    call_args = json.dumps(rec["messages"][2]["tool_calls"][0]["function"]["arguments"], ensure_ascii=False)
    assert learned.startswith('<tool_call>\n{"name": "send_email", "arguments": ' + call_args)
    assert learned.count("<|im_end|>") == 2 and learned.endswith("taken care of for person1@example.com.<|im_end|>\n")
    # Nothing from the system prompt, the user or the tool results is a label.
    for text in ("You are a concise assistant.", "Please email", '"status": "sent"', "<tool_response>", "<tools>"):
        assert text not in learned, text


def test_template_that_rewrites_history_gets_one_sequence_per_step(tokenizer: Any) -> None:
    """A template marking only the last turn (as Qwen3 does with <think>) breaks the shared prefix."""
    tok = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    tok.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{% if loop.last and m.role == 'assistant' %}[last]{% endif %}"
        "{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    examples = record_examples(dataset_record(2), PromptBuilder(tok))
    assert len(examples) == 2 and all(len(e.spans) == 1 for e in examples)
    assert all(e.text[e.spans[0][0]:].startswith("[last]") for e in examples)
    row = tokenize_example(examples[1], tok)
    assert tok.decode([t for t, m in zip(row["input_ids"], row["assistant_masks"], strict=True) if m]).startswith("[last]Done:")


def test_template_that_cannot_be_split_is_a_one_line_error(tokenizer: Any) -> None:
    tok = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    tok.chat_template = (  # the generation prompt differs from how an assistant turn is rendered
        "{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<bot>{% endif %}"
    )
    with pytest.raises(FcsynthError, match="train record rec-3: the chat template does not render message"):
        record_examples(dataset_record(3), PromptBuilder(tok))


def test_train_config_has_no_defaults() -> None:
    assert all(f.is_required() for f in TrainConfig.model_fields.values())


# --- the training dtype ----------------------------------------------------------------

@pytest.mark.parametrize(("dtype", "flags", "gpu", "compute", "weights"), [
    ("auto", {"avx512_bf16"}, False, "bfloat16", "float32"),   # autocast over float32 weights
    ("auto", {"avx2"}, False, "float32", "float32"),
    ("auto", set(), True, "bfloat16", "bfloat16"),
    ("float32", {"amx_bf16"}, False, "float32", "float32"),
])
def test_train_dtype_follows_the_hardware(monkeypatch: pytest.MonkeyPatch, dtype: str, flags: set[str], gpu: bool,
                                          compute: str, weights: str) -> None:
    from fcsynth.llm import cpu
    from fcsynth.train import run

    monkeypatch.setattr(cpu, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.setattr(cpu, "on_gpu", lambda: gpu)
    cfg = conf_section("train", dtype=dtype)
    assert run.compute_dtype(cfg) == compute
    assert run.weights_dtype(compute, use_cpu=not gpu) == weights


# --- weighing call steps and text steps ------------------------------------------------

def test_step_kinds_mark_call_and_text_spans(tokenizer: Any) -> None:
    rec = {"id": "rec-5", "selection": "gmail", "messages": messages_for("gmail", 5), "tools": TOOLS["gmail"]}
    rows, _ = build_dataset_rows([rec], tokenizer)
    kinds, mask = rows[0]["step_kinds"], rows[0]["assistant_masks"]
    assert mask == [int(k > 0) for k in kinds] and {1, 2} <= set(kinds)
    steps = {s.kind for s in cut_steps(rec)}
    assert steps == {"call", "text"}


def test_text_share_gives_text_steps_that_share_of_the_loss() -> None:
    from fcsynth.train.weighting import kind_weights, weighted_rows

    rows = [{"input_ids": list(range(10)), "step_kinds": [0, 0, 1, 1, 1, 1, 1, 1, 2, 2]}]
    w = kind_weights(rows, text_share=0.5)
    assert w[1] * 6 == pytest.approx(w[2] * 2) and (w[1] * 6 + w[2] * 2) / 8 == pytest.approx(1.0)
    w = kind_weights(rows, text_share=0.7)
    assert w[2] * 2 / 8 == pytest.approx(0.7) and (w[1] * 6 + w[2] * 2) / 8 == pytest.approx(1.0)
    assert kind_weights(rows, text_share=None) == {1: 1.0, 2: 1.0}
    assert kind_weights([{"input_ids": [1], "step_kinds": [1]}], text_share=0.7) == {1: 1.0, 2: 1.0}
    out = weighted_rows(rows, text_share=0.7, max_len=9)[0]
    assert out["input_ids"] == list(range(9)) and out["labels"][:2] == [-100, -100] and out["labels"][2:] == list(range(2, 9))
    assert out["loss_weights"][:2] == [0.0, 0.0] and out["loss_weights"][2] == w[1] and out["loss_weights"][8] == w[2]


def test_unit_weights_give_the_plain_token_mean_loss() -> None:
    import torch

    from fcsynth.train.weighting import IGNORE, WeightedCollator, weighted_loss

    torch.manual_seed(0)
    batch = WeightedCollator(pad_id=0)([
        {"input_ids": [5, 6, 7, 8], "labels": [IGNORE, 6, 7, 8], "loss_weights": [0.0, 1.0, 1.0, 1.0]},
        {"input_ids": [5, 6], "labels": [IGNORE, 6], "loss_weights": [0.0, 1.0]},
    ])
    assert batch["input_ids"].shape == (2, 4) and batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    logits = torch.randn(2, 4, 11)
    plain = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 11), batch["labels"][:, 1:].reshape(-1), ignore_index=IGNORE)
    every = torch.arange(3)
    assert weighted_loss(logits[:, :-1], batch["labels"], batch["loss_weights"], every) == pytest.approx(plain.item(), rel=1e-5)
    doubled = batch["loss_weights"] * 2
    assert weighted_loss(logits[:, :-1], batch["labels"], doubled, every) == pytest.approx(2 * plain.item(), rel=1e-5)


def _tiny_llama() -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=40, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2))


def test_the_loss_from_the_learned_positions_logits_equals_the_loss_over_every_position() -> None:
    import torch

    from fcsynth.train.weighting import IGNORE, WeightedCollator, learned_positions, model_loss

    batch = WeightedCollator(pad_id=0)([
        {"input_ids": [3, 4, 5, 6, 7, 8, 9], "labels": [IGNORE, IGNORE, IGNORE, 6, 7, IGNORE, 9],
         "loss_weights": [0.0, 0.0, 0.0, 0.5, 0.5, 0.0, 2.0]},
        {"input_ids": [3, 4, 5, 6], "labels": [IGNORE, 4, IGNORE, IGNORE], "loss_weights": [0.0, 1.5, 0.0, 0.0]},
    ])
    assert learned_positions(batch["labels"]).tolist() == [0, 2, 3, 5]  # a learned token's predecessor, either row
    model = _tiny_llama()
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    labels, weights = batch["labels"][:, 1:], batch["loss_weights"][:, 1:]
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, 40), labels.reshape(-1), ignore_index=IGNORE, reduction="none")
    expected = (ce * weights.reshape(-1)).sum() / (labels != IGNORE).sum()
    loss, outputs = model_loss(model, dict(batch))
    assert outputs.logits.shape == (2, 4, 40)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert model_loss(model, dict(batch), num_items_in_batch=8)[0].item() == pytest.approx(expected.item() * 4 / 8, rel=1e-5)
