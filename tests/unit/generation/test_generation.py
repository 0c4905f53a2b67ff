"""Generation stages with the fake backend: sampling, dedup rounds, resume, null rows."""

from __future__ import annotations

import json
from pathlib import Path

from fcsynth.config import compose, parse_config
from fcsynth.generation import blueprints
from fcsynth.generation.blueprints import BlueprintTask
from fcsynth.generation.sampling import allocate, rng_for, sample_subset
from fcsynth.generation.scenarios import ScenarioTask
from fcsynth.llm import Request
from fcsynth.llm.context import StageContext
from fcsynth.llm.fake_backend import FakeBackend
from fcsynth.runner import request_key, run_requests
from fcsynth.tools import Tool, write_catalog

PARAMS = {"type": "object", "properties": {"q": {"type": "string", "description": "query"}}, "required": ["q"]}


def make_tools(toolkit: str, n: int) -> list[Tool]:
    return [Tool(toolkit, f"{toolkit}_tool{i}", f"Tool {i} of {toolkit}.", PARAMS) for i in range(n)]


def make_ctx(tmp_path: Path, responder=None, **overrides) -> StageContext:
    extra = [f"{k}={v}" for k, v in overrides.items()]
    cfg = parse_config(compose(["llm=fake", *extra]))
    ctx = StageContext(cfg, tmp_path)
    ctx.backend = FakeBackend(responder)
    return ctx


def test_allocate_uniform_and_weighted():
    assert allocate(10, ["a", "b", "c"], {}) == {"a": 4, "b": 3, "c": 3}
    assert sum(allocate(7, ["a", "b"], {"a": 3}).values()) == 7
    assert allocate(8, ["a", "b"], {"a": 3, "b": 1}) == {"a": 6, "b": 2}


def test_sample_subset_is_seeded_and_covers_bundle_toolkits():
    tools = make_tools("mail", 6) + make_tools("cal", 6)
    a = sample_subset(tools, (2, 4), rng_for(1, "x"))
    assert a == sample_subset(tools, (2, 4), rng_for(1, "x"))
    assert 2 <= len(a) <= 4 and {t.toolkit for t in a} == {"mail", "cal"}
    sizes = {len(sample_subset(tools, (2, 4), rng_for(1, str(i)))) for i in range(40)}
    assert sizes == {2, 3, 4}


def test_run_requests_reuses_only_identical_requests(tmp_path):
    ctx = make_ctx(tmp_path)
    s = ctx.cfg.sampling
    reqs = [Request(id=f"r{i}", sampling=s, seed=i, prompt=f"p{i}") for i in range(3)]
    cp = ctx.checkpoint("demo")
    rows = run_requests(reqs, cp, ctx.get_backend, lambda r, c: {"id": r.id, "text": c.text})
    assert set(rows) == {"r0", "r1", "r2"} and ctx.backend.calls == [["r0", "r1", "r2"]]
    # same requests: nothing generated; one changed prompt: only it is regenerated
    changed = [*reqs[:2], Request(id="r2", sampling=s, seed=2, prompt="other")]
    run_requests(reqs, ctx.checkpoint("demo"), ctx.get_backend, lambda r, c: {"id": r.id, "text": c.text})
    run_requests(changed, ctx.checkpoint("demo"), ctx.get_backend, lambda r, c: {"id": r.id, "text": c.text})
    assert ctx.backend.calls == [["r0", "r1", "r2"], ["r2"]]
    assert request_key(reqs[2]) != request_key(changed[2])


def scripted(texts: dict[str, str]):
    """A responder answering scenario requests by candidate id prefix."""
    def respond(request):
        slot = request.id.rsplit("-", 1)[0]
        return json.dumps({"scenario": texts.get(request.id, texts.get(slot, f"A distinct scenario for {request.id} " * 2))})
    return respond


def catalog_file(tmp_path: Path, tools: list[Tool]) -> Path:
    path = tmp_path / "tools.parquet"
    write_catalog(tools, path)
    return path


def test_scenarios_drop_near_duplicates_and_refill_in_rounds(tmp_path):
    same = "The user needs to email the quarterly budget report to Alice before Friday's board meeting."
    texts = {
        "mail-0000-r0": same,
        "mail-0001-r0": same.replace("Alice", "Alicia"),  # near duplicate: dropped, refilled next round
        "mail-0001-r1": "Schedule a dentist appointment for next Tuesday and invite my partner to it.",
        "mail-0002-r0": "Find the signed contract PDF from Bob in my inbox and forward it to legal.",
    }
    tools = make_tools("mail", 5)
    ctx = make_ctx(tmp_path, scripted(texts), **{"scenarios.count": 3, "scenarios.similarity_threshold": 0.9})
    rows, metrics = ScenarioTask({"mail": tools}, catalog_file(tmp_path, tools)).run(ctx, [])
    by_id = {r["id"]: r for r in rows}
    assert sorted(by_id) == ["mail-0000", "mail-0001", "mail-0002"]
    assert by_id["mail-0001"]["candidate_id"] == "mail-0001-r1"
    assert len(by_id["mail-0000"]["embedding"]) == 384
    m = metrics.as_dict()
    assert m["dropped_duplicate"] == 1 and m["rounds"] == 2 and m["generated"] == 4
    assert ctx.backend.calls == [["mail-0000-r0", "mail-0001-r0", "mail-0002-r0"], ["mail-0001-r1"]]


def test_scenario_tools_walk_the_tool_graph_and_the_share_is_reported(tmp_path):
    import itertools

    from fcsynth.catalog.graph import connected, neighbours, rows_edges

    tools = make_tools("mail", 6)
    names = [t.name for t in tools]
    adjacent = neighbours(rows_edges([{"toolkit": "mail", "source": a, "target_toolkit": "mail", "target": b,
                                       "kind": "response_field", "via": "id"} for a, b in itertools.pairwise(names)]))
    texts = {f"mail-000{i}-r0": f"Scenario number {i} about {w} work." for i, w in enumerate(["budget", "travel", "hiring", "legal"])}
    ctx = make_ctx(tmp_path, scripted(texts), **{"scenarios.count": 4, "scenarios.random_tool_share": 0.0,
                                                 "scenarios.tools_per_scenario": [3, 4]})
    rows, metrics = ScenarioTask({"mail": tools}, catalog_file(tmp_path, tools), adjacent).run(ctx, [])
    assert all(connected([("mail", name) for name in r["tools"]], adjacent) for r in rows)
    assert metrics.as_dict()["connected_subset_share"] == 1.0


def test_scenarios_rerun_with_higher_target_keeps_earlier(tmp_path):
    tools = make_tools("mail", 5)
    cat = catalog_file(tmp_path, tools)
    texts = {
        "mail-0000": "Email the signed lease to the landlord and archive the thread afterwards.",
        "mail-0001": "Label every newsletter from last month and delete the promotional ones.",
        "mail-0002": "Draft a reply to the recruiter proposing three interview slots next week.",
    }
    ctx = make_ctx(tmp_path, scripted(texts), **{"scenarios.count": 2})
    first, _ = ScenarioTask({"mail": tools}, cat).run(ctx, [])
    ctx2 = make_ctx(tmp_path / "fresh", scripted(texts), **{"scenarios.count": 3})  # no checkpoints
    second, m = ScenarioTask({"mail": tools}, cat).run(ctx2, first)
    assert [r for r in second if r["id"] in {"mail-0000", "mail-0001"}] == first
    assert ctx2.backend.calls == [["mail-0002-r0"]]
    assert m.as_dict()["kept_from_previous_run"] == 2


def test_blueprint_answer_is_constrained_and_failures_kept(tmp_path):
    tools = make_tools("mail", 6)
    scenario = {"id": "mail-0000", "selection": "mail", "toolkits": ["mail"], "tools": [t.name for t in tools[:3]],
                "scenario": "Forward the invoice."}
    schema = blueprints.answer_schema(scenario["tools"], 640)
    assert schema["properties"]["tools"]["items"]["enum"] == sorted(scenario["tools"])
    ctx = make_ctx(tmp_path, **{"blueprints.distractors": 2})
    rows, metrics = BlueprintTask({"mail": tools}).run(ctx, [scenario])
    row = rows[0]
    assert row["status"] == "ok" and set(row["tools"]) <= set(scenario["tools"])
    assert len(row["distractors"]) == 2 and not set(row["distractors"]) & set(scenario["tools"])
    assert json.loads(row["persona"]).keys() == {"role", "company", "context"}

    broken = make_ctx(tmp_path / "b", lambda r: '{"persona": {"role": "x"', **{"blueprints.distractors": 2})
    rows, metrics = BlueprintTask({"mail": tools}).run(broken, [scenario])
    assert rows[0]["status"] == "unparseable" and "BlueprintAnswer" in rows[0]["reason"]
    assert rows[0]["raw"].startswith('{"persona"')
    assert metrics.as_dict()["rejected"] == {"truncated": 0, "unparseable": 1, "engine_error": 0}
    assert metrics.as_dict()["records_in"] == 1 and metrics.as_dict()["records_out"] == 0


def test_blueprint_plan_rates_follow_config(tmp_path):
    ctx = make_ctx(tmp_path, **{"blueprints.parallel_call_rate": 1.0, "blueprints.tool_error_rate": 0.0})
    tools = make_tools("mail", 4)
    plans = [blueprints.plan(ctx.cfg, {"id": f"s{i}", "tools": [tools[0].name]}, tools) for i in range(20)]
    assert all(p["features"]["parallel_calls"] for p in plans)
    assert not any(p["features"]["tool_error"] for p in plans)
    assert {p["clarity"] for p in plans} <= {"excellent", "good", "average"}


def test_a_parallel_turn_fans_out_over_the_offered_tools_at_the_configured_odds(tmp_path):
    """`fan` is added over the tools the conversation offers; the rest of the plan stays, but
    the facts the fanned turn would state move to another turn, so it lists the fan's values only."""
    from helpers.notes_simulation import CREATE, GET

    tools = [*make_tools("notes", 2), CREATE, GET]
    ctx = make_ctx(tmp_path, **{"blueprints.parallel_call_rate": 1.0, "blueprints.one_tool_parallel_rate": 1.0,
                                "dml.max_parallel_calls": 3})
    moved = 0
    for sid in (f"s{k}" for k in range(12)):
        planned = blueprints.plan(ctx.cfg, {"id": sid, "tools": [t.name for t in tools]}, tools)["plan"]
        fanned = blueprints.fan_out(ctx.cfg, sid, planned, tools)
        ((i, turn),) = [(i, t) for i, t in enumerate(fanned["turns"]) if t.get("parallel")]
        assert turn["fan"]["argument"] == "note_id" and len(set(turn["fan"]["values"])) == turn["calls"]
        strip = [{k: v for k, v in t.items() if k not in ("fan", "reveal")} for t in fanned["turns"]]
        assert strip == [{k: v for k, v in t.items() if k != "reveal"} for t in planned["turns"]]
        assert turn["reveal"] == []
        assert sorted(f for t in fanned["turns"] for f in t["reveal"]) == sorted(f for t in planned["turns"] for f in t["reveal"])
        moved += bool(planned["turns"][i]["reveal"])
    assert moved  # some fanned turn had facts to move
    never = make_ctx(tmp_path, **{"blueprints.parallel_call_rate": 1.0, "blueprints.one_tool_parallel_rate": 0.0})
    assert blueprints.fan_out(never.cfg, "s1", planned, tools) == planned
