"""DML parser, renderer and schema bounds (no LLM). The turn grammars: test_turn_grammars.py."""

from __future__ import annotations

import copy
import json

import pytest

from fcsynth.constraints.match import match_error
from fcsynth.constraints.narrowing import prune_schema
from fcsynth.constraints.schemas import bound_schema
from fcsynth.dml import DMLParseError, parse_dml, render_dml, validate_record

from helpers.dml_turns import BASE, E_ARGS, E_RESP, TOOLS, W_ARGS, W_RESP, turn

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
        dict(),
        turn("Weather?", [[("get_weather", W_ARGS, '{"error": {"code": 503, "message": "Service unavailable"}}')],
                          [("get_weather", W_ARGS, W_RESP)]], "After a retry: 21.5 C."),
    ),
    "thinking": (
        dict(thinking=True),
        turn("Weather in Paris?", [[("get_weather", W_ARGS, W_RESP)]], "21.5 C.", think="The user wants the weather."),
    ),
    "two_turns": (
        dict(),
        turn("Hi", final="Hello!") + turn("Weather?", [[("get_weather", W_ARGS, W_RESP)]], "21.5 C."),
    ),
    "three_turns": (
        dict(),
        turn("a", final="A.") + turn("b", final="B.") + turn("c", [[("get_weather", W_ARGS, W_RESP)]], "C."),
    ),
    "ascii_punctuation": (
        dict(),
        turn("Weather in Zurich (north)?\nThanks!", [[("get_weather", {"city": "Zurich-Nord #2", "unit": "C", "days": 2}, W_RESP)]], "Sunny: 21.5 C & dry."),
    ),
}


@pytest.mark.parametrize("case", sorted(VALID))
def test_valid_conversations_are_accepted_and_round_trip(case):
    _, msgs = VALID[case]
    text = render_dml(msgs)
    assert parse_dml(text) == msgs
    assert render_dml(parse_dml(text)) == text
    tools = [t.to_openai() for t in TOOLS]
    assert validate_record({"messages": msgs, "tools": tools}) == []


# ---------------------------------------------------------------- rejected mutations

BASE_TEXT = render_dml(BASE)


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
