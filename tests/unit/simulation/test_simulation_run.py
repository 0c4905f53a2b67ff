"""The turn-by-turn simulation on the fake backend: roles' views, scheduling, planned features, executable environments."""

from __future__ import annotations

import json

import pytest

from fcsynth.config import compose, parse_config
from fcsynth.generation import conversations
from fcsynth.llm.fake_backend import default_responder
from fcsynth.simulation import environment
from fcsynth.simulation.realized import realized, shape
from fcsynth.simulation.state import CONTEXT_FULL, Conversation

from helpers.notes_simulation import CREATE, GET, SCENARIO, blueprint, make_ctx, offered_get_note, task


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


def _parallel_turn(tmp_path, turn: dict) -> tuple[list[dict], dict, str]:
    """A one-turn conversation planned with a parallel step (up to 3 calls): its messages,
    the stage metrics and the user's prompt."""
    asks: list[str] = []

    def responder(request):
        if request.id == "notes-0001/m0":
            asks.append(json.dumps(request.messages))
        return default_responder(request)

    features = {"parallel_calls": True, "tool_error": False, "missing_argument": False, "no_tool_request": False}
    rows, metrics = conversations.run(make_ctx(tmp_path, responder, "dml.max_parallel_calls=3"),
                                      [blueprint("notes-0001", [turn], features=features)], {"notes": [CREATE, GET]})
    return json.loads(rows[0]["messages"]), metrics.as_dict(), asks[0]


@pytest.mark.parametrize("count", [2, 3])
def test_the_planned_call_count_fixes_the_parallel_step_and_the_user_asks_for_as_many_things(tmp_path, count):
    messages, _, ask = _parallel_turn(tmp_path, task(1, parallel=True, calls=count))
    steps = [len(m["tool_calls"]) for m in messages if m.get("tool_calls")]
    assert steps[0] == count
    assert f"ask for exactly {count} things" in ask


def test_a_fanned_parallel_step_calls_one_tool_for_each_value_the_user_listed(tmp_path):
    fan = {"argument": "note_id", "values": ["nk4m2pq7x9", "tz83hd6wq2", "b7c2mx9k3a"]}
    messages, metrics, ask = _parallel_turn(tmp_path, task(1, parallel=True, calls=3, fan=fan))
    assert messages[0]["content"].endswith(": nk4m2pq7x9, tz83hd6wq2, b7c2mx9k3a.")  # listed verbatim, in order
    step = next(m["tool_calls"] for m in messages if m.get("tool_calls"))
    assert [(c["function"]["name"], c["function"]["arguments"]["note_id"]) for c in step] == [("get_note", v) for v in fan["values"]]
    assert "the same action for each of 3 note id values" in ask
    assert metrics["one_tool_parallel_steps"] == 1


def _step_tools(tmp_path, turn: dict, *overrides: str) -> dict[str, set[str]]:
    """The tools each assistant request of a one-turn conversation offered, by request id."""
    offered: dict[str, set[str]] = {}

    def responder(request):
        lark = getattr(request.constraint, "definition", "") or ""
        if request.id.startswith("notes-0001/m") and "call_0" in lark:
            offered[request.id] = {n for n in ("create_note", "get_note") if f'\\"{n}\\"' in lark}
        if request.id == "notes-0001/m1":
            return '<tool_call>\n{"name": "create_note", "arguments": {"title": "Harbor crane schedule"}}\n</tool_call>'
        return offered_get_note(request) or default_responder(request)

    features = {"parallel_calls": False, "tool_error": bool(turn.get("error")), "missing_argument": False,
                "no_tool_request": False}
    conversations.run(make_ctx(tmp_path, responder, *overrides), [blueprint("notes-0001", [turn], features=features)],
                      {"notes": [CREATE, GET]})
    return offered


def test_a_later_step_of_a_turn_is_offered_only_the_tools_the_turn_has_not_called(tmp_path):
    """After create_note, the turn's second step may call get_note only (a near-repeat of the
    last call is what a weak generator writes, and what a model tuned on it learns)."""
    assert _step_tools(tmp_path / "new", task(2))["notes-0001/m3"] == {"get_note"}
    again = _step_tools(tmp_path / "again", task(2), "conversations.repeat_tools_in_turn=true")
    assert again["notes-0001/m3"] == {"create_note", "get_note"}


def test_the_step_after_an_error_result_may_retry_the_failed_tool(tmp_path):
    assert "create_note" in _step_tools(tmp_path, task(2, error=True))["notes-0001/m3"]


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
