"""DML grammar, parser, renderer and example: checked with llguidance's matcher (no LLM)."""

from __future__ import annotations

import copy
import json
import random

import pytest

from fcsynth.dml import (
    DMLParseError,
    GrammarOptions,
    build_grammar,
    example_messages,
    parse_dml,
    render_dml,
    validate_record,
)
from fcsynth.dml.match import grammar_error, match_error
from fcsynth.dml.schemas import bound_schema, prune_schema
from fcsynth.errors import FcsynthError
from fcsynth.tools import Tool, read_tools_file

from _fabricate import conf_section
from _fabricate import grammar_options as pipeline_options
from conftest import REPO, SHARED_OPENAPI


def grammar_options(**changes):
    """The pipeline's options (conf/) loosened to what these grammar tests vary from: no
    required tool call, 600-character text spans."""
    return pipeline_options(**{"require_tool_call": False, "max_text_chars": 600, **changes})

WEATHER = Tool(
    "demo",
    "get_weather",
    "Current weather for a city.",
    {
        "type": "object",
        "properties": {
            "city": {"type": "string", "minLength": 1},
            "unit": {"type": "string", "enum": ["C", "F"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
        },
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
    response={
        "type": "object",
        "properties": {"temp": {"type": "number"}, "sky": {"type": "string"}},
        "required": ["temp"],
    },
)
EMAIL = Tool(
    "demo",
    "send_email",
    "Send an email.",
    {
        "type": "object",
        "properties": {"to": {"type": "string"}, "subject": {"type": "string"}, "body": {"type": "string"}},
        "required": ["to", "body"],
    },
)
SEARCH = Tool("demo", "search_contacts", "Find contacts.", {"type": "object", "properties": {"query": {"type": "string"}}})
TOOLS = [WEATHER, EMAIL, SEARCH]

W_ARGS = {"city": "Paris", "unit": "C"}
W_RESP = '{"temp": 21.5, "sky": "clear"}'
E_ARGS = {"to": "bob@example.com", "body": "Hi Bob"}
E_RESP = '{"id": "m1", "status": "sent"}'


def turn(user: str, steps: list[list[tuple[str, dict, str]]] = (), final: str = "Done.", think: str | None = None,
         start: int = 1) -> list[dict]:
    """Messages of one user/assistant exchange; steps are lists of (tool, args, response)."""
    msgs: list[dict] = [{"role": "user", "content": user}]
    first = len(msgs)
    n = start
    for step in steps:
        calls = []
        for name, args, _ in step:
            calls.append({"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": args}})
            n += 1
        msgs.append({"role": "assistant", "content": "", "tool_calls": calls})
        for call, (name, _, resp) in zip(calls, step, strict=True):
            msgs.append({"role": "tool", "tool_call_id": call["id"], "name": name, "content": resp})
    msgs.append({"role": "assistant", "content": final})
    if think is not None:
        msgs[first]["reasoning_content"] = think
    return msgs


def grammar(**kw) -> str:
    return build_grammar(TOOLS, grammar_options(**kw)).lark


def accepted(lark: str, messages_or_text) -> bool:
    text = messages_or_text if isinstance(messages_or_text, str) else render_dml(messages_or_text)
    err = match_error(lark, text)
    return err is None


# ---------------------------------------------------------------- valid conversations


VALID = {
    "no_calls": (dict(), turn("Hello there", final="Hi! How can I help?")),
    "single_call": (dict(), turn("Weather in Paris?", [[("get_weather", W_ARGS, W_RESP)]], "It is 21.5 C and clear.")),
    "parallel_two": (
        dict(),
        turn("Weather, and mail Bob", [[("get_weather", W_ARGS, W_RESP), ("send_email", E_ARGS, E_RESP)]], "Both done."),
    ),
    "parallel_three_max": (
        dict(max_parallel_calls=3),
        turn("Three things", [[("get_weather", W_ARGS, W_RESP), ("send_email", E_ARGS, E_RESP),
                               ("search_contacts", {}, '{"items": []}')]]),
    ),
    "two_steps_one_turn": (
        dict(),
        turn("Find Bob and mail him", [[("search_contacts", {"query": "Bob"}, '{"email": "bob@example.com"}')],
                                       [("send_email", E_ARGS, E_RESP)]], "Mailed Bob."),
    ),
    "tool_error": (
        dict(allow_tool_errors=True),
        turn("Weather?", [[("get_weather", W_ARGS, '{"error": {"code": 503, "message": "Service unavailable"}}')],
                          [("get_weather", W_ARGS, W_RESP)]], "After a retry: 21.5 C."),
    ),
    "thinking": (
        dict(thinking=True),
        turn("Weather in Paris?", [[("get_weather", W_ARGS, W_RESP)]], "21.5 C.", think="The user wants the weather."),
    ),
    "min_turns_two": (
        dict(min_user_turns=2, max_user_turns=2),
        turn("Hi", final="Hello!") + turn("Weather?", [[("get_weather", W_ARGS, W_RESP)]], "21.5 C."),
    ),
    "max_turns_three": (
        dict(max_user_turns=3),
        turn("a", final="A.") + turn("b", final="B.") + turn("c", [[("get_weather", W_ARGS, W_RESP)]], "C."),
    ),
    "ascii_punctuation": (
        dict(),
        turn("Weather in Zurich (north)?\nThanks!", [[("get_weather", {"city": "Zurich-Nord #2", "unit": "C", "days": 2}, W_RESP)]], "Sunny: 21.5 C & dry."),
    ),
}


@pytest.mark.parametrize("case", sorted(VALID))
def test_valid_conversations_are_accepted_and_round_trip(case):
    opts, msgs = VALID[case]
    lark = grammar(**opts)
    text = render_dml(msgs)
    assert match_error(lark, text) is None, text
    assert parse_dml(text) == msgs
    assert render_dml(parse_dml(text)) == text
    tools = [t.to_openai() for t in TOOLS]
    assert validate_record({"messages": msgs, "tools": tools}) == []


# ---------------------------------------------------------------- rejected mutations

BASE = turn("Weather in Paris?", [[("get_weather", W_ARGS, W_RESP)]], "It is 21.5 C.")
BASE_TEXT = render_dml(BASE)


def _with_args(args: dict) -> list[dict]:
    msgs = copy.deepcopy(BASE)
    msgs[1]["tool_calls"][0]["function"]["arguments"] = args
    return msgs


MUTANTS = {
    "unknown_tool": (dict(), BASE_TEXT.replace('"get_weather"', '"get_forecast"')),
    "missing_required_argument": (dict(), render_dml(_with_args({"city": "Paris"}))),
    "wrong_argument_type": (dict(), render_dml(_with_args({"city": "Paris", "unit": "C", "days": "two"}))),
    "enum_violation": (dict(), render_dml(_with_args({"city": "Paris", "unit": "K"}))),
    "extra_argument_forbidden": (dict(), render_dml(_with_args({"city": "Paris", "unit": "C", "zip": "75001"}))),
    "integer_out_of_range": (dict(), render_dml(_with_args({"city": "Paris", "unit": "C", "days": 9}))),
    "call_without_response": (dict(), BASE_TEXT.replace(f"<tool_response>{W_RESP}</tool_response>\n", "")),
    "n_calls_n_minus_1_responses": (
        dict(),
        render_dml(turn("x", [[("get_weather", W_ARGS, W_RESP), ("send_email", E_ARGS, E_RESP)]])).replace(
            f"<tool_response>{E_RESP}</tool_response>\n", ""),
    ),
    "turn_ends_on_tool_response": (dict(), BASE_TEXT.replace("It is 21.5 C.</assistant>", "</assistant>")),
    "too_few_user_turns": (dict(min_user_turns=2, max_user_turns=3), BASE_TEXT),
    "too_many_user_turns": (dict(max_user_turns=2), render_dml(BASE + turn("b", final="B.") + turn("c", final="C."))),
    "response_violates_response_schema": (dict(), BASE_TEXT.replace(W_RESP, '{"temp": "warm"}')),
    "error_object_when_errors_off": (
        dict(allow_tool_errors=False), BASE_TEXT.replace(W_RESP, '{"error": {"code": 500, "message": "boom"}}')),
    "think_missing_when_on": (dict(thinking=True), BASE_TEXT),
    "think_present_when_off": (dict(), BASE_TEXT.replace("<assistant>", "<assistant><think>hmm</think>")),
    "too_many_parallel_calls": (
        dict(max_parallel_calls=1),
        render_dml(turn("x", [[("get_weather", W_ARGS, W_RESP), ("send_email", E_ARGS, E_RESP)]])),
    ),
    "text_too_long": (dict(max_text_chars=20), BASE_TEXT.replace("It is 21.5 C.", "x" * 21)),
    "markup_inside_text": (dict(), BASE_TEXT.replace("It is 21.5 C.", "It is <b>21.5</b> C.")),
    # Text and JSON strings are printable ASCII, one byte (<= one token) a char (fcsynth.budget).
    "non_ascii_text": (dict(), BASE_TEXT.replace("It is 21.5 C.", "Il fait 21,5 °C.")),
    "escape_in_json_string": (dict(), BASE_TEXT.replace('"city": "Paris"', '"city": "Paris \\"Nord\\""')),
    "pretty_printed_json": (dict(), BASE_TEXT.replace('{"city": "Paris", "unit": "C"}', '{"city":"Paris","unit":"C"}')),
    "schema_property_order": (dict(), BASE_TEXT.replace('{"city": "Paris", "unit": "C"}', '{"unit": "C", "city": "Paris"}')),
    "response_of_another_tool": (dict(), render_dml(turn("x", [[("get_weather", W_ARGS, E_RESP)]]))),
    "parallel_responses_swapped": (
        dict(),
        render_dml(turn("x", [[("get_weather", W_ARGS, E_RESP), ("send_email", E_ARGS, W_RESP)]])),
    ),
}


@pytest.mark.parametrize("case", sorted(MUTANTS))
def test_mutated_conversations_are_rejected(case):
    opts, text = MUTANTS[case]
    lark = grammar(**opts)
    assert match_error(lark, text) is not None, f"{case} was accepted:\n{text}"


def test_error_object_accepted_only_when_allowed():
    text = BASE_TEXT.replace(W_RESP, '{"error": {"code": "not_found", "message": "No such city"}}')
    assert accepted(grammar(allow_tool_errors=True), text)
    assert not accepted(grammar(allow_tool_errors=False), text)


def test_parallel_steps_beyond_pairing_budget_only_fix_the_count():
    built = build_grammar(TOOLS, grammar_options(max_parallel_calls=3, max_pairing_alternatives=4))
    assert built.paired_steps == 2  # 2 response classes: 2**2 = 4 fits, 2**3 = 8 does not
    three = [("get_weather", W_ARGS, E_RESP), ("send_email", E_ARGS, W_RESP), ("search_contacts", {}, "{}")]
    assert accepted(built.lark, turn("x", [three]))  # responses not tied to calls in 3-call steps
    assert not accepted(built.lark, turn("x", [three[:2]]))  # but they are in 2-call steps
    two_answers = render_dml(turn("x", [three])).replace("<tool_response>{}</tool_response>\n", "")
    assert not accepted(built.lark, two_answers)  # the count is always fixed


def test_free_text_is_a_bounded_regex_terminal():
    lark = grammar(max_text_chars=50, thinking=True)
    assert "TEXT: /[!-;=-~][ -;=-~\\n]{0,49}/" in lark
    assert "THINK: /[!-;=-~][ -;=-~\\n]{0,49}/" in lark
    assert "{0,2}" in lark and "~/" not in lark  # bounded repetition, no negation operator


def test_duplicate_or_missing_tools_are_user_errors():
    with pytest.raises(FcsynthError, match="duplicate"):
        build_grammar([WEATHER, WEATHER], grammar_options())
    with pytest.raises(FcsynthError, match="without tools"):
        build_grammar([], grammar_options())


def test_options_from_config():

    cfg = conf_section("dml", thinking=True, min_user_turns=2, max_user_turns=4, max_parallel_calls=2, max_text_chars=300, min_text_chars=40)
    opts = GrammarOptions.from_config(cfg, allow_tool_errors=True)
    assert (opts.thinking, opts.min_user_turns, opts.max_user_turns, opts.max_parallel_calls) == (True, 2, 4, 2)
    assert opts.allow_tool_errors and opts.max_text_chars == 300
    with pytest.raises(FcsynthError):
        grammar_options(min_user_turns=3, max_user_turns=2)


# ---------------------------------------------------------------- schema handling


def test_bounding_only_narrows():
    schema = {"type": "object", "properties": {"s": {"type": "string"}, "a": {"type": "array", "items": {"type": "string"}}}}
    bounded = bound_schema(schema, 10, 3)
    assert bounded["additionalProperties"] is False
    assert bounded["properties"]["s"]["maxLength"] == 10 and bounded["properties"]["a"]["maxItems"] == 3
    assert "additionalProperties" not in schema  # the input is not modified
    lark = f'start: %json {json.dumps(bounded)}'
    assert match_error(lark, '{"s": "' + "x" * 11 + '"}') is not None
    assert match_error(lark, '{"s":"ok"}') is None


def test_allof_branches_are_not_closed():
    schema = {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}},
                        {"type": "object", "properties": {"b": {"type": "string"}}}]}
    bounded = bound_schema(schema, 10, 3)
    assert all("additionalProperties" not in b for b in bounded["allOf"])


def test_response_pruning_keeps_required_and_is_narrower():
    import jsonschema

    props = {f"p{i}": {"type": "string"} for i in range(10)}
    schema = {"type": "object", "properties": {**props, "nested": {"type": "object", "properties": props, "required": ["p9"]}},
              "required": ["p9"]}
    pruned = prune_schema(schema, 3, 1)
    assert list(pruned["properties"]) == ["p0", "p1", "p2", "p9"]
    instance = {"p0": "a", "p9": "z"}
    jsonschema.validate(instance, pruned)
    jsonschema.validate(instance, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"p9": "z", "p5": "x"}, pruned)


def test_unsupported_schemas_fall_back_and_are_reported():
    odd = Tool("demo", "odd_tool", "Lookaround pattern.", {
        "type": "object", "properties": {"code": {"type": "string", "pattern": "^(?=A)[A-Z]+$"}}, "required": ["code"]})
    broken = Tool("demo", "broken_tool", "Dangling ref.", {
        "type": "object", "properties": {"x": {"$ref": "#/definitions/nope"}}, "required": ["x"]})
    built = build_grammar([WEATHER, odd, broken], grammar_options())
    assert grammar_error(built.lark) is None
    assert built.fallbacks == ["broken_tool", "odd_tool"]
    assert built.levels["odd_tool"] in ("lenient", "stripped") and built.levels["broken_tool"] == "any_object"
    assert built.levels["get_weather"] == "strict" and built.errors["broken_tool"]
    call = '<tool_call>{"name": "odd_tool", "arguments": {"code": "ABC"}}</tool_call>'
    text = f'<user>hi</user>\n<assistant>{call}\n<tool_response>{{"ok": true}}</tool_response>\nok</assistant>'
    assert match_error(built.lark, text) is None


# ---------------------------------------------------------------- parser


def test_parse_shapes_messages_and_ids():
    msgs = parse_dml(render_dml(VALID["two_steps_one_turn"][1] + turn("again", [[("get_weather", W_ARGS, W_RESP)]], start=3)))
    calls = [c["id"] for m in msgs if m["role"] == "assistant" for c in m.get("tool_calls", [])]
    assert calls == ["call_1", "call_2", "call_3"]
    tool_msgs = [m for m in msgs if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_msgs] == calls
    assert tool_msgs[0] == {"role": "tool", "tool_call_id": "call_1", "name": "search_contacts",
                            "content": '{"email": "bob@example.com"}'}
    assert msgs[1]["content"] == "" and isinstance(msgs[1]["tool_calls"][0]["function"]["arguments"], dict)


def test_parse_reasoning_goes_to_first_assistant_message():
    msgs = parse_dml(render_dml(VALID["thinking"][1]))
    assert msgs[1]["reasoning_content"] == "The user wants the weather." and "tool_calls" in msgs[1]
    assert "reasoning_content" not in msgs[-1]


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "empty"),
        ("hello", "expected_user_turn"),
        ("<user>hi</user>", "expected_assistant_turn"),
        ("<user>hi</user>\n<assistant>hello", "unterminated_assistant_turn"),
        ("<user>hi</user>\n<assistant><tool_call>{\"name\": \"a\"}</tool_call>\n", "bad_tool_call"),
        ("<user>hi</user>\n<assistant><tool_call>{oops}</tool_call>\n", "bad_tool_call_json"),
        ('<user>hi</user>\n<assistant><tool_call>{"name": "a", "arguments": {}}</tool_call>\nok</assistant>',
         "missing_tool_response"),
        ('<user>hi</user>\n<assistant><tool_call>{"name": "a", "arguments": {}}</tool_call>\n'
         "<tool_response>{}</tool_response>\n<tool_response>{}</tool_response>\nok</assistant>", "extra_tool_response"),
        ('<user>hi</user>\n<assistant><tool_call>{"name": "a", "arguments": {}}</tool_call>\n'
         "<tool_response>{}</tool_response>\n</assistant>", "empty_text"),
        ("<user>hi</user>\n<assistant>ok</assistant>\n<assistant>again</assistant>", "expected_user_turn"),
        ("<user>hi</user>\n<assistant>ok</assistant>garbage", "trailing_text"),
    ],
)
def test_parse_errors_have_stable_reasons(text, reason):
    with pytest.raises(DMLParseError) as err:
        parse_dml(text)
    assert err.value.reason == reason


def test_render_accepts_string_arguments_and_skips_system():
    msgs = copy.deepcopy(BASE)
    msgs[1]["tool_calls"][0]["function"]["arguments"] = json.dumps(W_ARGS, indent=2)
    assert render_dml([{"role": "system", "content": "be nice"}, *msgs]) == BASE_TEXT


# ---------------------------------------------------------------- example + real tool sets


def _builtin_toolkits() -> dict[str, list[Tool]]:
    files = sorted((REPO / "data" / "builtin_tools").glob("*.json"))
    return {f.stem: read_tools_file(f) for f in files}


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


OPTION_SETS = [
    grammar_options(),
    grammar_options(thinking=True, allow_tool_errors=True, min_user_turns=2, max_user_turns=3),
    grammar_options(max_parallel_calls=1, max_user_turns=1, max_text_chars=60),
    grammar_options(min_user_turns=3, max_user_turns=3, max_steps_per_turn=0),
]


def _check_example(tools: list[Tool], opts: GrammarOptions) -> None:
    built = build_grammar(tools, opts)
    msgs = example_messages(tools, opts)
    text = render_dml(msgs)
    assert match_error(built.lark, text) is None, text[:2000]
    assert parse_dml(text) == msgs
    assert validate_record({"messages": msgs, "tools": [t.to_openai() for t in tools]}) == []


@pytest.mark.parametrize("opts", OPTION_SETS, ids=lambda o: f"t{o.thinking}-p{o.max_parallel_calls}-u{o.min_user_turns}")
def test_example_conversation_is_accepted_by_its_grammar_builtin(opts):
    kits = _builtin_toolkits()
    if not kits:
        pytest.skip("no built-in toolkits yet")
    for tools in kits.values():
        _check_example(tools, opts)
    example = example_messages(TOOLS, opts)
    assert sum(m["role"] == "user" for m in example) >= opts.min_user_turns


def test_example_and_grammar_on_real_openapi_tool_sets(openapi_tools):
    rnd = random.Random(7)
    for i in range(12):
        sample = rnd.sample(openapi_tools, rnd.choice([3, 10, 20]))
        names: set[str] = set()
        sample = [t for t in sample if not (t.name in names or names.add(t.name))]
        _check_example(sample, OPTION_SETS[i % len(OPTION_SETS)])


def test_real_schema_mutations_are_rejected(openapi_tools):
    """A required argument dropped or retyped in a real operation is rejected."""
    tool = next(t for t in openapi_tools if t.parameters.get("required") and len(t.parameters["properties"]) > 3)
    opts = grammar_options()
    msgs = example_messages([tool], opts)
    lark = build_grammar([tool], opts).lark
    assert accepted(lark, msgs)
    args = msgs[1]["tool_calls"][0]["function"]["arguments"]
    dropped = copy.deepcopy(msgs)
    dropped[1]["tool_calls"][0]["function"]["arguments"] = {k: v for k, v in args.items() if k != tool.parameters["required"][0]}
    assert not accepted(lark, dropped)
    retyped = copy.deepcopy(msgs)
    key = tool.parameters["required"][0]
    retyped[1]["tool_calls"][0]["function"]["arguments"][key] = [1, 2] if not isinstance(args[key], list) else 3
    assert not accepted(lark, retyped)
    extra = copy.deepcopy(msgs)
    extra[1]["tool_calls"][0]["function"]["arguments"]["zz_not_a_param"] = 1
    assert not accepted(lark, extra)


@pytest.mark.parametrize("turns", [(1, 1), (1, 3), (2, 3)])
def test_require_tool_call_rejects_conversations_without_calls(turns):
    """With require_tool_call some assistant turn must call a tool; turn bounds still hold."""
    from fcsynth.dml import build_grammar, example_messages, render_dml
    from fcsynth.dml.match import match_error
    from fcsynth.tools import read_tools_file

    tools = read_tools_file(REPO / "data" / "builtin_tools" / "gmail.json")[:3]
    lo, hi = turns
    options = grammar_options(min_user_turns=lo, max_user_turns=hi, require_tool_call=True)
    grammar = build_grammar(tools, options).lark
    assert match_error(grammar, render_dml(example_messages(tools, options))) is None
    chat = "<user>Hi there</user>\n<assistant>Hello, how can I help?</assistant>"
    for n in range(lo, hi + 1):
        assert match_error(grammar, "\n".join([chat] * n)) is not None
    loose = build_grammar(tools, grammar_options(min_user_turns=lo, max_user_turns=hi)).lark
    assert match_error(loose, "\n".join([chat] * lo)) is None
