"""The LLM layer on real vLLM: per-request grammars in one batch, long seeded prompts."""

from __future__ import annotations

import json
import re

import pytest
from outlines.types import CFG

from fcsynth.config import SamplingConfig
from fcsynth.constraints.match import match_error
from fcsynth.llm import Request, derive_seed

S = SamplingConfig(temperature=0.7, top_p=0.9, max_tokens=48, repetition_penalty=1.0)


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
