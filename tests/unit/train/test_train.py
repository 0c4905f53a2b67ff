"""The `train` stage: examples rendered as evaluate prompts them, masks, and a real tiny SFT run."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from fcsynth.chat.prompting import PromptBuilder
from fcsynth.chat.steps import cut_steps
from fcsynth.config import TrainConfig
from fcsynth.errors import FcsynthError
from fcsynth.stage_cmd import stage_command
from fcsynth.train.examples import build_dataset_rows, record_examples, tokenize_example

from helpers.fabricate import TOOLS, conf_section, messages_for
from helpers.paths import REPO

SEL = "gmail+googlecalendar"


def record(k: int, system: bool = True) -> dict[str, Any]:
    msgs = messages_for(SEL, k)
    if system:
        msgs = [{"role": "system", "content": "You are a concise assistant."}, *msgs]
    return {"id": f"rec-{k}", "selection": SEL, "messages": msgs, "tools": TOOLS[SEL]}


@pytest.fixture(scope="module")
def tokenizer(embedded_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(embedded_model_dir))


def test_only_assistant_tokens_are_learned_after_evaluates_prompts(tokenizer: Any) -> None:
    rec = record(1)
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
    examples = record_examples(record(2), PromptBuilder(tok))
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
        record_examples(record(3), PromptBuilder(tok))


def test_train_config_has_no_defaults() -> None:
    assert all(f.is_required() for f in TrainConfig.model_fields.values())


# --- a real tiny run -------------------------------------------------------------------

@pytest.mark.slow
def test_tiny_training_run_lowers_loss_and_vllm_serves_it(tmp_path: Path, repo_root: Path, embedded_model_dir: Path) -> None:
    from fcsynth.evaluate.run import evaluate
    from fcsynth.llm.vllm_backend import VLLMBackend

    project = tmp_path / "proj"
    (project / "data" / "models").mkdir(parents=True)
    (project / "data" / "models" / "smollm2-135m-instruct").symlink_to(embedded_model_dir)
    params = yaml.safe_load((repo_root / "params.yaml").read_text())
    params["train"].update(epochs=5, learning_rate=2.0e-4, warmup=0, lr_scheduler="constant", grad_accum=1, max_seq_len=1024)
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    (project / "dvc.yaml").write_text("stages: {}\n")
    (project / "data" / "dataset").mkdir()
    records = [record(k, system=k % 2 == 0) for k in range(2)]
    (project / "data" / "dataset" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    env = {**os.environ, "FCSYNTH_ROOT": str(project)}
    proc = subprocess.run(stage_command("train", repo_root, project / "params.yaml"), cwd=project, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]

    metrics = json.loads((project / "metrics" / "train.json").read_text())
    losses = [x["loss"] for x in metrics["loss_per_step"]]
    assert metrics["steps"] == len(losses) == 10 and metrics["records_in"] == 2 and metrics["records_out"] == 2
    assert metrics["final_loss"] == losses[-1] < 0.5 * losses[0], losses
    assert metrics["prompt_style"] == "hermes_default" and 0 < metrics["tokens"]["loss_tokens"] < metrics["tokens"]["train_tokens"]
    curve = (project / "metrics" / "plots" / "train_loss.csv").read_text().splitlines()
    assert curve[0] == "step,loss" and len(curve) == 11
    tuned = project / "data" / "models" / "smollm2-135m-instruct-sft"
    assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"} <= {p.name for p in tuned.iterdir()}
    assert json.loads((tuned / "config.json").read_text())["dtype"] == "bfloat16"

    backend = VLLMBackend(str(tuned), conf_section("llm", max_num_seqs=4), max_model_len=2048, dtype="bfloat16")
    try:
        result = evaluate(records, lambda: backend, backend.tokenizer, conf_section("evaluate", max_tokens=192, temperature=0.0), seed=1)
    finally:
        backend.close()
    # Served by vLLM, the tuned weights answer the trained call steps in the markup evaluate parses.
    call_rows = [r for r in result.rows if r["gold"].startswith("[")]
    assert call_rows and all(r["prediction"].lstrip().startswith("<tool_call>") for r in call_rows), result.rows
    assert result.summary["overall"]["tool_name_accuracy"] == 1.0, [r["prediction"] for r in call_rows]


@pytest.mark.slow
def test_lora_run_saves_merged_weights(tmp_path: Path, embedded_model_dir: Path, tokenizer: Any) -> None:
    """LoRA (peft) on one short record: the saved folder is a plain model with changed weights."""
    import yaml as _yaml
    from safetensors.torch import load_file

    from fcsynth.train.run import train

    conf = _yaml.safe_load((REPO / "conf" / "train" / "default.yaml").read_text())
    conf.update(epochs=1, grad_accum=1, warmup=0, learning_rate=1e-3, max_seq_len=1024)
    conf["lora"].update(enabled=True, r=4, alpha=8, target_modules=["q_proj", "v_proj"])
    rec = {"id": "rec-4", "selection": "gmail", "messages": messages_for("gmail", 4), "tools": TOOLS["gmail"]}
    rows, _ = build_dataset_rows([rec], tokenizer)
    out = tmp_path / "m-sft"
    result = train(rows, str(embedded_model_dir), tokenizer, TrainConfig.model_validate(conf), 1, out, "float32")
    assert result.steps == 1 and 0 < result.trainable_params < 1_000_000
    tuned, base = load_file(str(out / "model.safetensors")), load_file(str(embedded_model_dir / "model.safetensors"))
    assert set(tuned) == set(base)  # merged: no lora_A/lora_B keys, the base's names
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not (tuned[q] == base[q].float()).all()
    k = "model.layers.0.self_attn.k_proj.weight"  # not a LoRA target: unchanged
    assert (tuned[k] == base[k].float()).all()
    assert not out.with_name(".m-sft.partial").exists()


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


def test_balanced_weights_give_each_kind_half_the_loss() -> None:
    from fcsynth.train.weighting import kind_weights, weighted_rows

    rows = [{"input_ids": list(range(10)), "step_kinds": [0, 0, 1, 1, 1, 1, 1, 1, 2, 2]}]
    w = kind_weights(rows, balance=True)
    assert w[1] * 6 == pytest.approx(w[2] * 2) and (w[1] * 6 + w[2] * 2) / 8 == pytest.approx(1.0)
    assert kind_weights(rows, balance=False) == {1: 1.0, 2: 1.0}
    assert kind_weights([{"input_ids": [1], "step_kinds": [1]}], balance=True) == {1: 1.0, 2: 1.0}
    out = weighted_rows(rows, balance=True, max_len=9)[0]
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
    assert weighted_loss(logits, batch["labels"], batch["loss_weights"]) == pytest.approx(plain.item(), rel=1e-5)
    doubled = batch["loss_weights"] * 2
    assert weighted_loss(logits, batch["labels"], doubled) == pytest.approx(2 * plain.item(), rel=1e-5)
