"""BFCL's multi-turn APIs as the simulation's executable tool environment, on the embedded model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fcsynth.bfcl.apis import BfclApis
from fcsynth.catalog.build import build_catalog
from fcsynth.catalog.selection import select
from fcsynth.config import compose, parse_config
from fcsynth.simulation import environment


@pytest.mark.slow
def test_conversations_over_bfcl_apis_on_the_embedded_model(vllm_engine, tmp_path: Path) -> None:
    """The real chain on one API: every tool message is what BFCL's class answers to that call
    after the conversation's earlier calls."""
    from fcsynth.generation import conversations
    from fcsynth.generation.blueprints import BlueprintTask
    from fcsynth.generation.scenarios import ScenarioTask
    from fcsynth.llm.context import StageContext
    from fcsynth.tools import write_catalog

    cfg = parse_config(compose([
        "experiment=bfcl", "toolkits.toolkits=[gorilla_file_system]", "toolkits.bundles=[]", "scenarios.count=2",
        "scenarios.max_tokens=128", "blueprints.user_turns=[2,2]", "blueprints.steps_per_task_turn=[1,1]",
        "blueprints.max_tokens=320", "conversations.max_tokens=600", "dml.max_text_chars=200",
    ]))
    tools = build_catalog(cfg.catalog, tmp_path).result.tools
    catalog = tmp_path / "tools.parquet"
    write_catalog(tools, catalog)
    ctx = StageContext(cfg, tmp_path, backend=vllm_engine)
    selections = select(tools, cfg.toolkits)
    scen, _ = ScenarioTask(selections, catalog).run(ctx, [])
    bps, _ = BlueprintTask(selections).run(ctx, scen)
    convs, metrics = conversations.run(ctx, bps, selections)
    answered = 0
    for conv in convs:
        messages = json.loads(conv["messages"])
        for i, message in enumerate(messages):
            if message["role"] != "tool":
                continue
            calls = [c for m in messages[:i] for c in m.get("tool_calls") or []]
            made = next(c for c in reversed(calls) if c["id"] == message["tool_call_id"])
            earlier = calls[: calls.index(made)]
            expected = environment.respond(
                BfclApis, [{"role": "assistant", "tool_calls": earlier}], made["function"]["name"],
                json.loads(made["function"]["arguments"]) if isinstance(made["function"]["arguments"], str)
                else made["function"]["arguments"],
            )
            assert json.loads(message["content"]) == json.loads(json.dumps(expected))
            answered += 1
    assert answered, metrics.as_dict()
