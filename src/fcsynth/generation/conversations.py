"""The `conversations` stage: each blueprint generated in DML under its own grammar.

Every request carries the grammar built from that conversation's tools (used +
distractors) and planned features, so the output is structurally valid and its tool
calls schema-valid by construction; all requests go to the engine as one batch.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from typing import Any

from outlines.types import CFG

from fcsynth.budget import BudgetError
from fcsynth.dml import DMLParseError, GrammarOptions, example_messages, parse_dml, render_dml
from fcsynth.dml.grammar import build_budgeted_grammar
from fcsynth.errors import FcsynthError
from fcsynth.stage import StageContext
from fcsynth.runner import run_requests, token_totals
from fcsynth.llm import Completion, Request, derive_seed
from fcsynth.llm.base import ERROR_FINISH
from fcsynth.metrics import StageMetrics
from fcsynth.waste import token_use
from fcsynth.prompts import render
from fcsynth.tools import Tool

STAGE = "conversations"
# Why a conversation row is not "ok" (curate and judge count them as upstream_<status>).
FAILED_STATUSES = ("truncated", "unparseable", "engine_error", "grammar_error")
TEMPLATE = "conversation.j2"


def grammar_options(ctx: StageContext, features: dict[str, bool]) -> GrammarOptions:
    """The grammar options of one conversation: config + its planned features."""
    options = GrammarOptions.from_config(ctx.cfg.dml, allow_tool_errors=features["tool_error"])
    return options if features["parallel_calls"] else replace(options, max_parallel_calls=1)


def build_request(ctx: StageContext, blueprint: dict[str, Any], tools: list[Tool]) -> tuple[Request, list[str], int]:
    """The request for one blueprint, the tools that fell back to a looser schema, and the
    longest output its grammar allows (tokens)."""
    features = json.loads(blueprint["features"])
    options = grammar_options(ctx, features)
    grammar = build_budgeted_grammar(tools, options, ctx.cfg.conversations.max_tokens, f"conversations: {blueprint['id']}")
    example = render_dml(example_messages(tools, grammar.options or options))
    prompt = render(
        TEMPLATE,
        scenario=blueprint["scenario"],
        persona=json.loads(blueprint["persona"]),
        outline=blueprint["outline"],
        clarity=blueprint["clarity"],
        features=features,
        use_tools=blueprint["tools"],
        tools=[{"name": t.name, "description": t.description, "parameters": t.parameters} for t in tools],
        thinking=ctx.cfg.dml.thinking,
        example=example,
    )
    request = Request(
        id=blueprint["id"],
        sampling=ctx.cfg.sampling.model_copy(update={"max_tokens": ctx.cfg.conversations.max_tokens}),
        seed=derive_seed(ctx.cfg.seed, f"conversation:{blueprint['id']}"),
        messages=[{"role": "user", "content": prompt}],
        constraint=CFG(grammar.lark),
        metadata={"fake_output": example},
    )
    return request, list(grammar.fallbacks), grammar.max_tokens


def _round_suffix(rnd: int) -> str:
    return f"#r{rnd}" if rnd else ""


def generate_rounds(ctx: StageContext, requests: list[Request]) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Generate every request; regenerate the failed ones (not parsed) with a seed of the
    round, for at most `conversations.max_rounds` rounds in all. Round r > 0 rows are
    checkpointed as `<id>#r<r>`. Returns (last row per request id, every generated row)."""
    checkpoint = ctx.checkpoint(STAGE)
    final: dict[str, dict[str, Any]] = {}
    generated: list[dict[str, Any]] = []
    todo = list(requests)
    for rnd in range(ctx.cfg.conversations.max_rounds):
        if not todo:
            break
        batch = {
            f"{r.id}{_round_suffix(rnd)}": (r.id, r if rnd == 0 else replace(
                r, id=f"{r.id}{_round_suffix(rnd)}", seed=derive_seed(ctx.cfg.seed, f"conversation:{r.id}:round{rnd}")))
            for r in todo
        }
        raw = run_requests(
            [req for _, req in batch.values()], checkpoint, ctx.get_backend,
            lambda req, c: {"id": req.id, "dml": c.text, "finish_reason": c.finish_reason},
        )
        generated += raw.values()
        failed = []
        for rid, (base_id, _) in batch.items():
            final[base_id] = {**raw[rid], "round": rnd}
            if parse_completion(raw[rid]["dml"], raw[rid]["finish_reason"])[1] != "ok":
                failed.append(base_id)
        todo = [r for r in todo if r.id in failed]
    return final, generated


def parse_completion(text: str, finish_reason: str) -> tuple[list[dict[str, Any]] | None, str, str | None]:
    """(messages, status, reason): a bad output is kept with its reason, never a crash."""
    if finish_reason == "length":
        return None, "truncated", "max_tokens reached before the conversation ended"
    if finish_reason == ERROR_FINISH:
        return None, "engine_error", text
    try:
        return parse_dml(text), "ok", None
    except DMLParseError as err:
        return None, "unparseable", str(err)


def run(
    ctx: StageContext,
    blueprints: list[dict[str, Any]],
    tools_by_selection: dict[str, list[Tool]],
) -> tuple[list[dict[str, Any]], StageMetrics]:
    """One conversation row per usable blueprint."""
    metrics = StageMetrics(STAGE, records_in=len(blueprints))
    usable = [b for b in blueprints if b["status"] == "ok"]
    metrics.reject("blueprint_failed", len(blueprints) - len(usable))
    by_name = {sel: {t.name: t for t in tools} for sel, tools in tools_by_selection.items()}
    tools_of = {b["id"]: [by_name[b["selection"]][n] for n in sorted({*b["tools"], *b["distractors"]})] for b in usable}
    fallbacks: Counter[str] = Counter()
    requests, grammar_errors, proven = [], {}, 0
    for b in usable:
        try:
            request, fell_back, worst = build_request(ctx, b, tools_of[b["id"]])
        except BudgetError:
            raise  # the configured bounds cannot fit max_tokens: the whole stage fails
        except FcsynthError as err:  # one conversation's tools, never the whole batch
            grammar_errors[b["id"]] = str(err)
            continue
        fallbacks.update(fell_back)
        requests.append(request)
        proven += int(worst <= ctx.cfg.conversations.max_tokens)

    final, generated = generate_rounds(ctx, requests)
    rows = []
    for b in usable:
        r = final.get(b["id"], {"dml": "", "finish_reason": ERROR_FINISH, "prompt_tokens": 0, "completion_tokens": 0, "round": 0})
        if b["id"] in grammar_errors:
            messages, status, reason = None, "grammar_error", grammar_errors[b["id"]]
        else:
            messages, status, reason = parse_completion(r["dml"], r["finish_reason"])
        if status != "ok":
            metrics.reject(status)
        rows.append({
            "id": b["id"], "selection": b["selection"], "toolkits": b["toolkits"], "scenario": b["scenario"],
            "persona": b["persona"], "outline": b["outline"], "clarity": b["clarity"], "features": b["features"],
            "tools": json.dumps([t.to_openai() for t in tools_of[b["id"]]], sort_keys=True),
            "dml": r["dml"],
            "messages": json.dumps(messages, ensure_ascii=False) if messages is not None else None,
            "status": status, "reason": reason,
            "prompt_tokens": r["prompt_tokens"], "completion_tokens": r["completion_tokens"],
            "round": r["round"],
        })
    ok = [json.loads(r["messages"]) for r in rows if r["status"] == "ok"]
    metrics.records_out = len(ok)
    metrics.tokens = token_totals(generated)
    metrics.tokens.update(token_use(generated, [f"{r['id']}{_round_suffix(r['round'])}" for r in rows if r["status"] == "ok"]))
    metrics.extra.update(
        parse_rate=round(len(ok) / len(rows), 4) if rows else 0.0,
        schema_fallbacks=dict(sorted(fallbacks.items())),
        regenerated=sum(r["round"] > 0 for r in rows),
        rounds=max([r["round"] + 1 for r in rows], default=0),
        budget_proven=proven,
        mean_user_turns=_mean([sum(m["role"] == "user" for m in msgs) for msgs in ok]),
        mean_tool_calls=_mean([sum(len(m.get("tool_calls") or []) for m in msgs) for msgs in ok]),
    )
    return rows, metrics


def _mean(values: list[int]) -> float:
    return round(sum(values) / len(values), 3) if values else 0.0
