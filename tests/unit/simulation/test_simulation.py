"""The turn-by-turn simulation (fcsynth.simulation) on the fake backend: plans, identifier
grounding, per-turn constraints, roles' views, per-turn checks, executable environments."""

from __future__ import annotations

import json
import random

import pytest

from fcsynth.catalog.identifiers import identifier_arguments, is_identifier, known_values
from fcsynth.config import compose, parse_config
from fcsynth.constraints import grounding, turns
from fcsynth.constraints.match import match_error
from fcsynth.generation import conversations
from fcsynth.generation.plan import draw_facts, draw_turns
from fcsynth.llm.context import StageContext
from fcsynth.llm.fake_backend import FakeBackend, default_responder
from fcsynth.simulation import environment
from fcsynth.simulation.realized import realized, shape
from fcsynth.simulation.state import CONTEXT_FULL, Conversation
from fcsynth.tools import Tool

from helpers.fabricate import grammar_options

CREATE = Tool("notes", "create_note", "Create a note.", {
    "type": "object", "properties": {"title": {"type": "string", "maxLength": 40}}, "required": ["title"],
    "additionalProperties": False,
}, response={"type": "object", "properties": {"note_id": {"type": "string", "maxLength": 20}}, "required": ["note_id"],
             "additionalProperties": False})
GET = Tool("notes", "get_note", "Read a note.", {
    "type": "object", "properties": {"note_id": {"type": "string"}, "owner_email": {"type": "string", "format": "email"}},
    "required": ["note_id"], "additionalProperties": False,
})
SCENARIO = "Keep the project notes of the harbor renovation in order."


class NotesEnvironment:
    """An executable environment: notes kept in memory, ids counted up."""

    def __init__(self) -> None:
        self.notes: dict[str, str] = {}

    def create_note(self, title: str) -> dict:
        note_id = f"note-{len(self.notes) + 1}"
        self.notes[note_id] = title
        return {"note_id": note_id}

    def get_note(self, note_id: str, owner_email: str | None = None) -> dict:
        if note_id not in self.notes:
            raise KeyError(f"no note {note_id}")
        return {"note_id": note_id, "title": self.notes[note_id]}


def blueprint(bid: str, turns: list[dict], facts: dict | None = None, features: dict | None = None) -> dict:
    features = features or {"parallel_calls": False, "tool_error": False, "missing_argument": False, "no_tool_request": False}
    return {
        "id": bid, "selection": "notes", "toolkits": ["notes"], "scenario": SCENARIO,
        "persona": json.dumps({"role": "site manager", "company": "Tidewater Build", "context": "renovation"}),
        "outline": "The user creates a note, then reads it back.", "tools": ["create_note", "get_note"], "distractors": [],
        "clarity": "good", "features": json.dumps(features), "facts": json.dumps(facts or {}),
        "plan": json.dumps({"features": features, "turns": turns, "unplaced": {}}), "status": "ok",
    }


def task(steps: int = 1, **extra) -> dict:
    return {"kind": "task", "steps": steps, "parallel": False, "error": False, "reveal": [], **extra}


def offered_get_note(request) -> str | None:
    """A get_note call with the first note id the request's grammar offers, if it offers one."""
    lark = request.constraint.definition if request.constraint is not None and hasattr(request.constraint, "definition") else ""
    for line in lark.splitlines():
        if line.startswith("call_") and '\\"get_note\\"' in line:
            i = line.split(":")[0].removeprefix("call_")
            args = next(a for a in lark.splitlines() if a.startswith(f"args_{i}: %json "))
            note_id = json.loads(args.removeprefix(f"args_{i}: %json "))["properties"]["note_id"]["enum"][0]
            return f'<tool_call>\n{{"name": "get_note", "arguments": {{"note_id": "{note_id}"}}}}\n</tool_call>'
    return None


def make_ctx(tmp_path, responder=None, *overrides: str) -> StageContext:
    ctx = StageContext(parse_config(compose(["llm=fake", *overrides])), tmp_path)
    ctx.backend = FakeBackend(responder)
    return ctx


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


def test_turn_bounds_are_the_configured_ones_and_proven(tmp_path):
    """Calls keep dml.* bounds when they fit; the proven max_tokens covers the longest call."""
    opt = grammar_options(max_json_string_chars=30, max_parallel_calls=3)
    built = turns.assistant_grammar([CREATE], opt, ["note-3"], "call", (2, 3), 2048)
    assert not built.tightened and built.calls == (2, 3)
    longest = "\n".join(['<tool_call>\n{"name": "create_note", "arguments": {"title": "%s"}}\n</tool_call>' % ("x" * 30)] * 3)
    assert match_error(built.lark, longest) is None and len(longest) + 1 <= built.max_tokens
    two = turns.assistant_grammar([CREATE, GET], opt, ["note-3"], "call", (2, 3), 2048)
    assert two.calls == (2, 2)  # a parallel step calls different tools: two tools, two calls
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
    for seed in range(20):
        turns, unplaced = draw_turns(random.Random(seed), 5, features, (1, 2), ["note_id", "owner_email"], "excellent")
        kinds = [t["kind"] for t in turns]
        assert kinds.count("missing") == 1 and kinds.count("no_tool") == 1 and not unplaced
        i = kinds.index("missing")
        assert turns[i + 1]["kind"] == "task" and turns[i]["withheld"] in turns[i + 1]["reveal"]
        assert all(turns[i]["withheld"] not in t["reveal"] for t in turns[: i + 1])
        assert sum(t.get("parallel", False) for t in turns) == 1 and sum(t.get("error", False) for t in turns) == 1
        assert all(t["steps"] >= 2 for t in turns if t.get("error"))  # the failed call, then the recovery
    _, unplaced = draw_turns(random.Random(0), 1, features, (1, 1), ["note_id"], "good")
    assert set(unplaced) == {"missing_argument", "no_tool_request"}


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


def test_simulation_runs_the_plan_with_three_separate_views(tmp_path):
    prompts: dict[str, list[str]] = {"assistant": [], "user": [], "tool": []}

    def responder(request):
        text = json.dumps(request.messages)
        role = "assistant" if "<tools>" in text else "tool" if "You simulate a tool" in text else "user"
        prompts[role].append(text)
        return (role == "assistant" and offered_get_note(request)) or default_responder(request)

    turns = [task(reveal=["note_id"]), {"kind": "no_tool", "reveal": []}, task(2)]
    features = {"parallel_calls": False, "tool_error": False, "missing_argument": False, "no_tool_request": True}
    bp = blueprint("notes-0001", turns, {"note_id": "note-77"}, features)
    rows, metrics = conversations.run(make_ctx(tmp_path, responder), [bp], {"notes": [GET, CREATE]})
    (row,) = rows
    assert row["status"] == "ok" and row["end"] == "plan_complete", row["reason"]
    messages = json.loads(row["messages"])
    assert [m["role"] for m in messages].count("user") == 3
    assert "note-77" in messages[0]["content"]  # the planned fact, verbatim
    assert prompts["assistant"] and all(SCENARIO not in p and "harbor" not in p for p in prompts["assistant"])
    assert all(SCENARIO in p for p in prompts["user"])  # the user sees the scenario
    assert prompts["tool"] and all("create_note" in p or "get_note" in p for p in prompts["tool"])
    for m in messages:  # every identifier argument was said before it was used
        for c in m.get("tool_calls") or []:
            if "note_id" in c["function"]["arguments"]:
                i = messages.index(m)
                assert any(c["function"]["arguments"]["note_id"] in (p.get("content") or "") for p in messages[:i])
    third = messages[[i for i, m in enumerate(messages) if m["role"] == "user"][2]:]
    assert sum(bool(m.get("tool_calls")) for m in third) >= 1  # a call step (the fake's second would repeat it)
    from fcsynth.quality.repeats import repeated_calls

    assert repeated_calls(messages)[1] == []  # a repeat is retried, then replaced by text
    done = json.loads(row["realized"])
    assert done["no_tool_request"] == {"planned": True, "realized": True, "why": None}
    m = metrics.as_dict()
    assert m["features"]["no_tool_request"] == {"planned": 1, "realized": 1, "share": 1.0}
    assert m["mean_user_turns"] == 3 and m["identifier_grounding"] == 1.0 and m["scheduling"] == "stream"
    assert 0.0 <= m["tokens"]["wasted_token_share"] < 1.0


def test_rounds_batch_every_conversation_and_rerun_generates_nothing(tmp_path):
    bps = [blueprint(f"notes-{k:04d}", [task(), task()]) for k in range(3)]
    ctx = make_ctx(tmp_path)
    rows, _ = conversations.run(ctx, bps, {"notes": [CREATE, GET]})
    batches = ctx.backend.calls
    assert len(batches[0]) == 3 and all(r.endswith("/m0") for r in batches[0])  # round 1: every user turn at once
    again = make_ctx(tmp_path)
    rows2, _ = conversations.run(again, bps, {"notes": [CREATE, GET]})
    assert again.backend.calls == [] and rows2 == rows  # every turn came from the checkpoint


def test_stream_and_rounds_make_the_same_conversations(tmp_path, monkeypatch):
    """Streamed (a turn's follow-up joins the running batch) or in rounds (openai, ray):
    the same requests, so the same transcripts; rounds batch every conversation's turn."""
    from fcsynth.simulation import run as sim_run

    features = {"parallel_calls": True, "tool_error": True, "missing_argument": False, "no_tool_request": False}
    bps = [blueprint(f"notes-{k:04d}", [task(2, error=True), task(1, parallel=True)], features=features) for k in range(3)]
    streamed, _ = conversations.run(make_ctx(tmp_path / "a"), bps, {"notes": [CREATE, GET]})
    monkeypatch.setattr(sim_run, "STREAMING_BACKENDS", ())
    ctx = make_ctx(tmp_path / "b")
    rounds, metrics = conversations.run(ctx, bps, {"notes": [CREATE, GET]})
    assert [r["messages"] for r in rounds] == [r["messages"] for r in streamed]
    assert metrics.as_dict()["scheduling"] == "rounds" and metrics.as_dict()["rounds"] == len(ctx.backend.calls)
    assert all(len({i.split("/")[0] for i in batch}) == 3 for batch in ctx.backend.calls[:3])


def test_a_turn_failing_a_rule_check_is_generated_again(tmp_path):
    seen = []

    def responder(request):
        seen.append(request.id)
        if request.id == "notes-0001/m1":  # the first assistant attempt: a generic placeholder title
            return '<tool_call>\n{"name": "create_note", "arguments": {"title": "Your title here"}}\n</tool_call>'
        return default_responder(request)

    rows, metrics = conversations.run(make_ctx(tmp_path, responder), [blueprint("notes-0001", [task()])], {"notes": [CREATE, GET]})
    assert "notes-0001/m1#a1" in seen  # regenerated with a new request id (and seed)
    messages = json.loads(rows[0]["messages"])
    assert "Your title here" not in json.dumps(messages)
    assert metrics.as_dict()["turn_retries"] == 1 and rows[0]["turn_retries"] == 1


def test_a_turn_failing_its_checks_every_time_ends_the_conversation_before_it(tmp_path):
    """Curate would reject the whole conversation for that turn: it ends with the turns before."""
    seen = []

    def responder(request):
        seen.append(request.id)
        if request.id.split("#")[0] == "notes-0001/m9":  # the second user turn's call, every attempt
            return '<tool_call>\n{"name": "create_note", "arguments": {"title": "Your title here"}}\n</tool_call>'
        return default_responder(request)

    rows, metrics = conversations.run(make_ctx(tmp_path, responder), [blueprint("notes-0001", [task(), task()])],
                                      {"notes": [CREATE, GET]})
    assert {"notes-0001/m9", "notes-0001/m9#a1"} <= set(seen) and "notes-0001/m9#a2" not in seen
    messages = json.loads(rows[0]["messages"])
    assert rows[0]["status"] == "ok" and rows[0]["reason"].startswith("placeholder")
    assert [m["role"] for m in messages].count("user") == 1 and messages[-1]["role"] == "assistant"
    assert messages[-1]["content"] and not messages[-1].get("tool_calls")
    assert "Your title here" not in json.dumps(messages)
    assert metrics.as_dict()["ends"] == {"checks_failed": 1}


def test_the_first_turn_gets_more_attempts_since_ending_there_keeps_nothing(tmp_path):
    """Past max_turn_retries the first turn is generated again (first_turn_retries): a
    conversation whose first turn passes at its third attempt is kept whole."""
    seen = []

    def responder(request):
        seen.append(request.id)
        if request.id in ("notes-0001/m1", "notes-0001/m1#a1"):  # the first call step, twice
            return '<tool_call>\n{"name": "create_note", "arguments": {"title": "Your title here"}}\n</tool_call>'
        return default_responder(request)

    ctx = make_ctx(tmp_path, responder, "conversations.max_turn_retries=1", "conversations.first_turn_retries=2")
    rows, metrics = conversations.run(ctx, [blueprint("notes-0001", [task(), task()])], {"notes": [CREATE, GET]})
    assert "notes-0001/m1#a2" in seen and rows[0]["status"] == "ok"
    assert [m["role"] for m in json.loads(rows[0]["messages"])].count("user") == 2
    assert metrics.as_dict()["ends"] == {"plan_complete": 1}


def test_a_first_turn_failing_every_attempt_ends_with_nothing_kept(tmp_path):
    def responder(request):
        if request.id.split("#")[0] == "notes-0001/m1":
            return '<tool_call>\n{"name": "create_note", "arguments": {"title": "Your title here"}}\n</tool_call>'
        return default_responder(request)

    seen = []
    ctx = make_ctx(tmp_path, lambda r: seen.append(r.id) or responder(r), "conversations.first_turn_retries=2")
    rows, metrics = conversations.run(ctx, [blueprint("notes-0001", [task(), task()])], {"notes": [CREATE, GET]})
    assert "notes-0001/m1#a2" in seen and "notes-0001/m1#a3" not in seen
    assert rows[0]["status"] == "truncated" and metrics.as_dict()["ends"] == {"checks_failed": 1}


def test_a_turn_repeating_earlier_text_is_degenerate_across_the_conversation(tmp_path):
    """A reply that alone is fine but repeats the conversation's earlier text is degenerate, as
    curate measures it: regenerated, and past its retries the conversation ends before it."""
    echo = "I created the note about the dock survey and saved it for you."

    def responder(request):
        if request.id.split("#")[0] in ("notes-0001/m7", "notes-0001/m15"):  # each user turn's closing text
            return echo
        return default_responder(request)

    rows, metrics = conversations.run(make_ctx(tmp_path, responder), [blueprint("notes-0001", [task(), task()])],
                                      {"notes": [CREATE, GET]})
    messages = json.loads(rows[0]["messages"])
    assert sum(m.get("content") == echo for m in messages) == 1
    assert metrics.as_dict()["turn_failures"]["degenerate_text"] == 2 and metrics.as_dict()["ends"] == {"checks_failed": 1}


def test_planned_error_and_parallel_step_are_realized(tmp_path):
    turns = [task(2, error=True), task(1, parallel=True)]
    features = {"parallel_calls": True, "tool_error": True, "missing_argument": False, "no_tool_request": False}
    rows, metrics = conversations.run(make_ctx(tmp_path, None, "dml.max_parallel_calls=2"),
                                      [blueprint("notes-0001", turns, features=features)], {"notes": [CREATE, GET]})
    messages = json.loads(rows[0]["messages"])
    assert any("error" in json.loads(m["content"]) for m in messages if m["role"] == "tool")
    assert any(len(m.get("tool_calls") or []) == 2 for m in messages)
    f = metrics.as_dict()["features"]
    assert f["tool_error"]["share"] == 1.0 and f["parallel_calls"]["share"] == 1.0


def test_a_parallel_step_that_could_not_happen_at_its_turn_happens_at_the_next(tmp_path):
    """The planned turn's step came back as one call: the next task turn's first step is parallel."""
    def responder(request):
        if request.id == "notes-0001/m1":
            return '<tool_call>\n{"name": "create_note", "arguments": {"title": "Harbor crane schedule"}}\n</tool_call>'
        return default_responder(request)

    features = {"parallel_calls": True, "tool_error": False, "missing_argument": False, "no_tool_request": False}
    rows, metrics = conversations.run(make_ctx(tmp_path, responder, "dml.max_parallel_calls=2"),
                                      [blueprint("notes-0001", [task(1, parallel=True), task(1)], features=features)],
                                      {"notes": [CREATE, GET]})
    messages = json.loads(rows[0]["messages"])
    steps = [len(m["tool_calls"]) for m in messages if m.get("tool_calls")]
    assert steps[0] == 1 and 2 in steps[1:]
    second_turn = [i for i, m in enumerate(messages) if m["role"] == "user"][1]
    assert any(len(m.get("tool_calls") or []) == 2 for m in messages[second_turn:])
    assert metrics.as_dict()["features"]["parallel_calls"]["share"] == 1.0
    assert sum(len(m.get("tool_calls") or []) >= 2 for m in messages) == 1  # once, not at every later turn


def test_a_simulated_response_with_a_placeholder_is_generated_again(tmp_path):
    seen = []

    def responder(request):
        seen.append(request.id)
        if request.id == "notes-0001/m2.0":
            return '{"note_id": "{{my_id}}"}'
        return default_responder(request)

    rows, metrics = conversations.run(make_ctx(tmp_path, responder), [blueprint("notes-0001", [task()])], {"notes": [CREATE, GET]})
    assert "notes-0001/m2.0#a1" in seen and rows[0]["status"] == "ok"
    assert "{{my_id}}" not in rows[0]["messages"] and metrics.as_dict()["turn_failures"]["placeholder"] == 1


def test_executable_environment_carries_state_between_calls(tmp_path):
    """create_note's id comes back from the environment; get_note then reads that note."""
    turns = [task(2)]

    def responder(request):
        text = json.dumps(request.messages)
        if "<tools>" in text and request.id.endswith("/m1"):
            return '<tool_call>\n{"name": "create_note", "arguments": {"title": "Dock survey"}}\n</tool_call>'
        return ("<tools>" in text and offered_get_note(request)) or default_responder(request)

    env_cls = f"{__name__}:NotesEnvironment"
    ctx = make_ctx(tmp_path, responder, "conversations.environment=executable", f"conversations.environment_class={env_cls}")
    rows, _ = conversations.run(ctx, [blueprint("notes-0001", turns)], {"notes": [GET, CREATE]})
    messages = json.loads(rows[0]["messages"])
    tool_results = [json.loads(m["content"]) for m in messages if m["role"] == "tool"]
    assert tool_results[0] == {"note_id": "note-1"}
    get_calls = [c for m in messages for c in m.get("tool_calls") or [] if c["function"]["name"] == "get_note"]
    assert get_calls and get_calls[0]["function"]["arguments"]["note_id"] == "note-1"  # grounded in the response
    assert {"note_id": "note-1", "title": "Dock survey"} in tool_results  # the state carried over
    assert not any(r["id"].count(".") for r in ctx.checkpoint("conversations").rows.values())  # no LLM for tools


def test_executable_environment_errors_and_bad_class():
    env = NotesEnvironment()
    assert environment.call(env, "get_note", {"note_id": "x"}) == {"error": {"code": "KeyError", "message": "'no note x'"}}
    assert environment.call(env, "delete_note", {})["error"]["code"] == "unknown_tool"
    assert environment.call(env, "create_note", {"nope": 1})["error"]["code"] == "TypeError"
    with pytest.raises(Exception, match="environment_class: 'nocolon' is not"):
        environment.load_class("nocolon")
    with pytest.raises(Exception, match="has no class 'Missing'"):
        environment.load_class(f"{__name__}:Missing")
    with pytest.raises(Exception, match="needs environment_class"):
        parse_config(compose(["llm=fake", "conversations.environment=executable"]))


def test_context_full_keeps_only_complete_turns():
    conv = Conversation("c", blueprint("c", [task(), task()]), [CREATE], [task(), task()], {})
    conv.add_text("user", "Make a note.")
    conv.add_calls([{"name": "create_note", "arguments": {"title": "a"}}], None)
    conv.add_text("user", "x")  # stands for a partial next turn
    conv.finish(CONTEXT_FULL, "full")
    assert conv.messages == [] and conv.done  # nothing complete: the row becomes a failure
    conv = Conversation("c", blueprint("c", [task()]), [CREATE], [task(), task()], {})
    conv.add_text("user", "Hi.")
    conv.add_text("assistant", "Hello.")
    conv.add_text("user", "Make a note.")
    conv.finish(CONTEXT_FULL, "full")
    assert [m["content"] for m in conv.messages] == ["Hi.", "Hello."]


def test_realized_and_shape_read_the_transcript():
    plan = {"features": {"missing_argument": True, "no_tool_request": False, "parallel_calls": False, "tool_error": False},
            "turns": [{"kind": "missing", "withheld": "note_id", "reveal": []}, task(reveal=["note_id"])]}
    messages = [
        {"role": "user", "content": "Read my note."}, {"role": "assistant", "content": "Which note?"},
        {"role": "user", "content": "This one: note-9."},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function",
                                                              "function": {"name": "get_note", "arguments": {"note_id": "note-9"}}}]},
        {"role": "tool", "tool_call_id": "c1", "name": "get_note", "content": '{"title": "x"}'},
        {"role": "assistant", "content": "It says x"},
    ]
    assert realized(plan, messages, {"note_id": "note-9"})["missing_argument"]["realized"]
    assert not realized(plan, messages, {"note_id": "note-8"})["missing_argument"]["realized"]
    s = shape(messages, [GET])
    assert s["tool_calls"] == 1 and s["identifier_values"] == 1 and s["grounded_identifier_values"] == 1
    assert s["texts"] == 4 and s["sentence_ends"] == 3


def test_a_call_repeated_past_its_retries_becomes_text_never_a_repeat(tmp_path):
    """The assistant keeps repeating its call: after the retries the turn answers in text."""
    call = '<tool_call>\n{"name": "create_note", "arguments": {"title": "Dock survey"}}\n</tool_call>'

    def responder(request):
        return call if "<tools>" in json.dumps(request.messages) and "calls" in request.constraint.definition.split("\n")[2] \
            else default_responder(request)

    ctx = make_ctx(tmp_path, responder, "conversations.first_turn_retries=1")  # its only turn is the first
    rows, metrics = conversations.run(ctx, [blueprint("notes-0001", [task(3)])], {"notes": [CREATE, GET]})
    messages = json.loads(rows[0]["messages"])
    calls = [c for m in messages for c in m.get("tool_calls") or []]
    assert len(calls) == 1 and messages[-1]["role"] == "assistant" and messages[-1]["content"]
    m = metrics.as_dict()
    assert m["turn_failures"]["repeated_call"] == 2 and m["ends"] == {"plan_complete": 1}


def test_retrying_a_failed_call_is_a_recovery_not_a_repeat():
    from fcsynth.quality.repeats import repeated_calls

    call = {"id": "c1", "type": "function", "function": {"name": "get_note", "arguments": {"note_id": "n-1"}}}
    again = {**call, "id": "c2"}
    failed = [{"role": "user", "content": "x"}, {"role": "assistant", "content": "", "tool_calls": [call]},
              {"role": "tool", "tool_call_id": "c1", "name": "get_note", "content": '{"error": {"code": 503, "message": "busy"}}'},
              {"role": "assistant", "content": "", "tool_calls": [again]}]
    assert repeated_calls(failed)[1] == []
    ok = [*failed[:2], {**failed[2], "content": '{"title": "x"}'}, failed[3]]
    assert len(repeated_calls(ok)[1]) == 1


def test_identifiers_inside_arrays_of_objects_are_grounded():
    params = {"type": "object", "properties": {"attendees": {"type": "array", "items": {
        "type": "object", "properties": {"email": {"type": "string", "format": "email"}}, "required": ["email"]}}},
        "required": ["attendees"]}
    assert grounding.ground(params, []) is None
    grounded = grounding.ground(params, ["ana@contoso.test"])
    assert grounded["properties"]["attendees"]["items"]["properties"]["email"]["enum"] == ["ana@contoso.test"]
