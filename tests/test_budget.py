"""Token budgets by construction (fcsynth.budget, fcsynth.dml.budget), regeneration
rounds, wasted-token metrics, CPU dtype choice and progress (fake backend only)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from fcsynth.budget import (
    ASCII_FORMATS,
    INTEGER_BOUNDS,
    BudgetError,
    allocate_chars,
    ascii_text,
    bounded_number,
    check_fits,
    compact,
    max_json_bytes,
    tokenizer_min_token_bytes,
)
from fcsynth.config import compose, parse_config
from fcsynth.dml import GrammarOptions, build_grammar
from fcsynth.dml import budget as dml_budget
from fcsynth.dml.grammar import build_budgeted_grammar
from fcsynth.dml.match import check_tokenizer, match_error
from fcsynth.dml.render import render_dml
from fcsynth.dml.schemas import any_object_schema, bound_schema, grammar_schema
from fcsynth.generation import blueprints, conversations, scenarios, system_prompts
from fcsynth.judge.rubric import answer_schema as judge_schema
from fcsynth.llm.cpu import resolve_dtype
from fcsynth.llm.fake_backend import FakeBackend
from fcsynth.llm.progress import Progress
from fcsynth.stage import StageContext
from fcsynth.tools import Tool, read_tools_file
from fcsynth.waste import token_use

from _fabricate import grammar_options

BUILTIN = Path(__file__).resolve().parents[1] / "data" / "builtin_tools"


def json_grammar(schema: dict) -> str:
    return "%llguidance {}\nstart: %json " + json.dumps(compact(schema)) + "\n"


# (schema, the longest instance llguidance accepts): the bound must be exactly its size.
TIGHT = {
    "ascii_string": (ascii_text(0, 5), '"~~~~~"'),
    "integer_range": ({"type": "integer", **INTEGER_BOUNDS}, "-999999999999999"),
    "bounded_float": (bounded_number(), "999999999999998.999999"),
    "enum": ({"enum": ["a", "longer"]}, '"longer"'),
    "object": (
        {"type": "object", "properties": {"a": ascii_text(0, 3), "b": {"type": "boolean"}}, "additionalProperties": False},
        '{"a": "xyz", "b": false}',
    ),
    "array": ({"type": "array", "maxItems": 2, "items": ascii_text(0, 1)}, '["x", "y"]'),
}


@pytest.mark.parametrize("case", sorted(TIGHT))
def test_json_bound_is_the_longest_accepted_instance(case):
    schema, longest = TIGHT[case]
    assert match_error(json_grammar(schema), longest) is None
    assert max_json_bytes(schema) == len(longest.encode())


def test_negative_numbers_stay_possible_and_bounded():
    schema = bounded_number(-50, 10)
    for text in ("-50", "9.999999", "0"):
        assert match_error(json_grammar(schema), text) is None
        assert len(text) <= max_json_bytes(schema)
    assert match_error(json_grammar(schema), "1.0000001") is not None


@pytest.mark.parametrize("schema", [
    {"type": "string"},                                   # no maxLength
    {"type": "number", "minimum": 0, "maximum": 9},       # any number of decimals
    {"type": "integer"},                                  # any number of digits
    {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 1}},  # free keys
    {"$ref": "#/$defs/x"},
])
def test_unbounded_schemas_have_no_bound(schema):
    assert max_json_bytes(schema) is None


def test_bounding_makes_every_builtin_tool_schema_finite():
    tools = [t for f in sorted(BUILTIN.glob("*.json")) for t in read_tools_file(f)]
    assert len(tools) >= 50
    for tool in tools:
        for schema in (tool.parameters, tool.response):
            if schema is None:
                continue
            styled, level, _ = grammar_schema(schema, 200, 8)
            assert max_json_bytes(styled) is not None, (tool.name, level)


def test_bounded_strings_are_ascii_and_maps_have_identifier_keys():
    bounded = bound_schema({"type": "object", "additionalProperties": {"type": "string"}}, 10, 2)
    grammar = json_grammar(bounded)
    assert match_error(grammar, '{"key_1": "plain text"}') is None
    assert match_error(grammar, '{"key_1": "caf\u00e9"}') is not None  # non-ASCII
    assert match_error(grammar, '{"key 1": "x"}') is not None  # not an identifier
    assert match_error(grammar, '{"a": "x", "b": "y", "c": "z"}') is not None  # maxProperties
    assert max_json_bytes(any_object_schema(20, 3)) is not None


def test_allocate_scales_text_to_the_budget_and_fails_in_one_line():
    spans = {"persona": (3, 3, 160), "outline": (1, 20, 500)}
    chars = allocate_chars(400, 100, spans, "blueprints")
    assert 3 * chars["persona"] + chars["outline"] + 100 + 1 <= 400
    assert chars["outline"] > chars["persona"] >= 3
    assert allocate_chars(10_000, 100, spans, "x") == {"persona": 160, "outline": 500}
    with pytest.raises(BudgetError) as err:
        allocate_chars(40, 30, spans, "blueprints")
    message = str(err.value)
    assert "\n" not in message and message.startswith("blueprints: max_tokens=40") and "outline" in message
    with pytest.raises(BudgetError, match="no length bound"):
        check_fits(100, None, "x")


@pytest.mark.parametrize("budget", [160, 400, 900])
def test_json_stage_schemas_fit_their_budget(budget):
    for schema in (
        scenarios.answer_schema(budget),
        system_prompts.answer_schema(budget),
        blueprints.answer_schema(["tool_a", "tool_b", "tool_c"], budget),
        judge_schema(600, budget),
    ):
        assert max_json_bytes(schema) + 1 <= budget


def test_json_stage_budget_too_small_is_a_clear_error():
    with pytest.raises(BudgetError, match="^scenarios: max_tokens=20"):
        scenarios.answer_schema(20)


WEATHER = Tool(
    "demo", "get_weather", "Weather.",
    {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 7}},
     "required": ["city"], "additionalProperties": False},
    response={"type": "object", "properties": {"temp": {"type": "number"}}, "required": ["temp"], "additionalProperties": False},
)
SMALL = grammar_options(max_user_turns=2, max_steps_per_turn=3, max_parallel_calls=2, max_text_chars=200,
                        max_json_string_chars=20, max_json_items=2, min_text_chars=10, require_tool_call=False)


def longest_conversation(opt: GrammarOptions) -> str:
    """A conversation at every bound: each text span full, every step full of calls."""
    text = "x" * opt.max_text_chars
    call = {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"c{i}", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "y" * 20, "days": 7}}}
        for i in range(opt.max_parallel_calls)]}
    resp = [{"role": "tool", "tool_call_id": f"c{i}", "name": "get_weather", "content": '{"temp": 999999999999998.999999}'}
            for i in range(opt.max_parallel_calls)]
    msgs = []
    for _ in range(opt.max_user_turns):
        msgs.append({"role": "user", "content": text})
        for _ in range(opt.max_steps_per_turn):
            msgs += [call, *resp]
        msgs.append({"role": "assistant", "content": text})
    return render_dml(msgs)


def test_dml_bound_covers_the_longest_conversation_and_fit_shrinks_the_shape():
    built = build_grammar([WEATHER], SMALL)
    text = longest_conversation(SMALL)
    assert match_error(built.lark, text) is None
    assert len(text.encode()) <= dml_budget.max_bytes(SMALL, built.call_bytes, built.resp_bytes)
    fitted = build_budgeted_grammar([WEATHER], SMALL, 900, "conversations: x")
    assert fitted.max_tokens <= 900
    opt = fitted.options
    assert (opt.max_steps_per_turn, opt.max_parallel_calls) < (3, 2) or opt.max_text_chars < 200
    assert match_error(fitted.lark, longest_conversation(opt)) is None


def test_dml_json_bounds_tighten_before_the_text_only_fallback_and_budget_error():
    loose = replace(SMALL, max_json_string_chars=5000, require_tool_call=True)
    fitted = build_budgeted_grammar([WEATHER], loose, 600, "conversations: x")
    assert fitted.max_tokens <= 600, "tightened JSON bounds make the whole conversation fit"
    assert fitted.options.max_json_string_chars < 5000
    # A required argument of at least 2000 chars cannot be narrowed: only text and markup fit.
    essay = replace(WEATHER, parameters={"type": "object", "properties": {"text": {"type": "string", "minLength": 2000}},
                                         "required": ["text"], "additionalProperties": False})
    built = build_budgeted_grammar([essay], loose, 600, "conversations: x")
    assert built.max_tokens > 600
    assert dml_budget.max_tokens(built.options, 0, 0) <= 600
    with pytest.raises(BudgetError, match="conversations: x: max_tokens=50"):
        build_budgeted_grammar([WEATHER], loose, 50, "conversations: x")


@pytest.mark.parametrize("features", [{"parallel_calls": False, "tool_error": False},
                                      {"parallel_calls": True, "tool_error": True}], ids=["plain", "parallel+errors"])
def test_default_conversations_are_complete_by_construction_on_every_builtin_toolkit(features):
    """With the default dml bounds and conversations.max_tokens, every conversation the
    grammar allows over any built-in toolkit's tools fits the budget (JSON included), and the
    prompt's example still matches the fitted grammar."""
    from fcsynth.dml.example import example_messages

    cfg = parse_config(compose())
    budget = cfg.conversations.max_tokens
    for path in sorted((Path(__file__).parents[1] / "data" / "builtin_tools").glob("*.json")):
        tools = read_tools_file(path)
        for k in range(0, len(tools), 5):
            subset = tools[k : k + 5]
            options = GrammarOptions.for_conversation(cfg.dml, features)
            built = build_budgeted_grammar(subset, options, budget, f"conversations: {path.stem}")
            assert built.max_tokens <= budget, (path.stem, [t.name for t in subset], built.max_tokens)
            example = render_dml(example_messages(subset, built.options, key=path.stem))
            assert match_error(built.lark, example) is None, (path.stem, example[:500])


def test_json_levels_tighten_every_bound_and_keep_strings_above_the_floor():
    configured = grammar_options(max_json_string_chars=200, max_json_items=8)
    levels = dml_budget.json_levels(configured)
    assert levels[0] == configured and len(levels) == len(set(levels))
    for looser, tighter in zip(levels, levels[1:], strict=False):
        for name in dml_budget.JSON_BOUND_FIELDS:
            a, b = getattr(looser, name), getattr(tighter, name)
            assert b is None and a is None or b is not None and (a is None or b <= a), name
    assert levels[-1].max_json_string_chars == dml_budget.JSON_MIN_STRING_CHARS
    assert levels[-1].max_argument_properties == 1
    assert dml_budget.json_levels(grammar_options(max_json_string_chars=20))[-1].max_json_string_chars == 20


@pytest.mark.parametrize("fmt", sorted(ASCII_FORMATS))
def test_ascii_formats_admit_neither_non_ascii_nor_escapes(fmt):
    from fcsynth.dml.match import match_error

    lark = "%llguidance {}\nstart: j\nj: %json " + json.dumps({"type": "string", "format": fmt})
    for bad in ('"\u00e4"', '"\\u0041"', '"a\u00e4b.co"', '"http://ex\\u00e4mple.com/a"', '"a\\nb"'):
        assert match_error(lark, bad) is not None, (fmt, bad)


def test_tokens_are_at_most_bytes_for_the_embedded_tokenizer():
    assert tokenizer_min_token_bytes(check_tokenizer()) >= 1


def make_ctx(tmp_path: Path, responder=None, *overrides: str) -> StageContext:
    ctx = StageContext(parse_config(compose(["llm=fake", *overrides])), tmp_path)
    ctx.backend = FakeBackend(responder)
    return ctx


def blueprint_row(tool: Tool) -> dict:
    return {
        "id": "demo-0000", "selection": "demo", "toolkits": ["demo"], "scenario": "Check the weather.",
        "persona": json.dumps({"role": "r", "company": "c", "context": "x"}), "outline": "Ask, call, answer.",
        "tools": [tool.name], "distractors": [], "clarity": "good", "status": "ok",
        "features": json.dumps({"parallel_calls": False, "tool_error": False, "missing_argument": False}),
    }


def test_conversations_regenerate_failed_rows_with_a_round_seed(tmp_path):
    seen = []

    def responder(req):
        seen.append((req.id, req.seed))
        return req.metadata["fake_output"] if "#r2" in req.id else "<user>cut off"

    ctx = make_ctx(tmp_path, responder, "conversations.max_rounds=3")
    rows, metrics = conversations.run(ctx, [blueprint_row(WEATHER)], {"demo": [WEATHER]})
    assert [i for i, _ in seen] == ["demo-0000", "demo-0000#r1", "demo-0000#r2"]
    assert len({s for _, s in seen}) == 3
    assert rows[0]["status"] == "ok" and rows[0]["round"] == 2
    m = metrics.as_dict()
    assert m["regenerated"] == 1 and m["rounds"] == 3 and m["records_out"] == 1
    assert 0 < m["tokens"]["wasted_token_share"] < 1
    # A rerun regenerates nothing: every round's row is in the checkpoint.
    seen.clear()
    rows, _ = conversations.run(make_ctx(tmp_path, responder, "conversations.max_rounds=3"), [blueprint_row(WEATHER)], {"demo": [WEATHER]})
    assert seen == [] and rows[0]["round"] == 2


def test_conversations_stage_fails_when_the_bounds_cannot_fit(tmp_path):
    ctx = make_ctx(tmp_path, None, "conversations.max_tokens=60")
    with pytest.raises(BudgetError, match="^conversations: demo-0000: max_tokens=60"):
        conversations.run(ctx, [blueprint_row(WEATHER)], {"demo": [WEATHER]})


def test_token_use():
    rows = [{"id": "a", "completion_tokens": 30}, {"id": "b", "completion_tokens": 10}, {"id": "c"}]
    assert token_use(rows, ["a"]) == {"completion_tokens_passed_on": 30, "wasted_token_share": 0.25}
    assert token_use([], [])["wasted_token_share"] == 0.0


def test_dtype_auto_follows_the_cpu():
    assert resolve_dtype("auto", frozenset({"avx2"}), gpu=False) == "float32"
    assert resolve_dtype("auto", frozenset({"avx2", "avx512_bf16"}), gpu=False) == "bfloat16"
    assert resolve_dtype("auto", frozenset(), gpu=True) == "bfloat16"
    assert resolve_dtype("float16", frozenset(), gpu=False) == "float16"


def test_progress_eta_from_tokens():
    p = Progress(4)
    p.tokens(100)
    assert p.eta(10.0) == "?"  # nothing finished: no estimate yet
    p.finished()
    p.tokens(0)
    # 100 tokens per finished request, 4 requests, 100 generated: 300 left at 10 tok/s.
    assert p.eta(10.0) == "00:00:30"
    p.close()


def test_report_token_use_per_stage_and_run(tmp_path):
    from fcsynth.report.token_use import write_token_use

    def stage(name, spent, passed, out=0):
        m = {"stage": name, "records_out": out, "tokens": {"completion_tokens": spent, "completion_tokens_passed_on": passed}}
        (tmp_path / f"{name}.json").write_text(json.dumps(m))

    stage("scenarios", 100, 80)
    stage("conversations", 900, 900, out=10)
    run = write_token_use(tmp_path, tmp_path / "plots" / "token_use.csv")
    assert run == {"stage": "run", "completion_tokens": 1000, "completion_tokens_passed_on": 980,
                   "wasted_token_share": 0.02, "tokens_per_delivered_conversation": 100.0}
    lines = (tmp_path / "plots" / "token_use.csv").read_text().splitlines()
    assert lines[0].startswith("stage,completion_tokens") and lines[1].startswith("scenarios,100,80,0.2,10.0")
