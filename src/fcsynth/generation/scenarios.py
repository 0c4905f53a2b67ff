"""The `scenarios` stage: a user scenario per conversation slot, deduplicated by embedding.

Slots are filled in rounds: each round asks for one candidate per open slot (all in one
batch), embeds the new candidates once, and accepts a candidate when its cosine
similarity to every accepted scenario of the same selection is at most the threshold.
Accepted scenarios of an earlier run with the same generation settings are kept with
their embeddings, so raising `scenarios.count` only generates the new slots.

The output is a store that never shrinks (unless `scenarios.allow_shrink`): scenarios the
current config does not use (a lower count, other generation settings, a selection no
longer configured) stay in it with `active: false`, and come back when the config does.
Downstream stages read only the active rows (`active_rows`). ScenarioTask is the stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from outlines.types import JsonSchema
from pydantic import BaseModel, Field

from fcsynth.catalog.graph import connected
from fcsynth.checkpoint import file_digest, fingerprint
from fcsynth.constraints.budget import text_answer_schema
from fcsynth.errors import FcsynthError
from fcsynth.generation.embeddings import embed, novel
from fcsynth.generation.sampling import Adjacency, allocate, rng_for, sample_subset
from fcsynth.llm import Request, derive_seed
from fcsynth.llm.context import StageContext
from fcsynth.llm.task import LLMTask
from fcsynth.metrics import StageMetrics
from fcsynth.paths import PROMPTS_DIR
from fcsynth.prompts import template_text
from fcsynth.rows import OK, PARSE_FAILURES
from fcsynth.runner import make_request, token_totals
from fcsynth.tools import Tool
from fcsynth.waste import token_use


class ScenarioAnswer(BaseModel):
    """What the LLM must answer (answer_schema constrains the generation further)."""

    scenario: str = Field(min_length=20, max_length=500)


def answer_schema(max_tokens: int) -> dict[str, Any]:
    """The answer's JSON schema, its text bound allocated from max_tokens (fcsynth.constraints.budget)."""
    return text_answer_schema("scenario", 20, 500, max_tokens, "scenarios")


@dataclass
class SelectionState:
    """Accepted scenarios of one selection, with their embeddings."""

    target: int
    accepted: dict[int, dict[str, Any]] = field(default_factory=dict)

    def open_slots(self) -> list[int]:
        return [k for k in range(self.target) if k not in self.accepted]

    def vectors(self) -> list[np.ndarray]:
        return [np.asarray(r["embedding"], dtype=np.float32) for r in self.accepted.values()]


@dataclass
class ScenarioTask(LLMTask):
    """Fill every selection's slots (`selections`: its tools, `adjacent`: the catalog's tool graph,
    along which each scenario's tools are sampled); `run(ctx, previous)` takes the stored
    scenarios and returns the rows to store (active + kept) and the stage metrics."""

    selections: dict[str, list[Tool]]
    catalog_path: Path
    adjacent: Adjacency | None = None
    prompts_dir: Path = PROMPTS_DIR
    stage = "scenarios"
    # The stored columns the previous output is read with (all but `active`: absent means active).
    inputs = ("id", "selection", "toolkits", "tools", "scenario", "embedding", "round", "candidate_id",
              "max_similarity", "fingerprint")
    template = "scenario.j2"

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """Polars schema of data/scenarios.parquet."""
        import polars as pl

        return {
            "id": pl.String, "selection": pl.String, "toolkits": pl.List(pl.String), "tools": pl.List(pl.String),
            "scenario": pl.String, "embedding": pl.List(pl.Float32), "round": pl.Int64, "candidate_id": pl.String,
            "max_similarity": pl.Float64, "fingerprint": pl.String, "active": pl.Boolean,
        }

    def settings_fingerprint(self, ctx: StageContext) -> str:
        """Everything that decides a candidate's text, except how many are wanted."""
        cfg = ctx.cfg
        sc = cfg.scenarios.model_dump(exclude={"count", "max_rounds", "similarity_threshold", "allow_shrink"})
        return fingerprint(
            cfg.seed, cfg.model.model_dump(), cfg.sampling.model_dump(), sc,
            file_digest(self.catalog_path), template_text(self.template, self.prompts_dir),
        )

    def request(self, ctx: StageContext, row: dict[str, Any]) -> Request:
        """The request of one candidate: {id, selection, tools (its sampled Tool subset)}."""
        cfg, subset = ctx.cfg, row["tools"]
        prompt = self.prompt(
            selection=row["selection"],
            toolkits=sorted({t.toolkit for t in subset}),
            tools=[{"name": t.name, "toolkit": t.toolkit, "description": t.description} for t in subset],
            workflow_description=cfg.scenarios.workflow_description,
        )
        return make_request(
            row["id"], prompt, JsonSchema(answer_schema(cfg.scenarios.max_tokens)), cfg.sampling, cfg.scenarios.max_tokens,
            derive_seed(cfg.seed, row["id"]),
        )

    def parse(self, text: str) -> str:
        """The scenario text of a completion (ValueError when it is not one)."""
        return ScenarioAnswer.model_validate_json(text).scenario.strip()

    def run(self, ctx: StageContext, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], StageMetrics]:
        """`rows`: the stored scenarios (reused where the generation settings are the same).

        No selection, or no scenario accepted, is a one-line error (nothing is written).
        """
        cfg, selections, adjacent = ctx.cfg.scenarios, self.selections, self.adjacent
        if not selections:
            raise FcsynthError("toolkits: no toolkit or bundle is selected (toolkits.toolkits and toolkits.bundles are both empty)")
        key = self.settings_fingerprint(ctx)
        checkpoint = ctx.checkpoint(self.stage)
        metrics = StageMetrics(self.stage)
        targets = allocate(cfg.count, list(selections), ctx.cfg.toolkits.weights)
        states = {name: SelectionState(targets[name]) for name in selections}
        kept = 0
        inactive: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:
            state = states.get(row["selection"])
            slot = int(row["id"].rsplit("-", 1)[1])
            if row.get("fingerprint") == key and state is not None and slot < state.target and slot not in state.accepted:
                state.accepted[slot] = {**row, "active": True}
                kept += 1
            else:
                inactive[(row["id"], str(row.get("fingerprint")))] = {**row, "active": False}

        for reason in PARSE_FAILURES:
            metrics.reject(reason, 0)
        generated = duplicates = rounds = 0
        multi = linked = 0  # sampled subsets of 2+ tools, and those connected in the tool graph
        all_rows: list[dict[str, Any]] = []
        for rnd in range(cfg.max_rounds):
            wanted = [(name, slot) for name, st in states.items() for slot in st.open_slots()]
            if not wanted:
                break
            rounds += 1
            requests, subsets = [], {}
            for name, slot in wanted:
                cand_id = f"{name}-{slot:04d}-r{rnd}"
                subset = sample_subset(selections[name], cfg.tools_per_scenario, rng_for(ctx.cfg.seed, cand_id, "tools"),
                                       adjacent, cfg.random_tool_share)
                if len(subset) > 1:
                    multi += 1
                    linked += connected([(t.toolkit, t.name) for t in subset], adjacent or {})
                subsets[cand_id] = (name, slot, subset)
                requests.append(self.request(ctx, {"id": cand_id, "selection": name, "tools": subset}))
            answers = self.answers(ctx, requests, checkpoint)
            all_rows += [a.raw for a in answers.values()]
            generated += len(answers)
            parsed = {}
            for cid, answer in answers.items():
                parsed[cid] = answer.value
                if answer.status != OK:
                    metrics.reject(answer.status)
            ok_ids = sorted(cid for cid, text in parsed.items() if text)
            vectors = embed([parsed[cid] for cid in ok_ids])  # each new text embedded once
            for cid, vec in zip(ok_ids, vectors, strict=True):
                name, slot, subset = subsets[cid]
                state = states[name]
                is_new, top = novel(vec, state.vectors(), cfg.similarity_threshold)
                if not is_new:
                    duplicates += 1
                    continue
                state.accepted[slot] = {
                    "id": f"{name}-{slot:04d}",
                    "selection": name,
                    "toolkits": sorted({t.toolkit for t in selections[name]}),
                    "tools": [t.name for t in subset],
                    "scenario": parsed[cid],
                    "embedding": [float(x) for x in vec],
                    "round": rnd,
                    "candidate_id": cid,
                    "max_similarity": round(top, 4),
                    "fingerprint": key,
                    "active": True,
                }

        accepted = [row for st in states.values() for row in st.accepted.values()]
        if not accepted:
            raise FcsynthError(
                f"no scenario accepted ({generated} generated: {sum(metrics.reasons[r] for r in PARSE_FAILURES)} not parsed,"
                f" {duplicates} duplicate)"
                f" within scenarios.max_rounds={cfg.max_rounds}; nothing written"
            )
        for row in accepted:  # an active row replaces a kept copy of itself
            inactive.pop((row["id"], row["fingerprint"]), None)
        kept_rows = [] if cfg.allow_shrink else list(inactive.values())
        short = {n: st.target - len(st.accepted) for n, st in states.items() if st.open_slots()}
        metrics.records_in = cfg.count
        metrics.records_out = len(accepted)
        metrics.reject("duplicate", duplicates)
        metrics.tokens = token_totals(all_rows)
        metrics.tokens.update(token_use(all_rows, [r["candidate_id"] for r in accepted]))
        metrics.extra.update(
            generated=generated,
            accepted=len(accepted),
            kept_from_previous_run=kept,
            dropped_duplicate=duplicates,
            dedup_rate=round(duplicates / generated, 4) if generated else 0.0,
            connected_subset_share=round(linked / multi, 4) if multi else None,
            rounds=rounds,
            per_selection={n: len(st.accepted) for n, st in sorted(states.items())},
            short_of_target=short,
            stored=len(accepted) + len(kept_rows),
            kept_inactive=len(kept_rows),
            dropped_from_previous_run=len(inactive) - len(kept_rows),
        )
        stored = sorted(accepted + kept_rows, key=lambda r: (r["id"], not r["active"], str(r.get("fingerprint"))))
        return stored, metrics


def active_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The scenarios the current config uses (a table written before `active` existed: all of them)."""
    return [r for r in rows if r.get("active", True)]
