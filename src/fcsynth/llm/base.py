"""The LLM layer's one interface: a batch of requests in, completions out as they finish."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from fcsynth.config import SamplingConfig


def derive_seed(global_seed: int, record_id: str) -> int:
    """A per-request seed that depends only on the global seed and the record id."""
    digest = hashlib.sha256(f"{global_seed}:{record_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class Request:
    """One generation: chat messages (or a raw prompt), its own sampling and constraint.

    `constraint` is an outlines output type (`outlines.types.CFG`, `JsonSchema`, `Regex`,
    a pydantic model) or None for free text.
    """

    id: str
    sampling: SamplingConfig
    seed: int
    messages: list[dict[str, Any]] | None = None
    prompt: str | None = None
    constraint: Any = None
    stop: list[str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError(f"request {self.id}: give exactly one of messages or prompt")


ERROR_FINISH = "error"  # the engine refused the request; Completion.text holds why


@dataclass(frozen=True)
class Completion:
    """What came back for one request."""

    id: str
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" | "length" | ERROR_FINISH
    cached_tokens: int = 0  # prompt tokens served from the engine's prefix cache


class RequestFeed:
    """Requests handed to a streaming backend while it runs: whoever consumes `generate`
    pushes follow-up requests between completions, and the backend takes them into the
    running batch at its next step (a simulated conversation's next turn joins at once)."""

    def __init__(self, requests: Iterable[Request] = ()) -> None:
        self._queue: deque[Request] = deque(requests)

    def push(self, request: Request) -> None:
        self._queue.append(request)

    def take(self) -> list[Request]:
        """Every request pushed so far (and not taken yet)."""
        out = list(self._queue)
        self._queue.clear()
        return out

    def __bool__(self) -> bool:
        return bool(self._queue)


class Backend(Protocol):
    """An LLM backend: continuous batching over all requests it is handed."""

    def generate(self, requests: Iterable[Request]) -> Iterator[Completion]:
        """Yield one completion per request, in the order they finish."""
        ...

    def close(self) -> None:
        """Free the engine."""
        ...
