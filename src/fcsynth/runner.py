"""The LLM stages' one contract: build a request, run the batch with checkpoints, parse.

- `make_request`: (id, prompt, constraint, sampling, budget, seed) -> Request.
- `run_requests`: every request's raw row ({id, text, finish_reason, tokens}); a
  checkpointed row is reused only when it was made by the very same request (same prompt,
  constraint, sampling and seed: its `request_key`), so changed params, templates or
  inputs regenerate exactly the rows they affect.
- `stream_requests`: the same checkpointed rows, for requests whose follow-ups depend on
  their answers (the simulation's turns): each finished row's follow-ups join the running
  batch at once on a streaming backend.
- `parse_completion`: a raw row's text -> (value, status, reason), statuses from
  fcsynth.rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fcsynth.checkpoint import Checkpoint, fingerprint
from fcsynth.config import SamplingConfig
from fcsynth.errors import FcsynthError
from fcsynth.llm import Backend, Completion, Request
from fcsynth.llm.base import ERROR_FINISH, RequestFeed
from fcsynth.llm.constraints import structured_output_kwargs
from fcsynth.rows import ENGINE_ERROR, OK, TRUNCATED, UNPARSEABLE

RowBuilder = Callable[[Request, Completion], dict[str, Any]]
T = TypeVar("T")
# Checkpoints written before the stages shared one row shape kept the text under these.
_LEGACY_TEXT_KEYS = ("raw", "dml")


def make_request(
    request_id: str,
    prompt: str | list[dict[str, Any]],
    constraint: Any,
    sampling: SamplingConfig,
    budget: int,
    seed: int,
    *,
    raw_prompt: bool = False,
    metadata: dict[str, Any] | None = None,
) -> Request:
    """The request of one record: `prompt` as the user message (a list: the chat messages;
    `raw_prompt`: a rendered prompt sent as is), `budget` as its max_tokens."""
    if raw_prompt:
        where: dict[str, Any] = {"prompt": prompt}
    else:
        where = {"messages": [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt}
    return Request(
        id=request_id, sampling=sampling.model_copy(update={"max_tokens": budget}), seed=seed,
        constraint=constraint, metadata=metadata or {}, **where,
    )


def parse_completion(text: str, finish_reason: str, parse: Callable[[str], T]) -> tuple[T | None, str, str | None]:
    """(value, status, reason) of one completion; `parse` raises ValueError on a bad answer.

    A bad answer is a status with its reason, never a crash.
    """
    if finish_reason == "length":
        return None, TRUNCATED, "max_tokens reached before the answer ended"
    if finish_reason == ERROR_FINISH:
        return None, ENGINE_ERROR, text
    try:
        return parse(text), OK, None
    except ValueError as err:
        lines = str(err).strip().splitlines()
        return None, UNPARSEABLE, (lines[0] if lines else type(err).__name__)[:300]


def request_key(request: Request) -> str:
    """Fingerprint of everything that determines a request's completion."""
    return fingerprint(
        request.messages, request.prompt, structured_output_kwargs(request.constraint),
        request.sampling.model_dump(), request.seed, request.stop,
    )


def raw_row(request: Request, completion: Completion) -> dict[str, Any]:
    """The checkpoint row of every stage: the completion's text and finish reason."""
    return {"id": request.id, "text": completion.text, "finish_reason": completion.finish_reason}


def _with_text(row: dict[str, Any]) -> dict[str, Any]:
    if "text" in row:
        return row
    legacy = next((k for k in _LEGACY_TEXT_KEYS if k in row), None)
    return {**row, "text": row[legacy]} if legacy else row


def pending(requests: list[Request], checkpoint: Checkpoint) -> list[str]:
    """Ids of the requests that have no checkpointed row made by the same request."""
    return [r.id for r in requests if checkpoint.rows.get(r.id, {}).get("request_key") != request_key(r)]


def run_requests(
    requests: list[Request],
    checkpoint: Checkpoint,
    backend_factory: Callable[[], Backend],
    to_row: RowBuilder = raw_row,
) -> dict[str, dict[str, Any]]:
    """Rows for every request: checkpointed ones as stored, the rest generated in one batch.

    The backend is only built when something is missing, so a finished stage that is
    rerun (or resumed after its last row) never loads the engine.
    """
    keys = {r.id: request_key(r) for r in requests}
    by_id = {r.id: r for r in requests}
    missing = pending(requests, checkpoint)
    if missing:
        backend = backend_factory()
        for completion in backend.generate(by_id[i] for i in missing):
            checkpoint.add(_checkpoint_row(by_id[completion.id], completion, keys[completion.id], to_row))
        lost = [i for i in missing if checkpoint.rows.get(i, {}).get("request_key") != keys[i]]
        if lost:
            raise FcsynthError(f"the backend returned no completion for {len(lost)} request(s), e.g. {lost[0]}")
    return {i: _with_text(checkpoint.rows[i]) for i in by_id}


def _checkpoint_row(request: Request, completion: Completion, key: str, to_row: RowBuilder = raw_row) -> dict[str, Any]:
    row = to_row(request, completion)
    row.update(
        request_key=key,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        cached_tokens=completion.cached_tokens,
    )
    return row


def stream_requests(
    requests: list[Request],
    checkpoint: Checkpoint,
    backend_factory: Callable[[], Backend],
    follow_up: Callable[[Request, dict[str, Any]], list[Request]],
) -> None:
    """Run `requests` and, for each finished one, the requests `follow_up(request, row)`
    returns, until none is left. A request checkpointed by the very same request is answered
    from the checkpoint at once; the rest stream through one `generate` call of a backend
    built on first need (backends that take a RequestFeed add follow-ups to the running batch)."""
    feed = RequestFeed()
    waiting: dict[str, tuple[Request, str]] = {}
    ready: list[tuple[Request, dict[str, Any]]] = []

    def submit(new: list[Request]) -> None:
        for r in new:
            key = request_key(r)
            row = checkpoint.rows.get(r.id)
            if row is not None and row.get("request_key") == key:
                ready.append((r, _with_text(row)))
            else:
                waiting[r.id] = (r, key)
                feed.push(r)

    def answer_ready() -> None:
        while ready:
            submit(follow_up(*ready.pop(0)))

    submit(requests)
    answer_ready()
    if not feed:
        return
    for completion in backend_factory().generate(feed):
        request, key = waiting.pop(completion.id)
        row = _checkpoint_row(request, completion, key)
        checkpoint.add(row)
        submit(follow_up(request, _with_text(row)))
        answer_ready()
    if waiting:
        raise FcsynthError(f"the backend returned no completion for {len(waiting)} request(s), e.g. {next(iter(waiting))}")


def token_totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Token counts of a stage from its rows (checkpointed rows included); `cached_prompt_tokens`
    are the prompt tokens the engine's prefix cache served (0 where a backend does not say)."""
    return {
        "requests": len(rows),
        "prompt_tokens": sum(int(r.get("prompt_tokens") or 0) for r in rows),
        "cached_prompt_tokens": sum(int(r.get("cached_tokens") or 0) for r in rows),
        "completion_tokens": sum(int(r.get("completion_tokens") or 0) for r in rows),
    }
