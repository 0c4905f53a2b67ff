"""Outputs already produced are kept: atomic table and metrics writes, a scenarios store that never shrinks."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from fcsynth.tables import write_rows
from fcsynth.tools import Tool, write_catalog

from helpers.stage_project import PARAMS


def test_write_rows_is_atomic_and_refuses_nothing(tmp_path, monkeypatch):
    from fcsynth.errors import FcsynthError

    out = tmp_path / "t.parquet"
    write_rows([{"id": "a", "x": 1}], out)
    before = out.read_bytes()
    with pytest.raises(FcsynthError, match=r"t\.parquet: the stage produced 0 rows, so nothing was written"):
        write_rows([], out)
    assert out.read_bytes() == before

    def crash(self, path, *args, **kwargs):  # a kill mid-write leaves half a file behind
        Path(path).write_bytes(b"PAR1 half")
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", crash)
    with pytest.raises(OSError, match="disk full"):
        write_rows([{"id": "b", "x": 2}], out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]  # no temp file left


def test_write_json_replaces_whole_file_only(tmp_path):
    from fcsynth.metrics import write_json

    out = write_json(tmp_path / "m" / "x.json", {"a": 1})
    with pytest.raises(TypeError):
        write_json(out, {"a": {1, 2}})  # not JSON-serializable: the old metrics stay
    assert json.loads(out.read_text()) == {"a": 1}
    write_json(out, {"b": 2})
    assert json.loads(out.read_text()) == {"b": 2} and [p.name for p in out.parent.iterdir()] == ["x.json"]


def scenario_ctx(tmp_path: Path, **overrides):
    from fcsynth.config import compose, parse_config
    from fcsynth.llm.context import StageContext
    from fcsynth.llm.fake_backend import FakeBackend

    def respond(request):  # a distinct scenario per slot, whatever the round
        slot = request.id.rsplit("-", 1)[0]
        topics = ["lease renewal", "newsletter cleanup", "recruiter reply", "invoice dispute", "team offsite"]
        return json.dumps({"scenario": f"The user needs help with the {topics[int(slot[-1]) % 5]} for {slot} this week."})

    cfg = parse_config(compose(["llm=fake", *[f"{k}={v}" for k, v in overrides.items()]]))
    ctx = StageContext(cfg, tmp_path)
    ctx.backend = FakeBackend(respond)
    return ctx


def test_scenarios_store_never_shrinks_on_a_lower_count(tmp_path):
    from fcsynth.generation.scenarios import ScenarioTask, active_rows

    tools = [Tool("mail", f"mail_op{i}", f"Operation {i}.", PARAMS) for i in range(4)]
    catalog = tmp_path / "tools.parquet"
    write_catalog(tools, catalog)
    sel = {"mail": tools}
    four, _ = ScenarioTask(sel, catalog).run(scenario_ctx(tmp_path / "a", **{"scenarios.count": 4}), [])
    assert [r["id"] for r in active_rows(four)] == [f"mail-000{k}" for k in range(4)]

    ctx = scenario_ctx(tmp_path / "b", **{"scenarios.count": 2})
    two, m = ScenarioTask(sel, catalog).run(ctx, four)
    assert len(two) == 4 and ctx.backend.calls == []  # nothing regenerated, nothing dropped
    assert [r["id"] for r in active_rows(two)] == ["mail-0000", "mail-0001"]
    assert m.as_dict()["kept_inactive"] == 2 and m.records_out == 2

    ctx = scenario_ctx(tmp_path / "c", **{"scenarios.count": 4})
    back, _ = ScenarioTask(sel, catalog).run(ctx, two)
    assert ctx.backend.calls == [] and back == four  # the stored scenarios come back as they were

    ctx = scenario_ctx(tmp_path / "d", **{"scenarios.count": 2, "scenarios.allow_shrink": "true"})
    shrunk, m = ScenarioTask(sel, catalog).run(ctx, four)
    assert [r["id"] for r in shrunk] == ["mail-0000", "mail-0001"] and m.as_dict()["dropped_from_previous_run"] == 2


def test_scenarios_changed_settings_keep_old_scenarios_inactive(tmp_path):
    from fcsynth.generation.scenarios import ScenarioTask, active_rows

    tools = [Tool("mail", f"mail_op{i}", f"Operation {i}.", PARAMS) for i in range(4)]
    catalog = tmp_path / "tools.parquet"
    write_catalog(tools, catalog)
    first, _ = ScenarioTask({"mail": tools}, catalog).run(scenario_ctx(tmp_path / "a", **{"scenarios.count": 2}), [])
    ctx = scenario_ctx(tmp_path / "b", **{"scenarios.count": 2, "scenarios.workflow_description": "'Sales follow-ups.'"})
    second, _ = ScenarioTask({"mail": tools}, catalog).run(ctx, first)
    assert len(second) == 4 and len(ctx.backend.calls) == 1
    active = active_rows(second)
    assert [r["id"] for r in active] == ["mail-0000", "mail-0001"]
    assert {r["fingerprint"] for r in active}.isdisjoint({r["fingerprint"] for r in first})
    assert [dict(r, active=True) for r in second if not r["active"]] == first
