"""Run a stage's requests through one backend batch, checkpointing each finished row.

A checkpointed row is reused only when it was made by the very same request (same
prompt, constraint, sampling and seed: its `request_key`), so changed params, templates
or inputs regenerate exactly the rows they affect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fcsynth.checkpoint import Checkpoint, fingerprint
from fcsynth.errors import FcsynthError
from fcsynth.llm import Backend, Completion, Request
from fcsynth.llm.constraints import structured_output_kwargs

RowBuilder = Callable[[Request, Completion], dict[str, Any]]


def request_key(request: Request) -> str:
    """Fingerprint of everything that determines a request's completion."""
    return fingerprint(
        request.messages, request.prompt, structured_output_kwargs(request.constraint),
        request.sampling.model_dump(), request.seed, request.stop,
    )


def raw_row(request: Request, completion: Completion) -> dict[str, Any]:
    """The default checkpoint row: the completion's text and finish reason."""
    return {"id": request.id, "text": completion.text, "finish_reason": completion.finish_reason}


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
            row = to_row(by_id[completion.id], completion)
            row.update(
                request_key=keys[completion.id],
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
            )
            checkpoint.add(row)
        lost = [i for i in missing if checkpoint.rows.get(i, {}).get("request_key") != keys[i]]
        if lost:
            raise FcsynthError(f"the backend returned no completion for {len(lost)} request(s), e.g. {lost[0]}")
    return {i: checkpoint.rows[i] for i in by_id}


def token_totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Token counts of a stage from its rows (checkpointed rows included)."""
    return {
        "requests": len(rows),
        "prompt_tokens": sum(int(r.get("prompt_tokens") or 0) for r in rows),
        "completion_tokens": sum(int(r.get("completion_tokens") or 0) for r in rows),
    }
