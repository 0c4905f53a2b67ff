"""The LLM stages' one contract: request helper, parse step, status vocabulary, row schemas, counting."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fcsynth.checkpoint import Checkpoint
from fcsynth.config import compose, parse_config
from fcsynth.generation import conversations
from fcsynth.generation.blueprints import BlueprintTask
from fcsynth.generation.system_prompts import SystemPromptTask
from fcsynth.llm.base import ERROR_FINISH
from fcsynth.llm.context import StageContext
from fcsynth.llm.fake_backend import FakeBackend
from fcsynth.metrics import StageMetrics
from fcsynth.rows import CONVERSATION_FAILURES, JUDGE_FAILURES, STATUSES
from fcsynth.runner import make_request, parse_completion, request_key, run_requests
from fcsynth.tables import read_rows, write_rows
from fcsynth.tools import Tool

from helpers.paths import REPO

PARAMS = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}


def _cfg():
    return parse_config(compose(["llm=fake"]))


def test_parse_step_statuses():
    def number(text: str) -> int:
        return int(text)

    assert parse_completion("42", "stop", number) == (42, "ok", None)
    assert parse_completion("42", "length", number)[1:] == ("truncated", "max_tokens reached before the answer ended")
    assert parse_completion("engine said no", ERROR_FINISH, number) == (None, "engine_error", "engine said no")
    value, status, reason = parse_completion("forty-two", "stop", number)
    assert value is None and status == "unparseable" and "forty-two" in reason
    assert {"ok", "truncated", "unparseable", "engine_error", "upstream_failed"} <= set(STATUSES)
    assert set(CONVERSATION_FAILURES) | set(JUDGE_FAILURES) < set(STATUSES)


def test_make_request_user_message_chat_and_raw_prompt():
    s = _cfg().sampling
    user = make_request("a", "hi", None, s, 7, 3)
    assert user.messages == [{"role": "user", "content": "hi"}] and user.prompt is None
    assert user.sampling.max_tokens == 7 and s.max_tokens != 7 and user.seed == 3  # the config is not changed
    chat = make_request("a", [{"role": "system", "content": "x"}], None, s, 7, 3)
    assert chat.messages == [{"role": "system", "content": "x"}]
    raw = make_request("a", "<|im_start|>user", None, s, 7, 3, raw_prompt=True, metadata={"k": 1})
    assert raw.prompt == "<|im_start|>user" and raw.messages is None and raw.metadata == {"k": 1}
    assert request_key(user) != request_key(chat) != request_key(raw)


def test_checkpoints_written_before_the_shared_row_shape_are_reused(tmp_path):
    """Old checkpoints kept the text under "raw" or "dml": they still give the same rows."""
    s = _cfg().sampling
    requests = [make_request(f"r{i}", f"p{i}", None, s, 5, i) for i in range(2)]
    cp = Checkpoint("old", "k", tmp_path)
    cp.add({"id": "r0", "raw": "zero", "finish_reason": "stop", "request_key": request_key(requests[0])})
    cp.add({"id": "r1", "dml": "one", "finish_reason": "stop", "request_key": request_key(requests[1])})
    backend = FakeBackend()
    rows = run_requests(requests, Checkpoint("old", "k", tmp_path), lambda: backend)
    assert backend.calls == [] and [rows[f"r{i}"]["text"] for i in range(2)] == ["zero", "one"]


def test_stage_metrics_count_rows_passed_on():
    m = StageMetrics("x", records_in=5)
    m.reject("upstream_failed", 1)
    m.count([{"status": "ok"}, {"status": "truncated"}, {"status": "ok"}, {"status": "unparseable"}],
            reasons=("truncated", "unparseable", "engine_error"))
    d = m.as_dict()
    assert d["records_in"] == 5 and d["records_out"] == 2
    assert d["rejected"] == {"engine_error": 0, "truncated": 1, "unparseable": 1, "upstream_failed": 1}
    assert d["records_out"] + sum(d["rejected"].values()) == d["records_in"]


def test_write_rows_refuses_a_row_off_its_schema(tmp_path):
    with pytest.raises(ValueError, match="extra"):
        write_rows([{"id": "a", "extra": 1}], tmp_path / "t.parquet", {"id": str})
    assert not (tmp_path / "t.parquet").exists()


def test_generation_rows_match_their_declared_schemas(tmp_path):
    """blueprints -> conversations -> system_prompts on the fake backend: each stage's rows
    are exactly its declared schema, statuses come from the shared vocabulary."""
    cfg = _cfg()
    ctx = StageContext(cfg, tmp_path)
    ctx.backend = FakeBackend()
    tools = [Tool("mail", f"mail_tool{i}", f"Tool {i}.", PARAMS) for i in range(4)]
    scenarios = [{"id": f"mail-{k:04d}", "selection": "mail", "toolkits": ["mail"], "tools": [t.name for t in tools[:2]],
                  "scenario": "Forward the invoice to the accountant before noon."} for k in range(3)]
    bp, m_bp = BlueprintTask({"mail": tools}).run(ctx, scenarios)
    conv, m_conv = conversations.run(ctx, bp, {"mail": tools})
    sp, m_sp = SystemPromptTask().run(ctx, conv)
    for name, rows, schema in (("bp", bp, BlueprintTask.schema()), ("conv", conv, conversations.schema()),
                               ("sp", sp, SystemPromptTask.schema())):
        write_rows(rows, tmp_path / f"{name}.parquet", schema)
        assert len(read_rows(tmp_path / f"{name}.parquet")) == len(rows) == 3
        assert {r["status"] for r in rows} <= set(STATUSES)
    for m, rows in ((m_bp, bp), (m_conv, conv), (m_sp, sp)):
        assert m.records_in == 3 and m.records_out == sum(r["status"] == "ok" for r in rows)


def test_light_modules_do_not_import_the_llm_layer():
    """Row/status definitions, export, curate and report import neither vLLM nor outlines."""
    code = (
        "import sys, fcsynth.rows, fcsynth.export, fcsynth.curate, fcsynth.report, fcsynth.metrics\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('vllm', 'outlines', 'torch')"
        " or m in ('fcsynth.llm', 'fcsynth.runner', 'fcsynth.judge.run'))\n"
        "print(json.dumps(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", "import json\n" + code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO / "src"), "PATH": ""})
    assert json.loads(out.stdout) == []


def test_json_schema_keyword_sets_and_allof_merging_exist_once():
    """Only fcsynth.schema_keywords spells out the subschema keyword sets or merges allOf."""
    import re

    defined = re.compile(r"frozenset\(\s*\{[^}]*\"(?:anyOf|properties)\"|def _?merge_all_of\b")
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "src").rglob("*.py")
                 if p.name != "schema_keywords.py" and defined.search(p.read_text())]
    assert offenders == []
