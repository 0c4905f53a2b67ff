"""Run BFCL categories on one model and score them with BFCL's checkers.

Prompts are rendered exactly as `evaluate` and `train` render theirs (`PromptBuilder`: the
model's chat template with tools, or the Hermes default), with the same sampling. Single-turn
categories are one request per entry, all in one batch. `multi_turn_base` then runs in rounds: each round asks every
unfinished entry for its next assistant message; calls run in BFCL's environments and their
results come back as tool messages, until the model answers without a call (or after
`max_steps_per_turn` calls), then the next user turn follows. An entry whose prompt plus
`max_tokens` does not fit the model's context is skipped at its first step
(`skipped_too_long`) or stopped where it no longer fits (`context_full`); both count as wrong.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fcsynth.bfcl import checkers, decode
from fcsynth.bfcl.suite import IRRELEVANCE, MULTI_TURN, Entry
from fcsynth.chat.prompting import Prompt, PromptBuilder, hermes_messages
from fcsynth.checkpoint import Checkpoint
from fcsynth.config import SamplingConfig
from fcsynth.evaluate.parse import parse_completion
from fcsynth.llm import Backend, derive_seed
from fcsynth.runner import make_request, run_requests

SKIPPED = "skipped_too_long"
CONTEXT_FULL = "context_full"


@dataclass
class _Dialogue:
    """One multi-turn entry in progress."""

    entry: Entry
    history: list[dict[str, Any]] = field(default_factory=list)
    decoded: list[list[list[str]]] = field(default_factory=list)  # per turn, per step: call strings
    turn: int = 0
    step: int = 0
    status: str = "ok"
    unparseable: bool = False
    done: bool = False

    def __post_init__(self) -> None:
        self.history = list(self.entry.turns[0])
        self.decoded = [[]]

    def next_turn(self) -> None:
        self.turn, self.step = self.turn + 1, 0
        if self.turn == len(self.entry.turns):
            self.done = True
            return
        self.history += self.entry.turns[self.turn]
        self.decoded.append([])


class Runner:
    """Generation and scoring of BFCL entries for one model (`label`: base or tuned)."""

    def __init__(self, backend_factory: Callable[[], Backend], builder: PromptBuilder, sampling: SamplingConfig,
                 seed: int, checkpoint: Checkpoint, max_model_len: int | None, max_steps_per_turn: int, label: str) -> None:
        self.backend_factory, self.builder, self.sampling = backend_factory, builder, sampling
        self.seed, self.checkpoint, self.max_model_len = seed, checkpoint, max_model_len
        self.max_steps = max_steps_per_turn
        # BFCL keeps environment instances in module globals, keyed by this prefix and the entry.
        self.prefix = f"fcsynth_{label}_{uuid.uuid4().hex[:8]}"

    def _prompt(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Prompt | None:
        """The prompt (rendered here, or messages for a server), or None when it leaves no
        room for `max_tokens`."""
        if self.builder.tokenizer is None:
            return Prompt(None, hermes_messages(messages, tools))
        prompt = Prompt(self.builder.render(messages, tools), None)
        n = self.builder.count_tokens(prompt)
        if self.max_model_len and n is not None and n + self.sampling.max_tokens > self.max_model_len:
            return None
        return prompt

    def _generate(self, prompts: dict[str, Prompt]) -> dict[str, dict[str, Any]]:
        requests = [
            make_request(rid, p.prompt if p.prompt is not None else p.messages, None, self.sampling,
                         self.sampling.max_tokens, derive_seed(self.seed, rid), raw_prompt=p.prompt is not None)
            for rid, p in prompts.items()
        ]
        return run_requests(requests, self.checkpoint, self.backend_factory) if requests else {}

    # ---- single-turn ----------------------------------------------------------------------
    def single_turn(self, entries: list[Entry]) -> list[dict[str, Any]]:
        prompts, rows = {}, {}
        for e in entries:
            prompt = self._prompt(e.turns[0], e.tools)
            if prompt is None:
                rows[e.id] = _row(e, False, SKIPPED, "", SKIPPED)
            else:
                prompts[f"bfcl/{e.id}"] = prompt
        done = self._generate(prompts)
        for e in entries:
            if e.id in rows:
                continue
            text = done[f"bfcl/{e.id}"]["text"]
            calls = parse_completion(text).calls
            decoded = decode.ast_calls(calls)
            if e.category == IRRELEVANCE:  # BFCL: right when nothing decodes to a call
                valid, error = not decoded, "" if not decoded else "irrelevance:called_a_function"
            elif not decoded:
                valid, error = False, "no_call" if not calls else "unparseable"
            else:
                valid, error = checkers.ast_valid(e.functions, decoded, e.answer, e.category)
            rows[e.id] = _row(e, valid, error, text, "ok", decode.unparseable(calls))
        return [rows[e.id] for e in entries]

    # ---- multi-turn -----------------------------------------------------------------------
    def multi_turn(self, entries: list[Entry]) -> list[dict[str, Any]]:
        dialogues = [_Dialogue(e) for e in entries]
        while active := [d for d in dialogues if not d.done]:
            prompts = {}
            for d in active:
                prompt = self._prompt(d.history, d.entry.tools)
                if prompt is None:
                    d.status, d.done = SKIPPED if d.turn == d.step == 0 else CONTEXT_FULL, True
                else:
                    prompts[f"bfcl/{d.entry.id}/t{d.turn}/s{d.step}"] = prompt
            done = self._generate(prompts)
            for d in active:
                if not d.done:
                    self._advance(d, done[f"bfcl/{d.entry.id}/t{d.turn}/s{d.step}"]["text"])
        rows = []
        for d in dialogues:
            if d.status == SKIPPED:
                rows.append(_row(d.entry, False, SKIPPED, "", SKIPPED))
                continue
            decoded = d.decoded + [[] for _ in range(len(d.entry.turns) - len(d.decoded))]
            valid, error = checkers.multi_turn_valid(decoded, d.entry.answer, d.entry.raw, self.prefix + "_check")
            rows.append(_row(d.entry, valid, error, json.dumps(decoded), d.status, d.unparseable))
        return rows

    def _advance(self, d: _Dialogue, text: str) -> None:
        """Take the model's message: run its calls and ask again, or end the turn."""
        parsed = parse_completion(text)
        d.unparseable |= decode.unparseable(parsed.calls)
        allowed = {f["name"] for f in d.entry.functions}
        wellformed = decode.wellformed(parsed.calls)
        if not wellformed:
            d.history.append({"role": "assistant", "content": parsed.text})
            d.next_turn()
            return
        strings = [decode.call_string(c.name, c.arguments, allowed) for c in wellformed]
        runnable = [s for s in strings if s is not None]
        results = iter(checkers.execute(runnable, d.entry.raw, self.prefix) if runnable else [])
        d.decoded[d.turn].append(runnable)
        d.history.append({"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in wellformed]})
        for c, s in zip(wellformed, strings, strict=True):
            result = next(results) if s is not None else f"Error: {c.name} is not a function of this environment"
            d.history.append({"role": "tool", "name": c.name, "content": result})
        d.step += 1
        if d.step >= self.max_steps:
            d.next_turn()

    def run(self, entries: list[Entry]) -> list[dict[str, Any]]:
        """Scored rows of `entries`, in their order: every single-turn entry in one batch (so the
        engine stays full across categories), then the multi-turn rounds."""
        rows = self.single_turn([e for e in entries if e.category != MULTI_TURN])
        rows += self.multi_turn([e for e in entries if e.category == MULTI_TURN])
        by_key = {(r["category"], r["id"]): r for r in rows}
        return [by_key[(e.category, e.id)] for e in entries]


def _row(entry: Entry, valid: bool, error: str, prediction: str, status: str, unparseable: bool = False) -> dict[str, Any]:
    return {"id": entry.id, "category": entry.category, "valid": valid, "error_type": error,
            "prediction": prediction, "status": status, "unparseable": unparseable}


def summarize(rows: list[dict[str, Any]], categories: list[str]) -> dict[str, Any]:
    """Per category: accuracy over all entries (skipped ones wrong), the share skipped, the
    unparseable answers; overall: the unweighted mean of the categories' accuracies."""
    per: dict[str, Any] = {}
    for category in categories:
        mine = [r for r in rows if r["category"] == category]
        statuses = Counter(r["status"] for r in mine)
        n = len(mine)
        per[category] = {
            "entries": n, "correct": sum(r["valid"] for r in mine),
            "accuracy": round(sum(r["valid"] for r in mine) / n, 4) if n else None,
            "skipped_too_long": statuses[SKIPPED], "skipped_share": round(statuses[SKIPPED] / n, 4) if n else None,
            "context_full": statuses[CONTEXT_FULL], "unparseable": sum(r["unparseable"] for r in mine),
        }
    scored = [v["accuracy"] for v in per.values() if v["accuracy"] is not None]
    return {"categories": per, "overall": round(sum(scored) / len(scored), 4) if scored else None,
            "entries": sum(v["entries"] for v in per.values())}
