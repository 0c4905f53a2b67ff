"""A deterministic fake backend for fast unit tests (never a default).

By default it answers a JSON-schema constraint with a minimal valid instance, and a
grammar constraint with `request.metadata["fake_output"]` when the stage provides one
(e.g. the rendered example conversation). Tests can pass their own `responder`.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fcsynth.llm.base import Completion, Request, RequestFeed
from fcsynth.llm.constraints import structured_output_kwargs

Responder = Callable[[Request], str]


WORDS = (
    "invoice meeting report client budget review launch draft schedule project update team "
    "quarterly contract payment reminder agenda design roadmap follow-up feedback shipment "
    "deadline proposal onboarding renewal summary"
).split()


def _words(rng: random.Random | None, min_len: int, max_len: int | None) -> str:
    """Deterministic filler text within the length bounds (varied when rng is given)."""
    if rng is None:
        return "x" * max(1, min_len or 4)
    text = " ".join(rng.choice(WORDS) for _ in range(12))
    while len(text) < min_len:
        text += " " + rng.choice(WORDS)
    return text[:max_len] if max_len else text


def minimal_instance(schema: dict[str, Any], rng: random.Random | None = None) -> Any:
    """A small instance satisfying a simple JSON schema (enough for stage prompts)."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return minimal_instance(schema[key][0], rng)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: minimal_instance(props.get(k, {}), rng) for k in schema.get("required", list(props))}
    if kind == "array":
        n = schema.get("minItems", 1)
        return [minimal_instance(schema.get("items", {}), rng) for _ in range(n)]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _words(rng, schema.get("minLength", 0), schema.get("maxLength"))


def default_responder(request: Request) -> str:
    """Answer from the constraint; free text echoes the request id."""
    if "fake_output" in request.metadata:
        return str(request.metadata["fake_output"])
    kwargs = structured_output_kwargs(request.constraint)
    if "json" in kwargs:
        return json.dumps(minimal_instance(kwargs["json"], random.Random(request.seed)))
    if kwargs:
        raise ValueError(
            f"fake backend: request {request.id} has a {next(iter(kwargs))} constraint "
            "and no metadata['fake_output']"
        )
    return f"fake text for {request.id}"


class FakeBackend:
    """Returns scripted text; token counts are whitespace word counts.

    FCSYNTH_FAKE_LATENCY_S (tests only) sleeps before each completion, so a test can kill
    a stage halfway through.
    """

    def __init__(self, responder: Responder | None = None) -> None:
        self.responder = responder or default_responder
        self.calls: list[list[str]] = []

    def generate(self, requests: Iterable[Request] | RequestFeed) -> Iterator[Completion]:
        """Completions in order; a RequestFeed is read again after each one (`calls` records
        every batch taken)."""
        feed = requests if isinstance(requests, RequestFeed) else RequestFeed(requests)
        latency = float(os.environ.get("FCSYNTH_FAKE_LATENCY_S", "0"))
        while feed:
            batch = feed.take()
            self.calls.append([r.id for r in batch])
            for request in batch:
                time.sleep(latency)
                text = self.responder(request)
                prompt = request.prompt or json.dumps(request.messages)
                yield Completion(request.id, text, len(prompt.split()), len(text.split()), "stop")

    def close(self) -> None:
        pass
