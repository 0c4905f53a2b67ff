"""The `conversations` stage: each blueprint simulated turn by turn (fcsynth.simulation).

A user simulator, an assistant that sees only what a deployed one sees, and a tool
environment take turns; every round is one engine batch over all unfinished
conversations, every turn is checkpointed, and every turn's constraint is proven to fit
its own budget. The row keeps the transcript (`messages`, and `dml` for the downstream
stages), the plan and what of it was realized.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from fcsynth.dml import parse_dml, render_dml
from fcsynth.generation.plan import FEATURES
from fcsynth.llm.context import StageContext
from fcsynth.metrics import StageMetrics
from fcsynth.rows import CONVERSATION_FAILURES, OK, TRUNCATED, UPSTREAM_FAILED
from fcsynth.runner import token_totals
from fcsynth.simulation import environment
from fcsynth.simulation.realized import realized, shape
from fcsynth.simulation.run import Simulator
from fcsynth.simulation.state import Conversation
from fcsynth.tools import Tool
from fcsynth.waste import token_use

STAGE = "conversations"
# The data/blueprints.parquet columns a conversation is simulated from (stages/conversations.py checks them).
BLUEPRINT_COLUMNS = (
    "id", "selection", "toolkits", "scenario", "persona", "outline", "tools", "distractors", "clarity",
    "features", "facts", "plan", "status",
)


def schema() -> dict[str, Any]:
    """Polars schema of data/conversations.parquet."""
    import polars as pl

    return {
        "id": pl.String, "selection": pl.String, "toolkits": pl.List(pl.String), "scenario": pl.String,
        "persona": pl.String, "outline": pl.String, "clarity": pl.String, "features": pl.String, "tools": pl.String,
        "facts": pl.String, "plan": pl.String, "realized": pl.String, "end": pl.String,
        "dml": pl.String, "messages": pl.String, "status": pl.String, "reason": pl.String,
        "prompt_tokens": pl.Int64, "completion_tokens": pl.Int64, "turn_retries": pl.Int64,
    }


def _tokenizer(ctx: StageContext) -> Any:
    """The generator's tokenizer where prompts are rendered here (local engines), else None."""
    if ctx.backend is not None:  # an engine handed in (tests share one)
        return getattr(ctx.backend, "tokenizer", None)
    if ctx.cfg.llm.engine != "vllm":
        return None
    from fcsynth.model_store import load_tokenizer, resolve_model_path

    return load_tokenizer(resolve_model_path(ctx.model_cfg, ctx.root))


def start(blueprint: dict[str, Any], tools: list[Tool]) -> Conversation:
    plan = json.loads(blueprint["plan"])
    return Conversation(blueprint["id"], blueprint, tools, plan["turns"], json.loads(blueprint["facts"]))


def run(
    ctx: StageContext,
    blueprints: list[dict[str, Any]],
    tools_by_selection: dict[str, list[Tool]],
) -> tuple[list[dict[str, Any]], StageMetrics]:
    """One conversation row per usable blueprint."""
    metrics = StageMetrics(STAGE, records_in=len(blueprints))
    usable = [b for b in blueprints if b["status"] == OK]
    metrics.reject(UPSTREAM_FAILED, len(blueprints) - len(usable))
    by_name = {sel: {t.name: t for t in tools} for sel, tools in tools_by_selection.items()}
    tools_of = {b["id"]: [by_name[b["selection"]][n] for n in sorted({*b["tools"], *b["distractors"]})] for b in usable}
    conf = ctx.cfg.conversations
    env_class = environment.load_class(conf.environment_class) if conf.environment == "executable" and conf.environment_class else None
    convs = [start(b, tools_of[b["id"]]) for b in usable]
    simulator = Simulator(
        ctx.cfg, ctx.checkpoint(STAGE), ctx.get_backend, _tokenizer(ctx), env_class,
    )
    simulator.run(convs)

    per_conversation: dict[str, Counter[str]] = {b["id"]: Counter() for b in usable}
    for r in simulator.generated:  # request ids are <conversation id>/<turn key>
        per_conversation[r["id"].split("/", 1)[0]].update(
            prompt_tokens=int(r.get("prompt_tokens") or 0), completion_tokens=int(r.get("completion_tokens") or 0))
    rows, delivered, shapes, features = [], [], [], {f: {"planned": 0, "realized": 0} for f in FEATURES}
    for b, conv in zip(usable, convs, strict=True):
        messages = None
        status, reason = OK, conv.end_detail
        if conv.user_turns == 0:
            status, reason = TRUNCATED, f"{conv.end}: {conv.end_detail}"
        else:
            try:
                dml = render_dml(conv.messages)
                messages = parse_dml(dml)
            except ValueError as err:  # a bug, never a user error: keep the row, say why
                status, reason, dml = "unparseable", str(err)[:300], ""
        plan = json.loads(b["plan"])
        done = realized(plan, conv.messages, conv.facts) if messages else {}
        if messages is not None:
            delivered += conv.accepted
            shapes.append(shape(messages, conv.tools))
            for f, entry in done.items():
                features[f]["planned"] += entry["planned"]
                features[f]["realized"] += entry["realized"]
        rows.append({
            "id": b["id"], "selection": b["selection"], "toolkits": b["toolkits"], "scenario": b["scenario"],
            "persona": b["persona"], "outline": b["outline"], "clarity": b["clarity"], "features": b["features"],
            "tools": json.dumps([t.to_openai() for t in conv.tools], sort_keys=True),
            "facts": b["facts"], "plan": b["plan"], "realized": json.dumps(done, sort_keys=True), "end": conv.end,
            "dml": dml if messages is not None else None,
            "messages": json.dumps(messages, ensure_ascii=False) if messages is not None else None,
            "status": status, "reason": reason,
            "prompt_tokens": per_conversation[b["id"]]["prompt_tokens"],
            "completion_tokens": per_conversation[b["id"]]["completion_tokens"],
            "turn_retries": sum(conv.attempts.values()),
        })
    metrics.count(rows, reasons=CONVERSATION_FAILURES)
    metrics.tokens = token_totals(simulator.generated)
    metrics.tokens.update(token_use(simulator.generated, delivered))
    prompt, cached = metrics.tokens["prompt_tokens"], metrics.tokens["cached_prompt_tokens"]
    metrics.extra.update(_shape_metrics(shapes))
    metrics.extra.update(
        scheduling="stream" if simulator.streaming else "rounds",
        rounds=simulator.rounds,
        features={f: {**v, "share": round(v["realized"] / v["planned"], 4) if v["planned"] else None} for f, v in features.items()},
        ends={e: sum(c.end == e for c in convs) for e in sorted({str(c.end) for c in convs})},
        turn_retries=sum(r["turn_retries"] for r in rows),
        turn_failures=dict(sorted(sum((c.failures for c in convs), Counter()).items())),
        tightened_calls=sum(c.tightened_calls for c in convs),
        tightened_responses=sum(c.tightened_responses for c in convs),
        prefix_cache_hit_rate=round(cached / prompt, 4) if prompt else 0.0,
        prompt_tokens_per_delivered=round(prompt / len(shapes), 1) if shapes else 0.0,
    )
    return rows, metrics


def _shape_metrics(shapes: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over delivered conversations and the pooled shares."""
    if not shapes:
        return {}
    n = len(shapes)

    def mean(key: str) -> float:
        return round(sum(s[key] for s in shapes) / n, 3)

    ids = sum(s["identifier_values"] for s in shapes)
    texts = sum(s["texts"] for s in shapes)
    calls = sum(s["tool_calls"] for s in shapes)
    return {
        "mean_messages": mean("messages"),
        "mean_user_turns": mean("user_turns"),
        "mean_tool_calls": mean("tool_calls"),
        "mean_arguments_per_call": round(sum(s["arguments"] for s in shapes) / calls, 3) if calls else 0.0,
        "parallel_steps": sum(s["parallel_steps"] for s in shapes),
        "one_tool_parallel_steps": sum(s["one_tool_parallel_steps"] for s in shapes),
        "error_responses": sum(s["error_responses"] for s in shapes),
        "identifier_values": ids,
        "identifier_grounding": round(sum(s["grounded_identifier_values"] for s in shapes) / ids, 4) if ids else None,
        "sentence_end_share": round(sum(s["sentence_ends"] for s in shapes) / texts, 4) if texts else None,
    }
