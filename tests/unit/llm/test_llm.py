"""The LLM layer: request building, seeds, constraints, fake backend."""

from __future__ import annotations

import jsonschema
import pytest
from outlines.types import CFG, JsonSchema, Regex
from pydantic import BaseModel

from fcsynth.config import SamplingConfig
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
