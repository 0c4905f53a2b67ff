"""The judge stage: rubric schema, prompt, fake-backend runs, checkpoint resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fcsynth.config import load_params
from fcsynth.judge import DIMENSIONS, answer_schema, parse_answer, render_prompt
from fcsynth.llm.fake_backend import FakeBackend, default_responder, minimal_instance

from helpers.fabricate import conversation_row, system_prompt_row
from helpers.judge_run import run_judge
from helpers.paths import REPO


@pytest.fixture()
def cfg():
    return load_params(REPO / "params.yaml")


@pytest.fixture()
def conversations():
    rows = [conversation_row(sel, k) for sel in ("gmail", "googlecalendar", "gmail+googlecalendar") for k in range(2)]
    rows.append(conversation_row("gmail", 7, status="truncated"))
    return rows


@pytest.fixture()
def system_prompts(conversations):
    return [system_prompt_row(r["id"]) for r in conversations if r["status"] == "ok"]


def test_schema_puts_reasoning_first_and_bounds_scores():
    schema = answer_schema(300, 768)
    assert list(schema["properties"]) == ["reasoning", "scores"]
    assert schema["properties"]["reasoning"]["maxLength"] == 300
    scores = schema["properties"]["scores"]
    assert list(scores["properties"]) == list(DIMENSIONS) == scores["required"]
    for dim in DIMENSIONS:
        assert scores["properties"][dim] == {"enum": [1, 2, 3, 4, 5], "type": "integer"}
    assert schema["additionalProperties"] is False and scores["additionalProperties"] is False
    assert "$ref" not in json.dumps(schema)
    assert parse_answer(json.dumps(minimal_instance(schema))) is not None


def test_parse_answer_rejects_out_of_range_and_garbage():
    good = {"reasoning": "fine", "scores": dict.fromkeys(DIMENSIONS, 3)}
    assert parse_answer(json.dumps(good)).scores.naturalness == 3
    assert parse_answer(json.dumps({**good, "scores": {**good["scores"], "naturalness": 6}})) is None
    assert parse_answer('{"reasoning": "cut off') is None
    assert parse_answer("[1, 2]") is None


def test_prompt_shows_tools_system_prompt_scenario_outline_and_turns(conversations):
    row = conversation_row("gmail+googlecalendar", 1, thinking=True)
    prompt = render_prompt(row, "Be brief.", max_chars=800, compact=False)
    for needle in ("send_email", "create_event", '"required":["title","start"]', "Be brief.", row["scenario"], row["outline"],
                   "[user] Please email person1@example.com", "[assistant calls send_email]", "[send_email returned]",
                   "[assistant thinks]", "[assistant] Done:"):
        assert needle in prompt, needle
    for dim in DIMENSIONS:
        assert f"{dim}:" in prompt
    assert all(f"{level} = " in prompt for level in range(1, 6))
    compact = render_prompt(row, None, max_chars=800, compact=True)
    assert "title: string (required)" in compact and "(none)" in compact


def test_prompts_share_instructions_and_rubric_as_a_prefix():
    """Everything before the tools is the same for every conversation, so the engine's prefix
    cache serves it once for the whole batch."""
    one = render_prompt(conversation_row("gmail", 0), "Be brief.", max_chars=800, compact=False)
    other = render_prompt(conversation_row("googlecalendar", 1), None, max_chars=800, compact=True)
    shared = one[: next(i for i, (a, b) in enumerate(zip(one, other, strict=False)) if a != b)]
    assert all(f"{dim}:" in shared for dim in DIMENSIONS) and "# Tools" in shared
    assert one.rstrip().endswith('"scores" with one integer per dimension.')  # the task right before the answer


@pytest.mark.parametrize("tool_schemas", ["full", "compact"])
def test_tool_schemas_option_picks_the_parameters_form(cfg, conversations, system_prompts, tmp_path, tool_schemas):
    chosen = cfg.model_copy(update={"judge": cfg.judge.model_copy(update={"tool_schemas": tool_schemas})})
    seen = []
    run_judge(chosen, conversations, system_prompts, tmp_path, FakeBackend(lambda r: seen.append(r.prompt or r.messages[-1]["content"]) or default_responder(r)))
    assert seen and all(("title: string (required)" in p) == (tool_schemas == "compact") for p in seen if "create_event" in p)
    assert all(('"required":' in p) == (tool_schemas == "full") for p in seen)


def test_fake_run_scores_ok_rows_and_skips_upstream_failures(cfg, conversations, system_prompts, tmp_path):
    backend = FakeBackend()
    rows, metrics = run_judge(cfg, conversations, system_prompts, tmp_path, backend)
    assert len(backend.calls) == 1 and len(backend.calls[0]) == 6  # one batch, only the ok rows
    by_id = {r["id"]: r for r in rows}
    assert by_id["gmail-0007"]["judge_status"] == "upstream_failed" and by_id["gmail-0007"]["scores"] is None
    assert by_id["gmail-0007"]["judge_reason"].startswith("truncated")
    ok = [r for r in rows if r["judge_status"] == "ok"]
    assert len(ok) == 6
    for r in ok:
        assert set(json.loads(r["scores"])) == set(DIMENSIONS)
        assert r["system_prompt"].startswith("You are") and r["drop_system_prompt"] is False
        assert r["judge_reasoning"]
    m = metrics.as_dict()
    assert m["records_in"] == 7 and m["records_out"] == 6
    assert m["rejected"]["upstream_failed"] == 1 and m["rejected"]["unparseable"] == 0
    assert m["scores"]["tool_use_quality"]["histogram"] == {"1": 6, "2": 0, "3": 0, "4": 0, "5": 0}
    assert m["scores"]["tool_use_quality"]["mean"] == 1.0
    assert m["per_selection"]["gmail"]["judged"] == 2 and m["per_selection"]["gmail+googlecalendar"]["naturalness"]["mean"] == 1.0
    assert m["tokens"]["requests"] == 6 and m["tokens"]["prompt_tokens"] > 0


def test_unparseable_answer_keeps_raw_text(cfg, conversations, system_prompts, tmp_path):
    good = json.dumps({"reasoning": "ok", "scores": dict.fromkeys(DIMENSIONS, 4)})
    backend = FakeBackend(lambda r: "not json at all" if r.id == "gmail-0001" else good)
    rows, metrics = run_judge(cfg, conversations, system_prompts, tmp_path, backend)
    bad = next(r for r in rows if r["id"] == "gmail-0001")
    assert bad["judge_status"] == "unparseable" and bad["judge_raw"] == "not json at all" and bad["scores"] is None
    assert metrics.as_dict()["rejected"]["unparseable"] == 1
    assert metrics.as_dict()["scores"]["tool_use_quality"]["mean"] == 4.0


def test_too_long_prompt_is_skipped_not_sent(cfg, conversations, system_prompts, tmp_path):
    tiny = cfg.model_copy(update={"judge": cfg.judge.model_copy(update={"max_prompt_chars": 500})})
    backend = FakeBackend()
    rows, metrics = run_judge(tiny, conversations, system_prompts, tmp_path, backend)
    assert backend.calls == [] and all(r["judge_status"] in ("prompt_too_long", "upstream_failed") for r in rows)
    assert metrics.as_dict()["rejected"]["prompt_too_long"] == 6


def test_rerun_reuses_checkpoint_and_redoes_changed_requests(cfg, conversations, system_prompts, tmp_path):
    cp_dir = tmp_path / "cp"
    first, _ = run_judge(cfg, conversations, system_prompts, cp_dir, FakeBackend())
    again = FakeBackend()
    second, _ = run_judge(cfg, conversations, system_prompts, cp_dir, again)
    assert again.calls == [] and first == second
    changed = [dict(r, scenario=r["scenario"] + " (edited)") if r["id"] == "gmail-0000" else r for r in conversations]
    third = FakeBackend()
    run_judge(cfg, changed, system_prompts, cp_dir, third)
    assert third.calls == [["gmail-0000"]]


KILL_SCRIPT = """
import json, os, signal, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from helpers.fabricate import conversation_row, system_prompt_row
from fcsynth.config import load_params
from fcsynth.judge import JudgeTask
from fcsynth.llm.context import StageContext
from fcsynth.llm.fake_backend import FakeBackend, default_responder
cfg = load_params({params!r})
rows = [conversation_row(s, k) for s in ("gmail", "googlecalendar") for k in range(3)]
sps = [system_prompt_row(r["id"]) for r in rows]
seen = []
def responder(req):
    seen.append(req.id)
    if len(seen) == {kill_after} + 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return default_responder(req)
ctx = StageContext(cfg, Path({cp!r}))
ctx.backend = FakeBackend(responder)
out, _ = JudgeTask(sps).run(ctx, rows)
print(json.dumps(seen))
"""


def test_sigkill_then_rerun_keeps_finished_rows_byte_for_byte(tmp_path):
    cp = tmp_path / "cp"
    script = lambda kill_after: KILL_SCRIPT.format(tests=str(REPO / "tests"), params=str(REPO / "params.yaml"), cp=str(cp), kill_after=kill_after)
    env = {**os.environ, "FCSYNTH_ROOT": str(REPO)}
    killed = subprocess.run([sys.executable, "-c", script(3)], capture_output=True, text=True, env=env)
    assert killed.returncode == -9, killed.stderr
    [path] = (cp / "data" / "checkpoints" / "judge").glob("*.jsonl")
    before = path.read_bytes()
    assert len(before.splitlines()) == 3
    rerun = subprocess.run([sys.executable, "-c", script(99)], capture_output=True, text=True, env=env, check=True)
    seen = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert len(seen) == 3  # only the unfinished ones were generated
    after = path.read_bytes()
    assert after.startswith(before) and len(after.splitlines()) == 6
