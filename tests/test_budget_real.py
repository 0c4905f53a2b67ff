"""On the real engine: every stage's constraint, sampled towards its longest output, still
ends inside its token budget and parses (no truncation by construction)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from fcsynth.budget import max_json_bytes
from fcsynth.config import SamplingConfig
from fcsynth.dml import parse_dml
from fcsynth.dml.grammar import build_budgeted_grammar
from fcsynth.generation import blueprints, scenarios, system_prompts
from fcsynth.judge.rubric import answer_schema as judge_schema
from fcsynth.llm import Request
from fcsynth.llm.constraints import CFG, JsonSchema
from fcsynth.tools import Tool

from _fabricate import grammar_options

pytestmark = pytest.mark.slow

TOOL = Tool(
    "demo", "get_weather", "Current weather for a city.",
    {"type": "object", "properties": {"city": {"type": "string", "maxLength": 24}, "days": {"type": "integer", "minimum": 1, "maximum": 7}},
     "required": ["city"], "additionalProperties": False},
    response={"type": "object", "properties": {"temp": {"type": "number"}, "sky": {"type": "string", "maxLength": 16}},
              "required": ["temp", "sky"], "additionalProperties": False},
)
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
    options = grammar_options(max_user_turns=1, max_steps_per_turn=1, max_parallel_calls=1, max_text_chars=60,
                              max_json_string_chars=16, max_json_items=2, require_tool_call=True, min_text_chars=8)
    grammar = build_budgeted_grammar([TOOL], options, 360, "conversations: test")
    assert grammar.max_tokens <= 360  # proven for this shape
    reqs = [request(name, budget, JsonSchema(schema), f"Answer in JSON for the {name} stage.")
            for name, (budget, schema) in schemas.items()]
    reqs.append(request("conversations", 360, CFG(grammar.lark), "Write a conversation in which the user asks for the weather."))
    out = {c.id: c for c in vllm_engine.generate(reqs)}

    for name, (budget, schema) in schemas.items():
        c = out[name]
        assert c.finish_reason == "stop" and c.completion_tokens <= budget, (name, c)
        answer = json.loads(c.text)
        jsonschema.validate(answer, {k: v for k, v in schema.items() if k != "x-guidance"})
        # The bias did push towards the longest path: at least a third of the byte bound.
        assert len(c.text.encode()) >= max_json_bytes(schema) / 3, (name, c.text)
    conv = out["conversations"]
    assert conv.finish_reason == "stop" and conv.completion_tokens <= 360, conv
    messages = parse_dml(conv.text)
    assert any(m.get("tool_calls") for m in messages)
