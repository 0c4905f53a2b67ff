"""Parsing tool calls out of messy model outputs."""

from __future__ import annotations

from fcsynth.evaluate.metrics import canonical_calls
from fcsynth.evaluate.parse import parse_completion

GOLD = '[{"arguments":{"to":"bob@x.com"},"name":"send_email"}]'


def test_plain_hermes_block() -> None:
    p = parse_completion('<tool_call>\n{"name": "send_email", "arguments": {"to": "bob@x.com"}}\n</tool_call><|im_end|>')
    assert canonical_calls(p.calls) == GOLD and p.text == ""


def test_parallel_blocks_with_text_and_special_tokens() -> None:
    out = (
        "Sure, doing both.\n<tool_call>{\"name\": \"a\", \"arguments\": {\"x\": 1}}</tool_call>\n"
        "<tool_call>{\"name\": \"b\", \"arguments\": {}}</tool_call><|im_end|>"
    )
    p = parse_completion(out)
    assert [c.name for c in p.calls] == ["a", "b"]
    assert p.text == "Sure, doing both."


def test_missing_close_tag_truncated_output() -> None:
    p = parse_completion('<tool_call>\n{"name": "send_email", "arguments": {"to": "bob@x.com"}}')
    assert canonical_calls(p.calls) == GOLD


def test_unclosed_block_followed_by_another() -> None:
    p = parse_completion('<tool_call>{"name": "a", "arguments": {}}\n<tool_call>{"name": "b", "arguments": {}}</tool_call>')
    assert [c.name for c in p.calls] == ["a", "b"]


def test_code_fence_inside_block_and_arguments_string() -> None:
    out = '<tool_call>\n```json\n{"name": "send_email", "arguments": "{\\"to\\": \\"bob@x.com\\"}"}\n```\n</tool_call>'
    assert canonical_calls(parse_completion(out).calls) == GOLD


def test_parameters_key_and_openai_shape() -> None:
    p1 = parse_completion('<tool_call>{"name": "send_email", "parameters": {"to": "bob@x.com"}}</tool_call>')
    p2 = parse_completion('<tool_call>{"function": {"name": "send_email", "arguments": {"to": "bob@x.com"}}}</tool_call>')
    assert canonical_calls(p1.calls) == canonical_calls(p2.calls) == GOLD


def test_list_and_several_objects_in_one_block() -> None:
    p1 = parse_completion('<tool_call>[{"name": "a", "arguments": {}}, {"name": "b", "arguments": {}}]</tool_call>')
    p2 = parse_completion('<tool_call>{"name": "a", "arguments": {}}\n{"name": "b", "arguments": {}}</tool_call>')
    assert [c.name for c in p1.calls] == [c.name for c in p2.calls] == ["a", "b"]


def test_python_literal_and_trailing_comma() -> None:
    p1 = parse_completion("<tool_call>{'name': 'send_email', 'arguments': {'to': 'bob@x.com'}}</tool_call>")
    p2 = parse_completion('<tool_call>{"name": "send_email", "arguments": {"to": "bob@x.com",},}</tool_call>')
    assert canonical_calls(p1.calls) == canonical_calls(p2.calls) == GOLD


def test_broken_json_is_a_malformed_call() -> None:
    p = parse_completion('<tool_call>{"name": "send_email", "arguments": {"to": </tool_call>')
    assert len(p.calls) == 1 and p.calls[0].malformed and p.calls[0].name == ""
    assert "send_email" in p.calls[0].arguments


def test_block_without_name_is_malformed() -> None:
    p = parse_completion('<tool_call>{"arguments": {"to": "x"}}</tool_call>')
    assert p.calls[0].malformed


def test_think_is_removed() -> None:
    p = parse_completion('<think>maybe <tool_call>{"name": "x", "arguments": {}}</tool_call></think>The answer is 4.')
    assert p.calls == [] and p.text == "The answer is 4."
    p2 = parse_completion('reasoning without opening tag</think>\nHello')
    assert p2.text == "Hello"


def test_bare_json_call_without_tags() -> None:
    p = parse_completion('```json\n{"name": "send_email", "arguments": {"to": "bob@x.com"}}\n```')
    assert canonical_calls(p.calls) == GOLD


def test_plain_text_and_json_that_is_not_a_call() -> None:
    assert parse_completion("I sent it.<|im_end|>").calls == []
    assert parse_completion("I sent it.<|im_end|>").text == "I sent it."
    p = parse_completion('{"status": "sent"}')
    assert p.calls == [] and p.text == '{"status": "sent"}'
    assert parse_completion("").calls == []
