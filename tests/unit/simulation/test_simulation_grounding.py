"""Identifiers and their grounding, per-turn grammars and the plan's turns and facts (fcsynth.simulation's inputs)."""

from __future__ import annotations

import json
import random

from fcsynth.catalog.identifiers import identifier_arguments, is_identifier, known_values
from fcsynth.constraints import grounding, turns
from fcsynth.constraints.match import match_error
from fcsynth.generation.plan import draw_facts, draw_fan, draw_turns
from fcsynth.prompts import render
from fcsynth.simulation.run import USER_TEMPLATE
from fcsynth.tools import Tool

from helpers.fabricate import grammar_options
from helpers.notes_simulation import CREATE, GET


def test_identifier_rule_covers_formats_names_and_descriptions():
    assert is_identifier("event_id", {"type": "string"}) and is_identifier("fileId", {"type": "string"})
    assert is_identifier("to", {"type": "string", "format": "email"})
    assert is_identifier("recipient", {"type": "string", "description": "The recipient's email address."})
    assert is_identifier("ids", {"type": "array", "items": {"type": "string"}})
    assert is_identifier("project_gid", {"type": "string"})
    assert not is_identifier("title", {"type": "string"}) and not is_identifier("body", {"type": "string"})
    assert not is_identifier("status_id", {"type": "string", "enum": ["a", "b"]})  # an enum is not free
    assert not is_identifier("count_id", {"type": "integer"})
    assert set(identifier_arguments(GET.parameters)) == {"note_id", "owner_email"}


def test_known_values_come_from_the_user_and_tool_results_most_recent_first():
    messages = [
        {"role": "user", "content": "Open note-17 and mail ana@contoso.test, please."},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "x", "arguments": {}}}]},
        {"role": "tool", "tool_call_id": "c1", "name": "x", "content": json.dumps({"items": [{"id": "n-2"}], "quote": 'a"b'})},
    ]
    known = known_values(messages, 40)
    assert known[0] == "n-2" and "note-17" in known and "ana@contoso.test" in known
    assert "please" not in known and 'a"b' not in known  # plain words; a value no grammar string can hold


def test_grounding_limits_identifiers_to_known_values():
    assert grounding.ground(GET.parameters, []) is None  # the required id is unknown: no call
    grounded = grounding.ground(GET.parameters, ["note-3", "not an email"])
    assert grounded["properties"]["note_id"] == {"type": "string", "enum": ["note-3", "not an email"]}
    assert "owner_email" not in grounded["properties"]  # optional, and no known value is an email
    opt = grammar_options()
    built = turns.assistant_grammar([CREATE, GET], opt, ["note-3"], "call", (1, 1), 2048)
    call = '<tool_call>\n{"name": "get_note", "arguments": {"note_id": "%s"}}\n</tool_call>'
    assert match_error(built.lark, call % "note-3") is None
    assert match_error(built.lark, call % "note-4") is not None  # an invented id
    assert match_error(built.lark, "Sure, done.") is not None  # mode call: no text
    none_known = turns.assistant_grammar([CREATE, GET], opt, [], "either", (1, 1), 2048)
    assert [c.tool.name for c in none_known.offered] == ["create_note"]
    assert match_error(none_known.lark, "I need the note id first. Which note?") is None


def test_a_fan_step_calls_one_tool_once_per_listed_value_in_order():
    opt = grammar_options(max_parallel_calls=3)
    fan = {"argument": "note_id", "values": ["note-1", "note-2", "note-3"]}
    built = turns.fan_grammar([CREATE, GET], opt, ["note-1", "note-2", "note-3"], fan, 2048)
    assert built.calls == (3, 3) and [c.tool.name for c in built.offered] == ["get_note"] * 3
    call = '<tool_call>\n{"name": "get_note", "arguments": {"note_id": "%s"}}\n</tool_call>'
    assert match_error(built.lark, "\n".join(call % v for v in fan["values"])) is None
    assert match_error(built.lark, "\n".join(call % v for v in ["note-2", "note-1", "note-3"])) is not None  # order
    assert match_error(built.lark, "\n".join(call % v for v in ["note-1", "note-1", "note-3"])) is not None  # a repeat
    assert match_error(built.lark, "\n".join(call % v for v in fan["values"][:2])) is not None  # too few
    archive = Tool("notes", "archive_note", "Archive a note.", GET.parameters)
    both = turns.fan_grammar([GET, archive], opt, fan["values"], fan, 2048)
    assert [c.tool.name for c in both.offered] == ["get_note"] * 3 + ["archive_note"] * 3
    mixed = [call % "note-1", call.replace("get_note", "archive_note") % "note-2", call % "note-3"]
    assert match_error(both.lark, "\n".join(mixed)) is not None  # one tool for the whole step
    assert match_error(both.lark, "\n".join(call.replace("get_note", "archive_note") % v for v in fan["values"])) is None
    longest = "\n".join(call % v for v in fan["values"])
    assert len(longest) + 1 <= built.max_tokens
    # not every value said yet, no tool taking the argument, or no room: the caller falls back
    assert turns.fan_grammar([CREATE, GET], opt, ["note-1", "note-2"], fan, 2048) is None
    assert turns.fan_grammar([CREATE], opt, ["note-1", "note-2", "note-3"], fan, 2048) is None
    assert turns.fan_grammar([CREATE, GET], opt, ["note-1", "note-2", "note-3"], fan, 60) is None


def test_fan_values_are_distinct_and_valid_and_prefer_a_tool_needing_no_other_id():
    other = Tool("notes", "move_note", "Move a note.", {
        "type": "object", "properties": {"note_id": {"type": "string"}, "folder_id": {"type": "string", "pattern": "^f-"}},
        "required": ["note_id", "folder_id"]})
    fan = draw_fan("notes-0001", [GET, other], 3, random.Random(0))
    assert fan["argument"] == "note_id" and len(set(fan["values"])) == 3  # get_note needs only note_id
    only_move = [draw_fan("notes-0001", [other], 2, random.Random(s))["argument"] for s in range(8)]
    assert set(only_move) == {"note_id"}  # folder_id's pattern fits no made-up id: never drawn
    assert draw_fan("notes-0001", [CREATE], 2, random.Random(0)) is None  # no identifier argument
    drawn = [v for k in range(30) for v in draw_fan(f"notes-{k}", [GET], 3, random.Random(k))["values"]]
    assert all(known_values([{"role": "user", "content": f"Read these: {v}."}], 64) == [v] for v in drawn)


def test_turn_bounds_are_the_configured_ones_and_proven(tmp_path):
    """Calls keep dml.* bounds when they fit; the proven max_tokens covers the longest call."""
    opt = grammar_options(max_json_string_chars=30, max_parallel_calls=3)
    built = turns.assistant_grammar([CREATE], opt, ["note-3"], "call", (2, 3), 2048)
    assert not built.tightened and built.calls == (2, 3)
    longest = "\n".join(['<tool_call>\n{"name": "create_note", "arguments": {"title": "%s"}}\n</tool_call>' % ("x" * 30)] * 3)
    assert match_error(built.lark, longest) is None and len(longest) + 1 <= built.max_tokens
    two = turns.assistant_grammar([CREATE, GET], opt, ["note-3"], "call", (2, 3), 2048)
    assert two.calls == (2, 3)  # a tool may be called more than once in a parallel step
    small = turns.assistant_grammar([CREATE, GET], opt, ["note-3"], "call", (2, 3), 140)
    assert small.calls[1] < 3 or small.tightened  # the budget cut the step down
    assert small.max_tokens <= 140


def test_user_turn_states_its_facts_verbatim():
    c = turns.user_constraint(["note-3", "ana@contoso.test"], 200)
    assert match_error(c.lark, "Please open this note and share it: note-3, ana@contoso.test. Thanks!") is None
    assert match_error(c.lark, "Please open the note: note-4, ana@contoso.test.") is not None
    assert match_error(c.lark, "Please open the note.") is not None


def test_plan_places_each_feature_and_the_withheld_fact_comes_next():
    features = {"parallel_calls": True, "tool_error": True, "missing_argument": True, "no_tool_request": True}
    no_tool_at, counts = set(), set()
    for seed in range(20):
        turns, unplaced = draw_turns(random.Random(seed), 5, features, (1, 2), ["note_id", "owner_email"], "excellent", 0.0,
                                     (2, 3))
        kinds = [t["kind"] for t in turns]
        assert kinds.count("missing") == 1 and kinds.count("no_tool") == 1 and not unplaced
        assert len(turns) == 6  # the no-tool request is a turn of its own, beside the 5 task turns
        no_tool_at.add(kinds.index("no_tool"))
        i = kinds.index("missing")
        assert turns[i + 1]["kind"] == "task" and turns[i]["withheld"] in turns[i + 1]["reveal"]
        assert all(turns[i]["withheld"] not in t["reveal"] for t in turns[: i + 1])
        assert sum(t.get("parallel", False) for t in turns) == 1 and sum(t.get("error", False) for t in turns) == 1
        assert all(t["steps"] >= 2 for t in turns if t.get("error"))  # the failed call, then the recovery
        counts.update(t["calls"] for t in turns if t.get("parallel"))
        without = draw_turns(random.Random(seed), 5, features, (1, 2), ["note_id", "owner_email"], "excellent", 0.0, (2, 2))[0]
        assert [{k: v for k, v in t.items() if k != "calls"} for t in turns] == [
            {k: v for k, v in t.items() if k != "calls"} for t in without]  # the count is drawn last
    assert counts == {2, 3}  # the parallel step's call count, drawn from the given range
    assert 0 in no_tool_at and len(no_tool_at) > 2  # anywhere, the opening request included
    for seed in range(5):  # no_tool_opening: the share of no-tool requests that open the conversation
        turns, _ = draw_turns(random.Random(seed), 3, features, (1, 2), ["note_id"], "good", 1.0, (2, 3))
        assert turns[0]["kind"] == "no_tool" and turns[1]["kind"] != "no_tool"
    turns, unplaced = draw_turns(random.Random(0), 1, features, (1, 1), ["note_id"], "good", 0.0, (2, 3))
    assert set(unplaced) == {"missing_argument"} and len(turns) == 2


def test_facts_satisfy_every_schema_that_uses_their_name():
    facts = draw_facts("notes-0001", [GET])
    assert set(facts) == {"note_id", "owner_email"} and facts["owner_email"].endswith(".test")
    assert draw_facts("notes-0001", [GET]) == facts and draw_facts("notes-0002", [GET]) != facts


def test_facts_of_the_default_tools_are_never_taken_for_copied_example_values():
    """A fact the user says and the assistant passes on is not a placeholder: the facts share
    no word or domain with the prompt example (a shared one had curate drop a conversation)."""
    from fcsynth.catalog.build import build_catalog
    from fcsynth.catalog.identifiers import identifier_arguments
    from fcsynth.config import conf_defaults
    from fcsynth.constraints.example_values import arguments_path
    from fcsynth.paths import ROOT
    from fcsynth.quality.placeholders import ExampleValues

    cfg = conf_defaults()
    tools = build_catalog(cfg.catalog, ROOT).result.tools
    checked = 0
    for i in range(40):
        key, chosen = f"conv-{i:04d}", random.Random(i).sample(tools, 4)
        examples = ExampleValues.of(key, [(t.name, t.parameters) for t in chosen])
        for name, value in draw_facts(key, chosen).items():
            tool = next(t for t in chosen if name in identifier_arguments(t.parameters))
            checked += 1
            assert not examples.copied(value, f"{arguments_path(tool.name)}/{name}", cfg.curate.example_similarity), value
    assert checked >= 40


def test_identifiers_inside_arrays_of_objects_are_grounded():
    params = {"type": "object", "properties": {"attendees": {"type": "array", "items": {
        "type": "object", "properties": {"email": {"type": "string", "format": "email"}}, "required": ["email"]}}},
        "required": ["attendees"]}
    assert grounding.ground(params, []) is None
    grounded = grounding.ground(params, ["ana@contoso.test"])
    assert grounded["properties"]["attendees"]["items"]["properties"]["email"]["enum"] == ["ana@contoso.test"]


def test_a_parallel_turn_asks_the_user_for_independent_things_at_once():
    base = {"scenario": "s", "outline": "o", "clarity": "clear", "persona": {}, "transcript": [], "number": 1, "total": 2,
            "kind": "task", "withheld": "", "reveal": [], "fan": None}
    ask = "ask for exactly 3 things that do not depend on each other"
    assert ask in render(USER_TEMPLATE, **base, parallel=(3, 3))
    assert "ask for 2 to 3 things that do not depend on each other" in render(USER_TEMPLATE, **base, parallel=(2, 3))
    assert "things that do not depend" not in render(USER_TEMPLATE, **base, parallel=None)
    fan = render(USER_TEMPLATE, **{**base, "fan": {"argument": "note_id", "values": ["a", "b"]}}, parallel=(2, 2))
    assert "the same action for each of 2 note id values" in fan and "needs: 2 note id values." in fan
    assert "things that do not depend" not in fan
