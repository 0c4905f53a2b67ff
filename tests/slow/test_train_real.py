"""The `train` stage for real: a tiny SFT run that vLLM then serves, and a LoRA run."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from fcsynth.config import TrainConfig
from fcsynth.stage_cmd import stage_command
from fcsynth.train.examples import build_dataset_rows

from helpers.fabricate import TOOLS, conf_section, dataset_record, messages_for
from helpers.paths import REPO


@pytest.fixture(scope="module")
def tokenizer(embedded_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(embedded_model_dir))


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
    records = [dataset_record(k, system=k % 2 == 0) for k in range(2)]
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
