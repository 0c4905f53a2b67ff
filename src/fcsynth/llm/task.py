"""An LLM stage declared once (the idea of distilabel's `Task`): what it reads, asks and writes.

`LLMTask` declares:

- `stage`: its name (checkpoint folder, metrics file); `inputs`: the input columns it reads
  (its script checks them with `read_rows`); `template`: its prompt file in prompts/.
- `schema()`: its output table (Polars schema; `write_rows` refuses a row off it).
- `request(ctx, row)`: the Request of one input row (its id is the row's), or None.
- `parse(text)`: the answer in a completion (ValueError when it is not one).
- `run(ctx, rows)`: the output rows and the StageMetrics.

`RowTask` is the LLMTask whose `run` is the shared loop: one request per input row, all in
one checkpointed batch (`run_requests`), each completion parsed (`parse_completion`), one
output row per input row (`output`), the metrics counted. A task whose requests depend on
its own answers (scenarios' dedup rounds) writes its own `run` over `answers`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from fcsynth.checkpoint import Checkpoint
from fcsynth.llm.base import Request
from fcsynth.llm.context import StageContext
from fcsynth.metrics import StageMetrics
from fcsynth.paths import PROMPTS_DIR
from fcsynth.prompts import render
from fcsynth.rows import OK, PARSE_FAILURES, UPSTREAM_FAILED
from fcsynth.runner import parse_completion, run_requests, token_totals
from fcsynth.waste import token_use


@dataclass(frozen=True)
class Answer:
    """One completion parsed: its value (None unless the status is ok), status and reason,
    and the checkpoint row it came from (text, finish_reason, token counts)."""

    value: Any
    status: str
    reason: str | None
    raw: dict[str, Any]

    @property
    def text(self) -> str:
        return self.raw["text"]


class LLMTask(ABC):
    """An LLM stage: what it reads, the request of a row, the answer's parser, what it writes."""

    stage: ClassVar[str]
    inputs: ClassVar[tuple[str, ...]]
    template: ClassVar[str]
    prompts_dir: Path = PROMPTS_DIR

    @classmethod
    @abstractmethod
    def schema(cls) -> dict[str, Any]:
        """Polars schema of the output table."""

    @abstractmethod
    def request(self, ctx: StageContext, row: dict[str, Any]) -> Request | None:
        """The request of one input row (its id is the row's), or None when none is sent."""

    @abstractmethod
    def parse(self, text: str) -> Any:
        """The answer in a completion's text; ValueError when it is not one."""

    @abstractmethod
    def run(self, ctx: StageContext, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], StageMetrics]:
        """The output rows of `rows` and the stage's metrics."""

    def prompt(self, **variables: Any) -> str:
        """The task's template rendered with `variables`."""
        return render(self.template, self.prompts_dir, **variables)

    def answers(self, ctx: StageContext, requests: list[Request], checkpoint: Checkpoint) -> dict[str, Answer]:
        """Every request answered (checkpointed rows reused, the rest in one batch) and parsed, by id."""
        raw = run_requests(requests, checkpoint, ctx.get_backend)
        return {i: Answer(*parse_completion(r["text"], r["finish_reason"], self.parse), r) for i, r in raw.items()}


class RowTask(LLMTask):
    """An LLMTask with one request (or none) and one output row (or none) per input row."""

    status_key: ClassVar[str] = "status"  # the output rows' status column
    reasons: ClassVar[tuple[str, ...]] = PARSE_FAILURES  # listed in the metrics even when zero

    @abstractmethod
    def output(self, ctx: StageContext, row: dict[str, Any], answer: Answer | None) -> dict[str, Any] | None:
        """The output row of an input row (`answer` None: no request was sent), or None to drop
        the row (counted as upstream_failed)."""

    def prepare(self, ctx: StageContext, row: dict[str, Any]) -> dict[str, Any]:
        """The input row as `request` and `output` see it (default: as read)."""
        return row

    def extra(self, ctx: StageContext, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """The stage's own figures in its metrics, from its output rows."""
        return {}

    def run(self, ctx: StageContext, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], StageMetrics]:
        """Every row's request in one checkpointed batch, each answer parsed, the output rows and metrics."""
        metrics = StageMetrics(self.stage, records_in=len(rows))
        prepared = [self.prepare(ctx, row) for row in rows]
        requests = [r for r in (self.request(ctx, row) for row in prepared) if r is not None]
        answers = self.answers(ctx, requests, ctx.checkpoint(self.stage))
        out = [o for o in (self.output(ctx, row, answers.get(row["id"])) for row in prepared) if o is not None]
        if len(out) < len(rows):
            metrics.reject(UPSTREAM_FAILED, len(rows) - len(out))
        metrics.count(out, status_key=self.status_key, reasons=self.reasons)
        generated = [a.raw for a in answers.values()]
        metrics.tokens = token_totals(generated)
        metrics.tokens.update(token_use(generated, [r["id"] for r in out if r[self.status_key] == OK]))
        metrics.extra.update(self.extra(ctx, out))
        return out, metrics
