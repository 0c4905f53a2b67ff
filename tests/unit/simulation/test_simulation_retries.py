"""Per-turn checks of the simulation: a failing turn is generated again, and past its retries the conversation ends."""

from __future__ import annotations

import json

from fcsynth.generation import conversations
from fcsynth.llm.fake_backend import default_responder

from helpers.notes_simulation import CREATE, GET, blueprint, make_ctx, task


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
        if request.id.split("#")[0] == "notes-0001/m7":  # the second user turn's first call, every attempt
            return '<tool_call>\n{"name": "create_note", "arguments": {"title": "Your title here"}}\n</tool_call>'
        return default_responder(request)

    rows, metrics = conversations.run(make_ctx(tmp_path, responder), [blueprint("notes-0001", [task(), task()])],
                                      {"notes": [CREATE, GET]})
    assert {"notes-0001/m7", "notes-0001/m7#a1"} <= set(seen) and "notes-0001/m7#a2" not in seen
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
        if request.id.split("#")[0] in ("notes-0001/m5", "notes-0001/m11"):  # each user turn's closing text
            return echo
        return default_responder(request)

    rows, metrics = conversations.run(make_ctx(tmp_path, responder), [blueprint("notes-0001", [task(), task()])],
                                      {"notes": [CREATE, GET]})
    messages = json.loads(rows[0]["messages"])
    assert sum(m.get("content") == echo for m in messages) == 1
    assert metrics.as_dict()["turn_failures"]["degenerate_text"] == 2 and metrics.as_dict()["ends"] == {"checks_failed": 1}


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


def test_a_parallel_step_that_repeated_a_call_is_retried_with_different_tools(tmp_path):
    """First attempt: one tool twice with the same arguments (a repeat); the retry's grammar offers different tools only."""
    twice = "\n".join(['<tool_call>\n{"name": "create_note", "arguments": {"title": "Dock survey"}}\n</tool_call>'] * 2)
    grammars = {}

    def responder(request):
        if request.id.startswith("notes-0001/m1"):
            grammars[request.id] = request.constraint.definition
            if request.id == "notes-0001/m1":
                return twice
        return default_responder(request)

    features = {"parallel_calls": True, "tool_error": False, "missing_argument": False, "no_tool_request": False}
    bp = blueprint("notes-0001", [task(parallel=True)], features=features)
    rows, metrics = conversations.run(make_ctx(tmp_path, responder), [bp], {"notes": [CREATE, GET]})
    assert "call_0 \"\\n\" call_0" in grammars["notes-0001/m1"]  # the first attempt may call one tool twice
    assert "call_0 \"\\n\" call_0" not in grammars["notes-0001/m1#a1"]
    assert metrics.as_dict()["turn_failures"]["repeated_call"] == 1
    assert "Dock survey" not in rows[0]["messages"]
