"""On the real engine: every stage's constraint, sampled towards its longest output, still
ends inside its token budget and parses (no truncation by construction)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from fcsynth.config import SamplingConfig
from fcsynth.constraints import turns as turn_constraints
from fcsynth.constraints.bounds import max_json_bytes
from fcsynth.generation import blueprints, scenarios, system_prompts
from fcsynth.judge.rubric import answer_schema as judge_schema
from fcsynth.llm import Request
from fcsynth.llm.constraints import CFG, JsonSchema
from fcsynth.simulation.turn_text import parse_turn
from fcsynth.tools import Tool

from helpers.fabricate import grammar_options

pytestmark = pytest.mark.slow

TOOL = Tool(
    "demo", "get_weather", "Current weather for a city.",
    {"type": "object", "properties": {"city": {"type": "string", "maxLength": 24}, "days": {"type": "integer", "minimum": 1, "maximum": 7}},
     "required": ["city"], "additionalProperties": False},
    response={"type": "object", "properties": {"temp": {"type": "number"}, "sky": {"type": "string", "maxLength": 16}},
              "required": ["temp", "sky"], "additionalProperties": False},
)
STATION = Tool(
    "demo", "get_station", "Readings of one weather station.",
    {"type": "object", "properties": {"station_id": {"type": "string"}, "hours": {"type": "integer", "minimum": 1, "maximum": 48}},
     "required": ["station_id"], "additionalProperties": False},
)
FAN = {"argument": "station_id", "values": ["st-4821", "st-0930"]}
BIAS = -50.0  # against every token that could close a string, a tag or the output


def closing_bias(tokenizer) -> dict[int, float]:
    """A logit bias against tokens containing '"' or '<', and against EOS: the sampler
    then keeps writing until the grammar forces the end (the longest path)."""
    bias = {}
    for token_id in range(len(tokenizer)):
        text = tokenizer.decode([token_id])
        if '"' in text or "<" in text:
            bias[token_id] = BIAS
    bias[tokenizer.eos_token_id] = BIAS
    return bias


def request(rid: str, budget: int, constraint, prompt: str) -> Request:
    sampling = SamplingConfig(temperature=1.0, top_p=1.0, max_tokens=budget, repetition_penalty=1.0)
    return Request(id=rid, sampling=sampling, seed=7, messages=[{"role": "user", "content": prompt}], constraint=constraint)


def test_every_stage_constraint_ends_inside_its_budget_on_the_longest_path(vllm_engine, monkeypatch):
    bias = closing_bias(vllm_engine.tokenizer)
    plain = vllm_engine.sampling_params

    def biased(req):
        params = plain(req)
        params.logit_bias = bias
        return params

    monkeypatch.setattr(vllm_engine, "sampling_params", biased)
    schemas = {
        "scenarios": (64, scenarios.answer_schema(64)),
        "blueprints": (160, blueprints.answer_schema(["get_weather", "send_email"], 160)),
        "system_prompts": (64, system_prompts.answer_schema(64)),
        "judge": (192, judge_schema(600, 192)),
    }
    options = grammar_options(max_parallel_calls=2, max_text_chars=60, max_json_string_chars=16, max_json_items=2)
    # The simulation's three turn constraints, each with its own proven budget.
    turns = {
        "assistant": turn_constraints.assistant_grammar([TOOL], options, [], "call", (2, 2), 360),
        "user": turn_constraints.user_constraint(["id-4821", "ana@contoso.test"], 60),
        "tool": turn_constraints.environment_constraint(TOOL, options, False, 360),
        "fan": turn_constraints.fan_grammar([TOOL, STATION], options, FAN["values"], FAN, 360),
    }
    assert all(t.max_tokens <= 360 for t in turns.values())
    reqs = [request(name, budget, JsonSchema(schema), f"Answer in JSON for the {name} stage.")
            for name, (budget, schema) in schemas.items()]
    reqs += [request(name, t.max_tokens, CFG(t.lark) if t.lark else JsonSchema(t.schema), f"Play the {name} in a chat about the weather.")
             for name, t in turns.items()]
    out = {c.id: c for c in vllm_engine.generate(reqs)}

    for name, (budget, schema) in schemas.items():
        c = out[name]
        assert c.finish_reason == "stop" and c.completion_tokens <= budget, (name, c)
        answer = json.loads(c.text)
        jsonschema.validate(answer, {k: v for k, v in schema.items() if k != "x-guidance"})
        # The bias did push towards the longest path: at least a third of the byte bound.
        assert len(c.text.encode()) >= max_json_bytes(schema) / 3, (name, c.text)
    for name, t in turns.items():
        c = out[name]
        assert c.finish_reason == "stop" and c.completion_tokens <= t.max_tokens, (name, c)
    assert out["assistant"].text.count("<tool_call>") == 2  # a parallel step: two calls
    fanned = parse_turn("assistant", out["fan"].text)["calls"]
    assert [(c["name"], c["arguments"]["station_id"]) for c in fanned] == [("get_station", v) for v in FAN["values"]]
    assert "id-4821" in out["user"].text and "ana@contoso.test" in out["user"].text  # the planned facts, verbatim
    jsonschema.validate(json.loads(out["tool"].text), TOOL.response)
