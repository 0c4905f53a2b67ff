"""fcsynth.schema_regex: tool-schema regexes run on data with a time limit (the `regex` engine)."""

from __future__ import annotations

import time

import jsonschema
import pytest

from fcsynth import schema_regex
from fcsynth.dml.validate import argument_errors
from fcsynth.llm.check import constraint_violation

EVIL = "^(a|aa)+$"  # in `re`: hours on 60 a's and a '!'
SLOW_VALUE = "a" * 60 + "!"
TIMED_OUT = f"pattern '{EVIL}' took over {schema_regex.PATTERN_TIMEOUT_S:g} s on a 61-char"

pytestmark = pytest.mark.timeout(60)  # a regression must fail, not hang


def errors(schema: dict, instance: object) -> list[str]:
    cls = schema_regex.validator_for(schema)
    schema_regex.check_schema(cls, schema)
    return [e.message for e in cls(schema).iter_errors(instance)]


@pytest.mark.parametrize(
    ("schema", "instance"),
    [
        ({"patternProperties": {"^a": {"type": "integer"}}, "additionalProperties": False}, {"ab": "x", "b": 1}),
        ({"properties": {"x": {}}, "patternProperties": {"^a": {}}, "additionalProperties": {"type": "string"}},
         {"x": 1, "a": 2, "b": 3}),
        ({"properties": {"x": {}}, "additionalProperties": False}, {"x": 1, "y": 1}),
        ({"allOf": [{"properties": {"x": {}}}, {"patternProperties": {"^p": {}}}], "unevaluatedProperties": False},
         {"x": 1, "p1": 2, "q": 3}),
        ({"$defs": {"d": {"patternProperties": {"^p": {}}}}, "$ref": "#/$defs/d", "unevaluatedProperties": False},
         {"p": 1, "q": 1}),
        ({"if": {"properties": {"k": {"const": 1}}}, "then": {"properties": {"t": {}}}, "else": {"properties": {"e": {}}},
          "unevaluatedProperties": False}, {"k": 1, "e": 1}),
        ({"properties": {"a": {}}, "unevaluatedProperties": {"type": "integer"}}, {"a": "x", "b": "s"}),
        ({"$schema": "https://json-schema.org/draft/2019-09/schema", "patternProperties": {"^p": {}},
          "unevaluatedProperties": False}, {"p": 1, "q": 1}),
        ({"$schema": "http://json-schema.org/draft-07/schema#", "patternProperties": {"^p": {"type": "string"}},
          "additionalProperties": False}, {"p": 1, "q": 1}),
        ({"propertyNames": {"pattern": "^[a-z]+$"}}, {"abc": 1, "A": 1}),
        ({"type": "string", "pattern": "^\\d+$"}, "12a"),
    ],
)
def test_same_verdicts_and_messages_as_jsonschema(schema, instance):
    plain = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)(schema)
    assert sorted(errors(schema, instance)) == sorted(e.message for e in plain.iter_errors(instance))


@pytest.mark.parametrize(
    ("schema", "instance", "expected"),
    [
        ({"type": "string", "pattern": EVIL}, SLOW_VALUE, f"{TIMED_OUT} value; treated as not matching"),
        ({"propertyNames": {"pattern": EVIL}}, {SLOW_VALUE: 1}, f"{TIMED_OUT} value; treated as not matching"),
        ({"patternProperties": {EVIL: {}}}, {SLOW_VALUE: 1},
         f"patternProperties: {TIMED_OUT} property name; treated as not valid"),
        ({"patternProperties": {EVIL: {}}, "additionalProperties": False}, {SLOW_VALUE: 1},
         f"patternProperties: {TIMED_OUT} property name; treated as not valid"),
        ({"patternProperties": {EVIL: {}}, "unevaluatedProperties": False}, {SLOW_VALUE: 1},
         f"patternProperties: {TIMED_OUT} property name; treated as not valid"),
        ({"$schema": "https://json-schema.org/draft/2019-09/schema", "patternProperties": {EVIL: {}},
          "unevaluatedProperties": False}, {SLOW_VALUE: 1},
         f"patternProperties: {TIMED_OUT} property name; treated as not valid"),
    ],
)
def test_a_search_past_the_time_limit_is_an_error_naming_the_pattern(schema, instance, expected):
    start = time.monotonic()
    found = errors(schema, instance)
    assert found and set(found) == {expected}
    assert time.monotonic() - start < 5


def test_the_same_slow_search_fails_at_once_the_second_time():
    with pytest.raises(schema_regex.PatternError):
        schema_regex.search(EVIL, "a" * 62 + "!")
    start = time.monotonic()
    with pytest.raises(schema_regex.PatternError):
        schema_regex.search(EVIL, "a" * 62 + "!")
    assert time.monotonic() - start < schema_regex.PATTERN_TIMEOUT_S / 2


def test_repeats_that_would_expand_when_compiled_are_refused_before_compiling():
    """`regex` writes `(?:a{65535}){65535}` out (gigabytes); `re` would not, but has no time limit."""
    bomb = "(?:a{65535}){65535}"
    assert schema_regex.expansion(bomb) > schema_regex.MAX_PATTERN_EXPANSION
    assert schema_regex.expansion("^[a-z]{1,64}$") < 100 and schema_regex.expansion(".{0,1000000}") < 10
    assert argument_errors({"type": "object", "properties": {"q": {"type": "string", "pattern": bomb}}}, {"q": "a"}) == [
        f"tool schema is invalid: '{bomb}' is not a 'regex' (pattern '{bomb}' has counted repeats that expand past "
        "100,000 characters)"]
    with pytest.raises(schema_regex.PatternError, match="not a valid regular expression"):
        schema_regex.compiled("(")


def test_ecma_unicode_classes_are_understood():
    schema = {"type": "object", "properties": {"name": {"type": "string", "pattern": "^\\p{Lu}\\p{Ll}+$"}}}
    assert argument_errors(schema, {"name": "Émile"}) == []
    assert argument_errors(schema, {"name": "émile"}) == ["'émile' does not match '^\\\\p{Lu}\\\\p{Ll}+$'"]


def test_server_output_checks_are_bounded_too():
    """fcsynth.llm.check: a tool's pattern in a JSON constraint, and a regex constraint."""
    schema = {"type": "object", "properties": {"q": {"type": "string", "pattern": EVIL}}}
    assert constraint_violation({"json": schema}, '{"q": "' + SLOW_VALUE + '"}') == (
        f"JSON schema: q: {TIMED_OUT} value; treated as not matching")
    assert constraint_violation({"regex": EVIL}, "a" * 64 + "!") == f"pattern '{EVIL}' took over 0.1 s on a 65-char text"
    assert constraint_violation({"regex": "(ab+)"}, "abbb") is None


def test_identifier_candidates_skip_values_a_slow_pattern_cannot_decide():
    from fcsynth.constraints.grounding import ground

    params = {"type": "object", "properties": {"user_id": {"type": "string", "pattern": EVIL}}, "required": ["user_id"]}
    assert ground(params, ["aaaa", "a" * 66 + "!"])["properties"]["user_id"] == {"type": "string", "enum": ["aaaa"]}
