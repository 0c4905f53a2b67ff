"""The simulated turns' grammars (fcsynth.constraints.turns), checked with llguidance's
matcher (no LLM): what a call step, a text answer, a user turn and a tool response may be."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import jsonschema
import pytest

from fcsynth.constraints import turns
from fcsynth.constraints.example import example_arguments
from fcsynth.constraints.match import grammar_error, match_error
from fcsynth.tools import Tool

from helpers.dml_turns import E_ARGS, EMAIL, SEARCH, W_ARGS, W_RESP, WEATHER
from helpers.fabricate import grammar_options
from helpers.paths import SHARED_OPENAPI

# send_email's recipient is an identifier (an email): it may only be a known value.
TOOLS = [WEATHER, replace(EMAIL, parameters={**EMAIL.parameters, "properties": {
    **EMAIL.parameters["properties"], "to": {"type": "string", "format": "email"}}}), SEARCH]
KNOWN = ["bob@example.com"]


def call(name: str, args: dict | str) -> str:
    body = args if isinstance(args, str) else json.dumps(args)
    return f'<tool_call>\n{{"name": "{name}", "arguments": {body}}}\n</tool_call>'


def step_grammar(mode: str = "call", calls: tuple[int, int] = (1, 3), **options) -> str:
    return turns.assistant_grammar(TOOLS, grammar_options(**options), KNOWN, mode, calls, 4000).lark


VALID = {
    "single_call": ({}, call("get_weather", W_ARGS)),
    "parallel_two": ({}, call("get_weather", W_ARGS) + "\n" + call("send_email", E_ARGS)),
    "parallel_three": ({}, "\n".join([call("get_weather", W_ARGS), call("send_email", E_ARGS), call("search_contacts", {})])),
    "thinking": ({"thinking": True}, "<think>The user wants the weather.</think>" + call("get_weather", W_ARGS)),
    "ascii_punctuation": ({}, call("get_weather", {"city": "Zurich-Nord #2", "unit": "C", "days": 2})),
}
MUTANTS = {
    "unknown_tool": ({}, call("get_forecast", W_ARGS)),
    "missing_required_argument": ({}, call("get_weather", {"city": "Paris"})),
    "wrong_argument_type": ({}, call("get_weather", {"city": "Paris", "unit": "C", "days": "two"})),
    "enum_violation": ({}, call("get_weather", {"city": "Paris", "unit": "K"})),
    "extra_argument_forbidden": ({}, call("get_weather", {"city": "Paris", "unit": "C", "zip": "75001"})),
    "integer_out_of_range": ({}, call("get_weather", {"city": "Paris", "unit": "C", "days": 9})),
    "escape_in_json_string": ({}, call("get_weather", '{"city": "Paris \\\\"Nord\\\\"", "unit": "C"}')),
    "pretty_printed_json": ({}, call("get_weather", '{"city":"Paris","unit":"C"}')),
    "schema_property_order": ({}, call("get_weather", '{"unit": "C", "city": "Paris"}')),
    "too_many_parallel_calls": ({}, "\n".join([call("get_weather", W_ARGS)] * 4)),
    "text_in_call_mode": ({}, "It is sunny."),
    "think_missing_when_on": ({"thinking": True}, call("get_weather", W_ARGS)),
    "think_present_when_off": ({}, "<think>hmm</think>" + call("get_weather", W_ARGS)),
    "unknown_identifier": ({}, call("send_email", {"to": "eve@example.com", "body": "Hi"})),
}


@pytest.mark.parametrize("case", sorted(VALID))
def test_valid_steps_are_accepted(case):
    options, text = VALID[case]
    assert match_error(step_grammar(**options), text) is None, text


@pytest.mark.parametrize("case", sorted(MUTANTS))
def test_mutated_steps_are_rejected(case):
    options, text = MUTANTS[case]
    assert match_error(step_grammar(**options), text) is not None, f"{case} was accepted:\n{text}"


def test_a_planned_parallel_step_calls_tools_in_offered_order_once_or_more():
    lark = step_grammar("call", (2, 3))
    weather, mail = call("get_weather", W_ARGS), call("send_email", E_ARGS)
    rome = call("get_weather", {"city": "Rome", "unit": "C"})
    assert match_error(lark, weather + "\n" + mail) is None
    assert match_error(lark, weather + "\n" + rome) is None  # one tool, two argument sets (BFCL's parallel)
    assert match_error(lark, weather + "\n" + rome + "\n" + mail) is None
    assert match_error(lark, mail + "\n" + weather) is not None  # offered order
    assert match_error(lark, weather + "\n" + mail + "\n" + rome) is not None
    assert match_error(lark, weather) is not None  # a parallel step: two calls at least
    retried = turns.assistant_grammar(TOOLS, grammar_options(), KNOWN, "call", (2, 3), 4000, distinct=True).lark
    assert match_error(retried, weather + "\n" + mail) is None
    assert match_error(retried, weather + "\n" + rome) is not None  # a retried parallel step: different tools
    one_tool = turns.assistant_grammar(TOOLS[:1], grammar_options(), KNOWN, "call", (2, 3), 4000)
    assert match_error(one_tool.lark, weather + "\n" + call("get_weather", {"city": "Rome", "unit": "C"})) is None


def test_text_answers_are_bounded_ascii_without_markup_and_end_their_sentence():
    lark = step_grammar("text", max_text_chars=40)
    assert match_error(lark, "It is 21.5 C and clear in Paris today.") is None
    assert match_error(lark, call("get_weather", W_ARGS)) is not None  # text mode: no calls
    assert match_error(lark, "It is <b>21.5</b> C.") is not None
    assert match_error(lark, "Il fait 21,5 \u00b0C.") is not None
    assert match_error(lark, "x" * 41) is not None
    assert match_error(lark, "The weather in Paris is clear and warm, about") is not None  # past 3/4: finish the sentence
    either = step_grammar("either")
    assert match_error(either, "Sure.") is None and match_error(either, call("get_weather", W_ARGS)) is None


def test_error_object_only_where_the_plan_places_one():
    opt = grammar_options()
    normal = turns.environment_constraint(WEATHER, opt, False, 4000).schema
    error = turns.environment_constraint(WEATHER, opt, True, 4000).schema
    failure = {"error": {"code": "not_found", "message": "No such city"}}
    jsonschema.validate(json.loads(W_RESP), normal)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(failure, normal)
    jsonschema.validate(failure, error)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"temp": "warm"}, normal)


def test_unsupported_schemas_fall_back_and_still_compile():
    odd = Tool("demo", "odd_tool", "Lookaround pattern.", {
        "type": "object", "properties": {"label": {"type": "string", "pattern": "^(?=A)[A-Z]+$"}}, "required": ["label"]})
    broken = Tool("demo", "broken_tool", "Dangling ref.", {
        "type": "object", "properties": {"x": {"$ref": "#/definitions/nope"}}, "required": ["x"]})
    built = turns.assistant_grammar([WEATHER, odd, broken], grammar_options(), [], "call", (1, 1), 4000)
    assert grammar_error(built.lark) is None
    assert {c.tool.name for c in built.offered} == {"get_weather", "odd_tool", "broken_tool"}
    assert match_error(built.lark, call("odd_tool", {"label": "ABC"})) is None


@pytest.fixture(scope="module")
def openapi_tools() -> list[Tool]:
    openapi = pytest.importorskip("fcsynth.catalog.openapi")
    tools: list[Tool] = []
    for name in ("googleapis_gmail_v1.yaml", "calendly_api_2.0.0.yaml", "asana_asana_1.0.yaml", "swagger_petstore_v2.yaml"):
        path = SHARED_OPENAPI / name
        if path.exists():
            tools += openapi.import_openapi(path).tools
    if not tools:
        pytest.skip("no OpenAPI specs in ../shared/openapi")
    return tools


def test_real_openapi_calls_are_accepted_and_mutations_rejected(openapi_tools):
    """Sets of real operations: a valid call of each offered tool is accepted, and a required
    argument dropped or an unknown one added is rejected."""
    rnd = random.Random(7)
    checked = 0
    for _ in range(6):
        sample = {t.name: t for t in rnd.sample(openapi_tools, 10)}.values()
        known = ["abc123", "ana@contoso.test", "https://contoso.test/a/1", "2026-01-02"]
        built = turns.assistant_grammar(list(sample), grammar_options(), known, "call", (1, 1), 4000)
        for c in built.offered:
            args = example_arguments(Tool(c.tool.toolkit, c.tool.name, "", c.args))
            if args is None:
                continue
            assert match_error(built.lark, call(c.tool.name, args)) is None, (c.tool.name, args)
            assert match_error(built.lark, call(c.tool.name, {**args, "zz_not_a_param": 1})) is not None
            required = c.args.get("required") or []
            if required:
                assert match_error(built.lark, call(c.tool.name, {k: v for k, v in args.items() if k != required[0]})) is not None
            checked += 1
    assert checked >= 20


def test_every_default_tool_keeps_the_configured_bounds_in_an_empty_context() -> None:
    """With the shipped defaults no built-in tool is narrowed below dml.*: its longest call
    and answer fit conversations.max_tokens; a context that leaves less only withholds it."""
    from fcsynth.catalog.build import build_catalog
    from fcsynth.config import conf_defaults
    from fcsynth.paths import ROOT

    cfg = conf_defaults()
    opt, cap = cfg.dml, cfg.conversations.max_tokens
    tools = build_catalog(cfg.catalog, ROOT).result.tools
    known = ["bob@example.com", "https://example.com/x", "abc123def456", "12345"]  # one for every id parameter
    offered = turns.callable_tools(tools, opt, known, cap)
    assert len(offered) == len(tools) and not [c.tool.name for c in offered if c.tightened]
    assert not [t.name for t in tools if turns.environment_constraint(t, opt, False, cap).tightened]
    largest = max(offered, key=lambda c: c.call_bytes)
    assert largest.call_bytes > 2000
    # a context that leaves less than its call: the tool is not offered, nothing is narrowed
    small = turns.callable_tools(tools, opt, known, budget=largest.call_bytes // 2, cap=cap)
    assert largest.tool.name not in {c.tool.name for c in small} and not any(c.tightened for c in small)
