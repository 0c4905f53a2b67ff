"""Defaults live in conf/ only; params.yaml is strict (types, ranges, budgets, duplicate keys)."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from typer.testing import CliRunner

from fcsynth.cli import app
from fcsynth.config import Section, check_model_limit, compose, load_params, parse_config
from fcsynth.errors import FcsynthError

from helpers.fabricate import conversation_row
from helpers.paths import REPO

CONF = REPO / "conf"


def _options() -> list[tuple[str, str]]:
    return sorted((p.parent.name, p.stem) for p in CONF.glob("*/*.yaml"))


@pytest.mark.parametrize(("group", "option"), _options())
def test_every_option_of_every_group_composes_and_validates(group, option):
    cfg = parse_config(compose([f"{group}={option}"]), f"conf/{group}/{option}.yaml")
    if group == "model":
        assert cfg.model.name == yaml.safe_load((CONF / group / f"{option}.yaml").read_text())["model"]["name"]


def test_variants_build_on_their_group_default():
    fake = yaml.safe_load((CONF / "llm" / "fake.yaml").read_text())
    assert "vllm" in fake["defaults"] and set(fake) == {"defaults", "backend"}
    base, fake_cfg = compose(), compose(["llm=fake"])
    assert {**base["llm"], "backend": "fake"} == fake_cfg["llm"]
    greedy = compose(["sampling=greedy"])["sampling"]
    assert greedy["max_tokens"] == base["sampling"]["max_tokens"] and greedy["temperature"] == 0.0


def test_no_config_model_or_grammar_option_has_a_code_default():
    """Every value comes from conf/: no pydantic section (the grammar options are the dml one) has a default
    (ToolSource.toolkit is an optional key of a list entry, which Hydra cannot default)."""
    sections = set()
    todo = [Section]
    while todo:
        cls = todo.pop()
        sections.add(cls)
        todo.extend(cls.__subclasses__())
    defaulted = [
        f"{cls.__name__}.{name}" for cls in sections for name, field in cls.model_fields.items()
        if not field.is_required()
    ]
    assert defaulted == ["ToolSource.toolkit"]


def _leaf_keys(data: dict, prefix: str = "") -> list[str]:
    keys = []
    for k, v in data.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict) and v and k not in ("weights", "clarity_weights", "thresholds", "category_sizes"):
            keys += _leaf_keys(v, path + ".")
        else:
            keys.append(path)
    return keys


def test_a_missing_key_is_an_error_naming_it_key_by_key():
    base = compose()
    keys = _leaf_keys(base)
    assert len(keys) > 60
    for key in keys:
        data = json.loads(json.dumps(base))
        *parents, last = key.split(".")
        node = data
        for p in parents:
            node = node[p]
        del node[last]
        with pytest.raises(FcsynthError, match=re.escape(key) + ": missing key"):
            parse_config(data)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("scenarios.count", True, r"scenarios\.count: Input should be a valid integer"),
        ("scenarios.count", 2.0, r"scenarios\.count: Input should be a valid integer"),
        ("seed", False, r"seed: Input should be a valid integer"),
        ("dml.thinking", 1, r"dml\.thinking: Input should be a valid boolean"),
        ("dml.thinking", "yes", r"dml\.thinking: Input should be a valid boolean"),
        ("sampling.temperature", "0.5", r"sampling\.temperature: Input should be a valid number"),
        ("sampling.temperature", 50, r"sampling\.temperature: Input should be less than or equal to 1"),
        ("sampling.top_p", 1.5, r"sampling\.top_p: Input should be less than or equal to 1"),
        ("judge.temperature", -0.1, r"judge\.temperature: Input should be greater than or equal to 0"),
        ("blueprints.tool_error_rate", 1.2, r"blueprints\.tool_error_rate: Input should be less than or equal to 1"),
        ("system_prompts.dropout", -1, r"system_prompts\.dropout: Input should be greater than or equal to 0"),
        ("scenarios.tools_per_scenario", [2, 3, 4], r"scenarios\.tools_per_scenario: List should have at most 2"),
        ("scenarios.max_tokens", 100000, r"scenarios\.max_tokens=100000 leaves no room for the prompt within max_model_len=8192"),
        ("conversations.max_tokens", 8192, r"conversations\.max_tokens=8192 leaves no room"),
        ("evaluate.max_tokens", 9000, r"evaluate\.max_tokens=9000 leaves no room"),
    ],
)
def test_strict_values_are_one_line_errors(key, value, message):
    data = compose()
    *parents, last = key.split(".")
    node = data
    for p in parents:
        node = node[p]
    node[last] = value
    with pytest.raises(FcsynthError, match=message) as info:
        parse_config(data)
    assert "\n" not in str(info.value)


def test_the_judge_budget_is_checked_against_the_judge_model():
    data = compose()
    data["judge"]["model"] = {**data["model"], "max_model_len": 16384}
    data["judge"]["max_tokens"] = 12000  # over the generator's 8192, within the judge's 16384
    assert parse_config(data).judge.max_tokens == 12000
    data["judge"]["max_tokens"] = 17000
    with pytest.raises(FcsynthError, match=r"judge\.max_tokens=17000 .*max_model_len=16384"):
        parse_config(data)


def _params_text() -> str:
    return (REPO / "params.yaml").read_text()


def test_a_second_top_level_block_is_an_error_naming_key_and_line(tmp_path):
    text = _params_text() + "dml:\n  thinking: true\n"
    path = tmp_path / "params.yaml"
    path.write_text(text)
    first = 1 + text.splitlines().index("dml:")
    second = len(text.splitlines()) - 1
    with pytest.raises(FcsynthError, match=rf"params\.yaml:{second}: duplicate key 'dml' \(first at line {first}\)"):
        load_params(path)


def test_a_duplicate_nested_key_is_an_error(tmp_path):
    text = _params_text().replace("  max_text_chars: 300\n", "  max_text_chars: 300\n  max_text_chars: 600\n")
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(FcsynthError, match=r"duplicate key 'max_text_chars'"):
        load_params(path)


def test_the_real_model_limit_is_checked_once_the_model_is_known(tmp_path):
    model = parse_config(compose()).model
    (tmp_path / "config.json").write_text(json.dumps({"max_position_embeddings": 2048}))
    with pytest.raises(FcsynthError, match=r"model\.max_model_len=8192 exceeds .*max_position_embeddings=2048"):
        check_model_limit(model, str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"max_position_embeddings": 8192}))
    check_model_limit(model, str(tmp_path))
    check_model_limit(model, "HuggingFaceTB/not-fetched")  # a hub id: vLLM checks it on load


def test_fcsynth_grammar_prints_what_the_conversations_stage_builds(tmp_path):
    """Same tools, same params.yaml, same known values: the CLI's grammar is the simulated
    assistant turn's request constraint."""
    from fcsynth.catalog.identifiers import known_values
    from fcsynth.checkpoint import Checkpoint
    from fcsynth.simulation.run import Simulator
    from fcsynth.simulation.state import Conversation
    from fcsynth.tools import Tool

    data = compose(["llm=fake", "dml.max_text_chars=250", "dml.thinking=true", "conversations.max_tokens=1500"])
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(data, sort_keys=False))
    row = conversation_row("gmail", 1)
    tools = [Tool("gmail", t["function"]["name"], t["function"]["description"], t["function"]["parameters"])
             for t in json.loads(row["tools"])]
    tools.append(Tool("gmail", "get_message", "Read one message.", {
        "type": "object", "properties": {"message_id": {"type": "string"}}, "required": ["message_id"]}))
    (tmp_path / "tools.json").write_text(json.dumps([t.to_record() for t in tools]))
    conv = Conversation("c1", {**row, "persona": json.dumps({"company": "Acme"})}, tools,
                        [{"kind": "task", "steps": 1, "parallel": False, "error": False, "reveal": []}], {})
    conv.add_text("user", "Please look at message msg-4471 for me.")
    simulator = Simulator(load_params(params), Checkpoint("conversations", "k", None), lambda: None)
    (action,) = simulator.actions(conv)

    known = [a for v in known_values(conv.messages, data["dml"]["max_json_string_chars"]) for a in ("--known", v)]
    out = CliRunner().invoke(app, ["grammar", str(tmp_path / "tools.json"), "--params", str(params), "--mode", "call", *known])
    assert out.exit_code == 0, out.output
    assert out.stdout == action.request.constraint.definition
    assert "msg-4471" in out.stdout and "{0,186}" in out.stdout  # the known id; dml.max_text_chars from params.yaml
    flagged = CliRunner().invoke(app, ["grammar", str(tmp_path / "tools.json"), "--params", str(params),
                                       "--max-text-chars", "90"])
    assert "{0,66}" in flagged.stdout and "{0,186}" not in flagged.stdout  # a flag overrides params.yaml
