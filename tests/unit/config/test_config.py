"""Config: params.yaml is the composition of conf/, and bad values are one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from fcsynth.config import Config, compose, load_params, parse_config
from fcsynth.errors import FcsynthError


def test_params_yaml_matches_conf(repo_root):
    on_disk = yaml.safe_load((repo_root / "params.yaml").read_text())
    assert on_disk == compose(), "params.yaml drifted from conf/: run `make params`"


def test_composed_config_is_valid():
    cfg = parse_config(compose())
    assert isinstance(cfg, Config)
    assert cfg.model.source == "embedded"
    assert cfg.llm.backend == "vllm"  # the fake backend is never the default


def test_override_changes_composition():
    data = compose(["sampling.temperature=0.3", "toolkits=example"])
    assert data["sampling"]["temperature"] == 0.3
    assert data["toolkits"]["toolkits"] == ["gmail", "googledrive"]


def test_experiment_group_composes():
    data = compose(["experiment=quick"])
    assert data["toolkits"]["toolkits"] == ["gmail", "googledrive"]


def test_funcdex_preset_composes_and_validates():
    """The seed's full run: a real model on GPUs, 6-16 user turns, thinking, long bounds."""
    cfg = parse_config(compose(["experiment=funcdex"]))
    assert cfg.model.name == "qwen3-8b" and cfg.model.source == "hub" and cfg.model.max_model_len == 32768
    assert cfg.llm.engine_kwargs["tensor_parallel_size"] == 4 and cfg.train.lora.enabled
    assert cfg.blueprints.user_turns == [6, 16] and cfg.dml.thinking
    assert cfg.conversations.max_tokens < cfg.model.max_model_len
    assert parse_config(compose(["experiment=funcdex", "dml.thinking=false"])).dml.thinking is False


def test_unknown_key_names_it():
    data = compose()
    data["sampling"]["temprature"] = 0.5
    with pytest.raises(FcsynthError, match=r"sampling\.temprature: unknown key"):
        parse_config(data)


def test_ill_typed_key_names_it():
    data = compose()
    data["scenarios"]["count"] = "many"
    with pytest.raises(FcsynthError, match=r"scenarios\.count: Input should be a valid integer"):
        parse_config(data)


def test_cross_field_check():
    data = compose()
    data["blueprints"]["user_turns"] = [3, 1]
    with pytest.raises(FcsynthError, match=r"blueprints: .*user_turns must be \[min, max\] with 1 <= min <= max"):
        parse_config(data)


def test_error_is_one_line():
    data = compose()
    data["llm"]["backend"] = "tgi"
    with pytest.raises(FcsynthError) as info:
        parse_config(data)
    assert "\n" not in str(info.value) and "llm.backend" in str(info.value)


def test_load_params_missing_and_broken(tmp_path):
    with pytest.raises(FcsynthError, match="not found"):
        load_params(tmp_path / "params.yaml")
    bad = tmp_path / "params.yaml"
    bad.write_text("seed: [1,\n")
    with pytest.raises(FcsynthError, match="not valid YAML"):
        load_params(bad)


def test_stage_script_exits_with_one_line_error(tmp_path, repo_root):
    """A stage run on bad params prints one line naming the key and exits non-zero."""
    data = compose()
    data["model"]["dtype"] = 3
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    proc = subprocess.run(
        [sys.executable, str(repo_root / "stages" / "model.py")],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0
    assert "model.dtype" in proc.stderr


def test_dvc_hydra_integration_enabled(repo_root):
    text = (repo_root / ".dvc" / "config").read_text()
    assert "[hydra]" in text and "enabled = true" in text


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("scenarios.tools_per_scenario", [5, 2], "scenarios: .*1 <= min <= max"),
        ("blueprints.clarity_weights", {"good": 0}, "blueprints: .*positive sum"),
        ("model.dtype", "int4", "model.dtype"),
        ("model.path", "elsewhere", "model: .*data/models/smollm2-135m-instruct"),
    ],
)
def test_cross_field_values_are_one_line_errors(key, value, message):
    data = compose()
    section, name = key.split(".")
    data[section][name] = value
    with pytest.raises(FcsynthError, match=message):
        parse_config(data)


def test_bfcl_category_sizes_replace_per_category_and_null_is_the_full_suite():
    bfcl = parse_config(compose(["evaluate.bfcl.per_category=7", "+evaluate.bfcl.category_sizes.parallel=2"])).evaluate.bfcl
    assert bfcl.size("simple_python") == 7 and bfcl.size("parallel") == 2
    assert bfcl.size("multi_turn_base") == bfcl.category_sizes["multi_turn_base"] != 7  # the default's own size
    full = parse_config(compose(["evaluate.bfcl.per_category=null"])).evaluate.bfcl
    assert full.category_sizes and all(full.size(c) is None for c in full.categories)
    with pytest.raises(FcsynthError, match="evaluate.bfcl.category_sizes"):
        parse_config(compose(["+evaluate.bfcl.category_sizes.simple=2"]))
