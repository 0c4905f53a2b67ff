"""The LLM layer: request building, seeds, constraints, fake backend, and real vLLM."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from outlines.types import CFG, JsonSchema, Regex
from pydantic import BaseModel

from fcsynth.config import SamplingConfig
from fcsynth.constraints.match import match_error
from fcsynth.llm import Request, derive_seed
from fcsynth.llm.constraints import structured_output_kwargs
from fcsynth.llm.fake_backend import FakeBackend, minimal_instance
from fcsynth.runner import token_totals

S = SamplingConfig(temperature=0.7, top_p=0.9, max_tokens=48, repetition_penalty=1.0)


def test_seed_depends_only_on_global_seed_and_id():
    assert derive_seed(1, "rec-1") == derive_seed(1, "rec-1")
    assert derive_seed(1, "rec-1") != derive_seed(1, "rec-2")
    assert derive_seed(1, "rec-1") != derive_seed(2, "rec-1")
    assert 0 <= derive_seed(99, "x") < 2**31


def test_request_needs_exactly_one_input():
    with pytest.raises(ValueError, match="exactly one"):
        Request(id="a", sampling=S, seed=1)
    with pytest.raises(ValueError, match="exactly one"):
        Request(id="a", sampling=S, seed=1, prompt="p", messages=[{"role": "user", "content": "x"}])


class Answer(BaseModel):
    reasoning: str
    score: int


def test_constraints_map_to_vllm_structured_outputs():
    assert structured_output_kwargs(None) == {}
    assert structured_output_kwargs(CFG('start: "a"')) == {"grammar": 'start: "a"'}
    assert structured_output_kwargs(Regex(r"\d+")) == {"regex": r"(\d+)"}
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    assert structured_output_kwargs(JsonSchema(schema)) == {"json": schema}
    pyd = structured_output_kwargs(Answer)["json"]
    assert pyd["required"] == ["reasoning", "score"]


def test_vllm_sampling_params_carry_each_requests_settings():
    pytest.importorskip("vllm")
    from fcsynth.llm.vllm_backend import VLLMBackend

    req = Request(id="r", sampling=S, seed=7, prompt="p", constraint=CFG('start: "a"'))
    params = VLLMBackend.sampling_params(None, req)  # does not touch the engine
    assert params.seed == 7 and params.max_tokens == 48 and params.temperature == 0.7
    assert params.structured_outputs.grammar == 'start: "a"'
    assert params.skip_special_tokens is False


def test_minimal_instance_satisfies_schema():
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "minLength": 3},
            "b": {"type": "integer", "minimum": 5},
            "c": {"enum": ["x", "y"]},
            "d": {"type": "array", "items": {"type": "number"}, "minItems": 2},
            "e": {"type": ["null", "boolean"]},
        },
        "required": ["a", "b", "c", "d", "e"],
        "additionalProperties": False,
    }
    jsonschema.validate(minimal_instance(schema), schema)


def test_fake_backend_counts_tokens_and_answers_constraints():
    backend = FakeBackend()
    reqs = [
        Request(id="j", sampling=S, seed=1, prompt="one two", constraint=Answer),
        Request(id="t", sampling=S, seed=2, prompt="three", constraint=None),
        Request(id="g", sampling=S, seed=3, prompt="x", constraint=CFG('start: "a"'), metadata={"fake_output": "a"}),
    ]
    outs = {c.id: c for c in backend.generate(reqs)}
    assert Answer.model_validate_json(outs["j"].text).score == 1
    assert outs["g"].text == "a"
    totals = token_totals([vars(c) for c in outs.values()])
    assert totals["requests"] == 3 and totals["prompt_tokens"] == 4
    assert backend.calls == [["j", "t", "g"]]  # one batch, not one call per request
    with pytest.raises(ValueError, match="grammar constraint"):
        list(backend.generate([Request(id="z", sampling=S, seed=1, prompt="x", constraint=CFG('start: "a"'))]))


GRAMMARS = {
    "greeting": 'start: "<user>" TEXT "</user>"\nTEXT: /[^<]{1,60}/\n',
    "call": (
        'start: "<tool_call>" %json {"type": "object", "properties": {"city": {"type": "string", '
        '"maxLength": 20}, "unit": {"enum": ["C", "F"]}}, "required": ["city", "unit"], '
        '"additionalProperties": false} "</tool_call>"\n'
    ),
    "yesno": 'start: ANSWER "." \nANSWER: "yes" | "no"\n',
    "list": 'start: item ("," item){0,2}\nitem: /[a-z]{2,8}/\n',
}


@pytest.mark.slow
def test_real_vllm_batch_with_four_grammars(vllm_engine):
    """One batch, four requests, four grammars: each output matches its own grammar."""
    prompts = {
        "greeting": "Write a one-line greeting.",
        "call": "Call the weather tool for Paris in Celsius.",
        "yesno": "Is the sky blue? Answer yes or no.",
        "list": "List some fruits.",
    }
    reqs = [
        Request(id=k, sampling=S, seed=derive_seed(1, k), messages=[{"role": "user", "content": prompts[k]}], constraint=CFG(g))
        for k, g in GRAMMARS.items()
    ]
    outs = {c.id: c for c in vllm_engine.generate(reqs)}
    assert set(outs) == set(GRAMMARS)
    for key, grammar in GRAMMARS.items():
        assert outs[key].finish_reason == "stop", (key, outs[key])
        assert match_error(grammar, outs[key].text) is None, (key, outs[key].text)
        # and it is not accepted by another request's grammar: the constraints were per request
        other = "yesno" if key != "yesno" else "greeting"
        assert match_error(GRAMMARS[other], outs[key].text) is not None
    call = json.loads(re.fullmatch(r"<tool_call>(.*)</tool_call>", outs["call"].text, re.S).group(1))
    assert call["unit"] in {"C", "F"}
    assert all(c.completion_tokens > 0 and c.prompt_tokens > 0 for c in outs.values())


@pytest.mark.slow
def test_real_vllm_long_seeded_prompts_in_one_batch(vllm_engine):
    """Seeded requests whose prompts together exceed one step's token budget still run.

    vLLM rewinds the seeded generator of a chunked (partial) prefill, which CPU
    generators cannot do; the backend sizes the budget so no prefill is ever chunked.
    """
    short = SamplingConfig(temperature=0.9, top_p=1.0, max_tokens=4, repetition_penalty=1.0)
    long_prompt = "Summarize the following log. " + "The job finished without errors. " * 300
    reqs = [Request(id=f"long{i}", sampling=short, seed=derive_seed(3, f"long{i}"), prompt=f"{i}: {long_prompt}") for i in range(4)]
    outs = list(vllm_engine.generate(reqs))
    assert sorted(c.id for c in outs) == [f"long{i}" for i in range(4)]
    assert all(c.prompt_tokens > 1500 and c.completion_tokens > 0 for c in outs)
