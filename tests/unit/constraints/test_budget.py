"""Token budgets by construction (fcsynth.constraints.budget), wasted-token metrics, CPU dtype choice and progress (fake backend only)."""

from __future__ import annotations

import json

import pytest

from fcsynth.catalog.tools_file import read_tools_file
from fcsynth.constraints.bounds import (
    INTEGER_BOUNDS,
    LLGUIDANCE_FORMATS,
    ascii_text,
    bounded_number,
    compact,
    max_json_bytes,
)
from fcsynth.constraints.budget import BudgetError, allocate_chars, check_fits, tokenizer_min_token_bytes
from fcsynth.constraints.compile import grammar_schema
from fcsynth.constraints.match import check_tokenizer, match_error
from fcsynth.constraints.schemas import any_object_schema, bound_schema
from fcsynth.generation import blueprints, scenarios, system_prompts
from fcsynth.judge.rubric import answer_schema as judge_schema
from fcsynth.llm.cpu import resolve_dtype
from fcsynth.llm.progress import Progress
from fcsynth.waste import token_use

from helpers.paths import REPO

BUILTIN = REPO / "data" / "builtin_tools"


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
    # a map's own larger bound is lowered to max_items, as an array's is; a minimum still holds
    own = bound_schema({"type": "object", "maxProperties": 50, "additionalProperties": {"type": "string"}}, 10, 2)
    at_least = bound_schema({"type": "object", "minProperties": 3, "additionalProperties": {"type": "string"}}, 10, 2)
    assert own["maxProperties"] == 2 and at_least["maxProperties"] == 3
    assert match_error(json_grammar(own), '{"a": "x", "b": "y", "c": "z"}') is not None


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


@pytest.mark.parametrize("fmt", sorted(LLGUIDANCE_FORMATS))
def test_ascii_formats_admit_neither_non_ascii_nor_escapes(fmt):
    lark = "%llguidance {}\nstart: j\nj: %json " + json.dumps({"type": "string", "format": fmt})
    for bad in ('"\u00e4"', '"\\u0041"', '"a\u00e4b.co"', '"http://ex\\u00e4mple.com/a"', '"a\\nb"'):
        assert match_error(lark, bad) is not None, (fmt, bad)


def test_tokens_are_at_most_bytes_for_the_embedded_tokenizer():
    assert tokenizer_min_token_bytes(check_tokenizer()) >= 1


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


def test_delivered_token_share_counts_what_reaches_the_dataset(tmp_path):
    from fcsynth.report.token_use import delivered_token_share

    assert delivered_token_share(tmp_path, 5) is None
    for name, spent, passed, out in (("scenarios", 100, 80, 10), ("conversations", 900, 800, 10), ("judge", 200, 200, 10)):
        m = {"stage": name, "records_out": out, "tokens": {"completion_tokens": spent, "completion_tokens_passed_on": passed}}
        (tmp_path / f"{name}.json").write_text(json.dumps(m))
    assert delivered_token_share(tmp_path, 10) == round(1080 / 1200, 4)  # all delivered: only waste is lost
    assert delivered_token_share(tmp_path, 5) == round(540 / 1200, 4)  # half the records curated away
