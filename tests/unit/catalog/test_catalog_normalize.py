"""Normalization: names, metaschema checks, the prompt budget (skip / trim), allOf merge."""

from __future__ import annotations

from fcsynth.catalog.naming import sanitize_name, unique_names
from fcsynth.catalog.normalize import normalize
from fcsynth.catalog.result import ImportResult
from fcsynth.catalog.schema import merge_all_of
from fcsynth.catalog.schema_validity import schema_error
from fcsynth.catalog.tool_size import estimate_tokens, tool_tokens
from fcsynth.catalog.trim import trim
from fcsynth.tools import TOOL_NAME_RE, Tool


def _tool(name: str = "t", parameters: dict | None = None, **kw) -> Tool:
    return Tool(toolkit=kw.pop("toolkit", "kit"), name=name, description=kw.pop("description", "d"),
                parameters=parameters if parameters is not None else {"type": "object", "properties": {}}, **kw)


def _big_tool() -> Tool:
    """~3000 estimated tokens: long descriptions, examples, a deep body and a response."""
    leaf = {"type": "object", "description": "x" * 200, "examples": [{"a": "y" * 100}],
            "properties": {f"f{i}": {"type": "string", "description": "z" * 80} for i in range(5)}}
    params = {"type": "object", "required": ["id"], "properties": {
        "id": {"type": "string", "description": "The id."},
        "mode": {"type": "string", "enum": ["a", "b"]},
        "body": {"type": "object", "properties": {f"n{i}": {"type": "object", "properties": {"deep": leaf}} for i in range(6)}},
    }}
    return _tool("big", params, description="Does a thing. " * 40, response={"type": "object", "description": "r" * 2000})


def test_sanitize_name() -> None:
    assert sanitize_name("gmail.users.messages.list") == "gmail_users_messages_list"
    assert sanitize_name("get /pets/{petId}") == "get_pets_petId"
    assert sanitize_name("...") == "tool"
    long = sanitize_name("x" * 100)
    assert len(long) == 64 and TOOL_NAME_RE.match(long) and long != sanitize_name("x" * 99)


def test_unique_names_are_deterministic_and_reported() -> None:
    result = ImportResult()
    tools = [_tool("a"), _tool("a"), _tool("a_2"), _tool("a"), _tool("a", toolkit="other")]
    names = [t.name for t in unique_names(tools, result)]
    assert names == ["a", "a_3", "a_2", "a_4", "a"]
    assert result.flagged["renamed_collision"] == 2 and len(result.renamed) == 2


def test_schema_error_messages() -> None:
    assert schema_error({"type": "object", "properties": {"a": {"type": "string"}}}) is None
    assert "properties/a/type" in schema_error({"type": "object", "properties": {"a": {"type": "strin"}}})
    assert "required" in schema_error({"type": "object", "required": "a"})
    assert "unresolved $ref" in schema_error({"type": "object", "properties": {"a": {"$ref": "#/x"}}})
    assert schema_error({"type": "array", "prefixItems": [{"type": 3}]}).startswith("at /prefixItems/0/type:")


def test_normalize_skips_and_flags_with_reasons() -> None:
    result = ImportResult(entries=5)
    candidates = [
        _tool("ok name"),  # sanitized
        _tool("bad", {"type": "object", "properties": {"x": {"minimum": "zero"}}}),
        _tool("scalar", {"type": "string"}),
        _tool("resp", response={"type": "nope"}),
        _tool("kit", toolkit="bad kit"),
    ]
    kept = normalize(candidates, result)
    assert [t.name for t in kept] == ["ok_name", "resp"] and result.tools == kept
    assert kept[1].response is None
    assert result.skipped == {"invalid_schema": 1, "parameters_not_object": 1, "invalid_toolkit_name": 1}
    assert result.flagged == {"invalid_response_dropped": 1, "renamed_invalid_name": 1}
    assert result.renamed == [{"toolkit": "kit", "from": "ok name", "to": "ok_name", "operation": ""}]
    assert result.entries == len(result.tools) + sum(result.skipped.values())


def test_oversize_skip() -> None:
    big = _big_tool()
    assert tool_tokens(big) > 2048
    result = ImportResult(entries=2)
    kept = normalize([big, _tool("small")], result, budget_tokens=2048, oversize="skip")
    assert [t.name for t in kept] == ["small"]
    assert result.skipped == {"oversize": 1} and "kit/big" in result.examples["oversize"][0]


def test_oversize_trim_drops_descriptions_and_examples_first() -> None:
    big = _big_tool()
    budget = tool_tokens(big) - 500
    trimmed = trim(big, budget)
    assert trimmed is not None and tool_tokens(trimmed) <= budget
    assert trimmed.parameters["properties"]["mode"]["enum"] == ["a", "b"]  # structure kept
    assert "examples" not in str(trimmed.parameters)
    assert trimmed.response is not None and "description" not in trimmed.response  # response descriptions go first


def test_oversize_trim_prunes_depth_last_and_stays_valid() -> None:
    big = _big_tool()
    result = ImportResult(entries=1)
    kept = normalize([big], result, budget_tokens=300, oversize="trim")
    assert len(kept) == 1 and tool_tokens(kept[0]) <= 300
    params = kept[0].parameters
    assert params["required"] == ["id"] and params["properties"]["body"]["type"] == "object"
    assert kept[0].response is None and schema_error(params) is None
    assert result.flagged["oversize_trimmed"] == 1


def test_oversize_untrimmable_is_skipped() -> None:
    names = [f"p{i}" for i in range(400)]
    huge = _tool("wide", {"type": "object", "required": names, "properties": {n: {"type": "string"} for n in names}})
    result = ImportResult(entries=1)
    assert normalize([huge], result, budget_tokens=100, oversize="trim") == []
    assert result.skipped == {"oversize_untrimmable": 1}


def test_estimate_tokens_is_chars_over_three() -> None:
    assert estimate_tokens({"a": "b" * 291}) == 100  # {"a":"bbb..."} = 300 characters


def test_merge_all_of() -> None:
    merged = merge_all_of({"description": "outer", "allOf": [
        {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}, "description": "inner"},
        {"properties": {"b": {"type": "integer"}, "a": {"minLength": 1}}, "required": ["b"]},
    ]})
    assert merged == {"type": "object", "required": ["a", "b"], "description": "outer",
                      "properties": {"a": {"type": "string", "minLength": 1}, "b": {"type": "integer"}}}
    conflicting = {"allOf": [{"type": "string"}, {"type": "integer"}]}
    assert merge_all_of(conflicting) == conflicting  # kept as allOf


def test_exponential_ref_expansion_is_capped() -> None:
    from fcsynth.catalog.normalize import MAX_EXPANDED_CHARS

    node: dict = {"type": "string"}
    for _ in range(40):  # each level uses the one below twice: 2**40 leaves once written out
        node = {"type": "object", "properties": {"a": node, "b": node}}
    result = ImportResult(entries=1)
    kept = normalize([_tool("dag", node)], result)
    assert len(kept) == 1 and result.flagged["expansion_capped"] == 1
    assert MAX_EXPANDED_CHARS // 4 < len(str(kept[0].parameters)) <= MAX_EXPANDED_CHARS * 1.2
    assert schema_error(kept[0].parameters) is None
