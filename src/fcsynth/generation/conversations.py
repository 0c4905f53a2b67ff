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
from fcsynth.dml import GrammarOptions, example_messages, parse_dml, render_dml
from fcsynth.dml.grammar import build_budgeted_grammar, narrowed_arguments
from fcsynth.errors import FcsynthError
from fcsynth.llm import Request, derive_seed
from fcsynth.llm.base import ERROR_FINISH
from fcsynth.metrics import StageMetrics
from fcsynth.prompts import render
from fcsynth.rows import CONVERSATION_FAILURES, GRAMMAR_ERROR, OK, UPSTREAM_FAILED
from fcsynth.runner import make_request, parse_completion, run_requests, token_totals
from fcsynth.stage import StageContext
from fcsynth.tools import Tool
from fcsynth.waste import token_use

STAGE = "conversations"
TEMPLATE = "conversation.j2"


def build_request(ctx: StageContext, blueprint: dict[str, Any], tools: list[Tool]) -> tuple[Request, list[str], int]:
    """The request for one blueprint, the tools that fell back to a looser schema, and the
    longest output its grammar allows (tokens)."""
    features = json.loads(blueprint["features"])
    options = GrammarOptions.for_conversation(ctx.cfg.dml, features)
    grammar = build_budgeted_grammar(tools, options, ctx.cfg.conversations.max_tokens, f"conversations: {blueprint['id']}")
    example = render_dml(example_messages(tools, grammar.options or options, key=blueprint["id"]))
    prompt = render(
        TEMPLATE,
        scenario=blueprint["scenario"],
        persona=json.loads(blueprint["persona"]),
        outline=blueprint["outline"],
        clarity=blueprint["clarity"],
        features=features,
        use_tools=blueprint["tools"],
        # The arguments the grammar lets a call use: the prompt never offers what it forbids.
        tools=[{"name": t.name, "description": t.description, "parameters": narrowed_arguments(t, grammar.options or options)}
               for t in tools],
        thinking=ctx.cfg.dml.thinking,
        example=example,
    )
    request = make_request(
        blueprint["id"], prompt, CFG(grammar.lark), ctx.cfg.sampling, ctx.cfg.conversations.max_tokens,
        derive_seed(ctx.cfg.seed, f"conversation:{blueprint['id']}"), metadata={"fake_output": example},
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
        raw = run_requests([req for _, req in batch.values()], checkpoint, ctx.get_backend)
        generated += raw.values()
        failed = set()
        for rid, (base_id, _) in batch.items():
            final[base_id] = {**raw[rid], "round": rnd}
            if parse_completion(raw[rid]["text"], raw[rid]["finish_reason"], parse_dml)[1] != OK:
                failed.add(base_id)
        todo = [r for r in todo if r.id in failed]
    return final, generated


def schema() -> dict[str, Any]:
    """Polars schema of data/conversations.parquet."""
    import polars as pl

    return {
        "id": pl.String, "selection": pl.String, "toolkits": pl.List(pl.String), "scenario": pl.String,
        "persona": pl.String, "outline": pl.String, "clarity": pl.String, "features": pl.String, "tools": pl.String,
        "dml": pl.String, "messages": pl.String, "status": pl.String, "reason": pl.String,
        "prompt_tokens": pl.Int64, "completion_tokens": pl.Int64, "round": pl.Int64,
    }


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
        r = final.get(b["id"], {"text": "", "finish_reason": ERROR_FINISH, "prompt_tokens": 0, "completion_tokens": 0, "round": 0})
        if b["id"] in grammar_errors:
            messages, status, reason = None, GRAMMAR_ERROR, grammar_errors[b["id"]]
        else:
            messages, status, reason = parse_completion(r["text"], r["finish_reason"], parse_dml)
        rows.append({
            "id": b["id"], "selection": b["selection"], "toolkits": b["toolkits"], "scenario": b["scenario"],
            "persona": b["persona"], "outline": b["outline"], "clarity": b["clarity"], "features": b["features"],
            "tools": json.dumps([t.to_openai() for t in tools_of[b["id"]]], sort_keys=True),
            "dml": r["text"],
            "messages": json.dumps(messages, ensure_ascii=False) if messages is not None else None,
            "status": status, "reason": reason,
            "prompt_tokens": r["prompt_tokens"], "completion_tokens": r["completion_tokens"],
            "round": r["round"],
        })
    metrics.count(rows, reasons=CONVERSATION_FAILURES)
    ok = [json.loads(r["messages"]) for r in rows if r["status"] == OK]
    metrics.tokens = token_totals(generated)
    metrics.tokens.update(token_use(generated, [f"{r['id']}{_round_suffix(r['round'])}" for r in rows if r["status"] == OK]))
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
