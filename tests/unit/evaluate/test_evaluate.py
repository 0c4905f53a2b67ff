"""The evaluate stage's library: step cutting, prompting, scripted models, checkpoints, the steps table."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from fcsynth.chat.prompting import PromptBuilder, hermes_messages, template_supports_tools
from fcsynth.chat.split import read_split
from fcsynth.chat.steps import cut_steps
from fcsynth.checkpoint import Checkpoint
from fcsynth.errors import FcsynthError
from fcsynth.evaluate.parse import parse_completion
from fcsynth.evaluate.run import evaluate, write_steps
from fcsynth.llm.base import Request
from fcsynth.llm.fake_backend import FakeBackend

from helpers.eval_records import fabricated_split
from helpers.fabricate import conf_section


def hermes_answer(request: Request) -> str:
    """The oracle: the gold calls as Hermes blocks, else the gold text."""
    step = request.metadata["step"]
    if step.gold_calls is None:
        return step.gold_text + "<|im_end|>"
    return "\n".join(
        "<tool_call>\n" + json.dumps({"name": c.name, "arguments": c.arguments}) + "\n</tool_call>"
        for c in reversed(step.gold_calls)  # parallel calls in another order still match
    ) + "<|im_end|>"


def wrong_name(request: Request) -> str:
    step = request.metadata["step"]
    calls = step.gold_calls or []
    return "".join(
        "<tool_call>" + json.dumps({"name": c.name + "_v2", "arguments": c.arguments}) + "</tool_call>"
        for c in calls
    ) or "<tool_call>{\"name\": \"send_email\", \"arguments\": {}}</tool_call>"


CFG = conf_section("evaluate", max_tokens=64, temperature=0.0)


# --- steps ---------------------------------------------------------------------------

def test_cut_steps_one_per_assistant_answer() -> None:
    r1, r2 = fabricated_split()
    steps = cut_steps(r1)
    assert [s.id for s in steps] == ["conv-0001:002", "conv-0001:005", "conv-0001:007", "conv-0001:009"]
    assert [s.kind for s in steps] == ["call", "text", "call", "text"]
    assert [c.name for c in steps[0].gold_calls] == ["search_emails", "send_email"]
    assert steps[2].gold_calls[0].arguments == {"to": "bob@acme.com", "subject": "Received"}
    assert steps[1].gold_text.startswith("Found Bob")
    # History is the gold conversation before the step, system prompt included.
    assert steps[2].history == r1["messages"][:7] and steps[2].history[0]["role"] == "system"
    assert steps[0].selection == "gmail" and steps[0].tools == r1["tools"]
    assert [s.kind for s in cut_steps(r2)] == ["text", "call", "text"]


def test_cut_steps_accepts_json_strings_and_skips_empty_assistant() -> None:
    r1 = fabricated_split()[0]
    stored = {**r1, "messages": json.dumps(r1["messages"] + [{"role": "assistant", "content": " "}]),
              "tools": json.dumps(r1["tools"])}
    assert len(cut_steps(stored)) == 4


@pytest.mark.parametrize(
    ("record", "fragment"),
    [({"messages": []}, "missing id"), ({"id": "x", "messages": "{"}, "not valid JSON"),
     ({"id": "x", "messages": [{"content": "hi"}]}, "no role"), ({"id": "x", "messages": 3}, "list of objects")],
)
def test_cut_steps_bad_records_are_one_line_errors(record: dict, fragment: str) -> None:
    with pytest.raises(FcsynthError, match=fragment):
        cut_steps(record)


def test_read_split_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "test.jsonl"
    path.write_text('{"id": "a", "messages": []}\n\nnot json\n')
    with pytest.raises(FcsynthError, match=r"test.jsonl:3: not valid JSON"):
        read_split(path)
    with pytest.raises(FcsynthError, match="not found"):
        read_split(tmp_path / "nope.jsonl")
    path.write_bytes(b'{"id": "a", "messages": []}\n{"id": "\xff"}\n')
    with pytest.raises(FcsynthError, match=r"test.jsonl:2: not UTF-8"):
        read_split(path)
    with pytest.raises(FcsynthError, match=r"cannot be read"):
        read_split(tmp_path)


# --- prompting -----------------------------------------------------------------------

def test_hermes_default_lists_tools_and_renders_history() -> None:
    step = cut_steps(fabricated_split()[0])[2]
    msgs = hermes_messages(step.history, step.tools)
    assert msgs[0]["role"] == "system"
    assert msgs[0]["content"].startswith("You assist Ana at Acme.")
    assert "<tools>" in msgs[0]["content"] and '"name": "send_email"' in msgs[0]["content"]
    assert "<tool_call>" in msgs[0]["content"]
    roles = [m["role"] for m in msgs]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert msgs[2]["content"].count("<tool_call>") == 2
    assert msgs[3]["content"].count("<tool_response>") == 2  # consecutive results merged
    assert "reasoning" not in json.dumps(msgs)
    # Past calls are shown in the very format the parser reads back.
    assert [c.name for c in parse_completion(msgs[2]["content"]).calls] == ["search_emails", "send_email"]


def test_builder_without_tokenizer_sends_messages() -> None:
    step = cut_steps(fabricated_split()[1])[0]
    prompt = PromptBuilder(None).build(step)
    assert prompt.prompt is None and prompt.messages[0]["role"] == "system"


TOOL_TEMPLATE = (
    "{% if tools %}<|im_start|>system\nTools:\n{% for t in tools %}{{ t | tojson }}\n{% endfor %}<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
    "{% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>{{ c.function | tojson }}</tool_call>{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def test_template_with_tools_is_detected_and_used(embedded_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(embedded_model_dir))
    assert not template_supports_tools(tok)  # SmolLM2's template ignores tools
    assert PromptBuilder(tok).style == "hermes_default"
    tok.chat_template = TOOL_TEMPLATE
    builder = PromptBuilder(tok)
    assert builder.style == "chat_template"
    step = cut_steps(fabricated_split()[0])[3]
    text = builder.build(step).prompt
    assert '"name": "create_event"' not in text and '"name": "send_email"' in text
    # Arguments reach the template as objects, even when the record stored a JSON string.
    assert '"arguments": {"to": "bob@acme.com", "subject": "Received"}' in text
    assert '"arguments": {"query": "from:bob invoice"}' in text
    assert text.endswith("<|im_start|>assistant\n")
    assert builder.count_tokens(builder.build(step)) > 20


# --- scripted models -----------------------------------------------------------------

def test_oracle_scores_one_everywhere() -> None:
    result = evaluate(fabricated_split(), lambda: FakeBackend(hermes_answer), None, CFG, seed=7)
    overall = result.summary["overall"]
    assert (overall["steps"], overall["call_steps"], overall["text_steps"]) == (7, 3, 4)
    for key in ("exact_match", "function_call_match", "tool_name_accuracy", "argument_precision",
                "argument_recall", "argument_f1", "no_call_accuracy", "step_accuracy"):
        assert overall[key] == 1.0, key
    for sel in ("gmail", "gmail+googlecalendar"):
        assert result.summary["by_selection"][sel]["exact_match"] == 1.0
    assert overall["prompt_tokens"] > 0 and overall["completion_tokens"] > 0
    assert result.prompt_style == "hermes_default" and result.generated == 7
    # the stage's metrics tokens: the same counts as the scored steps, plus the cached ones (the fake reports none)
    assert result.tokens == {"requests": 7, "prompt_tokens": overall["prompt_tokens"], "cached_prompt_tokens": 0,
                             "completion_tokens": overall["completion_tokens"]}


def test_wrong_tool_name_scores_zero() -> None:
    result = evaluate(fabricated_split(), lambda: FakeBackend(wrong_name), None, CFG, seed=7)
    overall = result.summary["overall"]
    assert overall["exact_match"] == 0.0 and overall["tool_name_accuracy"] == 0.0
    assert overall["no_call_accuracy"] == 0.0  # it called a tool on every text step too
    assert overall["argument_recall"] == 0.0
    assert 0.5 < overall["function_call_match"] < 1.0


def test_requests_one_batch_with_derived_seeds() -> None:
    from fcsynth.llm import derive_seed

    backend = FakeBackend(hermes_answer)
    seen: list[Request] = []
    orig = backend.responder
    backend.responder = lambda r: (seen.append(r), orig(r))[1]
    evaluate(fabricated_split(), lambda: backend, None, CFG, seed=7)
    assert len(backend.calls) == 1 and len(backend.calls[0]) == 7
    assert all(r.seed == derive_seed(7, r.id) for r in seen)
    assert all(r.sampling.temperature == 0.0 and r.sampling.max_tokens == 64 for r in seen)
    assert all(r.constraint is None for r in seen)


def test_checkpoint_resumes_and_reuses_only_identical_requests(tmp_path: Path) -> None:
    ck = Checkpoint("evaluate", "k", tmp_path)
    first = evaluate(fabricated_split(), lambda: FakeBackend(hermes_answer), None, CFG, 7, checkpoint=ck)
    assert first.generated == 7

    def boom() -> FakeBackend:
        raise AssertionError("backend must not be built when everything is checkpointed")

    again = evaluate(fabricated_split(), boom, None, CFG, 7, checkpoint=Checkpoint("evaluate", "k", tmp_path))
    assert again.generated == 0 and again.rows == first.rows
    # A different temperature is a different request: regenerate.
    hot = evaluate(fabricated_split(), lambda: FakeBackend(hermes_answer), None,
                   conf_section("evaluate", max_tokens=64, temperature=0.7), 7, checkpoint=Checkpoint("evaluate", "k", tmp_path))
    assert hot.generated == 7


def test_too_long_prompts_are_skipped(embedded_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(embedded_model_dir))
    result = evaluate(fabricated_split(), lambda: FakeBackend(hermes_answer), tok, CFG, 7, max_model_len=400)
    assert result.skipped_too_long > 0
    assert result.summary["overall"]["steps"] == 7 - result.skipped_too_long


def test_write_steps_table(tmp_path: Path) -> None:
    result = evaluate(fabricated_split(), lambda: FakeBackend(hermes_answer), None, CFG, seed=7)
    write_steps(result.rows, tmp_path / "steps.parquet")
    table = pl.read_parquet(tmp_path / "steps.parquet")
    assert table.height == 7 and table["id"].to_list() == sorted(table["id"].to_list())
    assert set(table["kind"]) == {"call", "text"} and table["exact"].all()
    write_steps([], tmp_path / "empty.parquet")
    assert "function_call_match" in pl.read_parquet(tmp_path / "empty.parquet").columns
