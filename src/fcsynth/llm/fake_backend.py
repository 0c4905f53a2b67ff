"""A deterministic fake backend for fast unit tests (never a default).

By default it answers a JSON-schema constraint with a minimal valid instance, and a
grammar constraint with `request.metadata["fake_output"]` when the stage provides one
(e.g. the rendered example conversation). Tests can pass their own `responder`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fcsynth.llm.base import Completion, Request
from fcsynth.llm.constraints import structured_output_kwargs

Responder = Callable[[Request], str]


def minimal_instance(schema: dict[str, Any]) -> Any:
    """A small instance satisfying a simple JSON schema (enough for stage prompts)."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return minimal_instance(schema[key][0])
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: minimal_instance(props.get(k, {})) for k in schema.get("required", list(props))}
    if kind == "array":
        n = schema.get("minItems", 1)
        return [minimal_instance(schema.get("items", {})) for _ in range(n)]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "x" * max(1, schema.get("minLength", 4))


def default_responder(request: Request) -> str:
    """Answer from the constraint; free text echoes the request id."""
    if "fake_output" in request.metadata:
        return str(request.metadata["fake_output"])
    kwargs = structured_output_kwargs(request.constraint)
    if "json" in kwargs:
        return json.dumps(minimal_instance(kwargs["json"]))
    if kwargs:
        raise ValueError(
            f"fake backend: request {request.id} has a {next(iter(kwargs))} constraint "
            "and no metadata['fake_output']"
        )
    return f"fake text for {request.id}"


class FakeBackend:
    """Returns scripted text; token counts are whitespace word counts."""

    def __init__(self, responder: Responder | None = None) -> None:
        self.responder = responder or default_responder
        self.calls: list[list[str]] = []

    def generate(self, requests: Iterable[Request]) -> Iterator[Completion]:
        batch = list(requests)
        self.calls.append([r.id for r in batch])
        for request in batch:
            text = self.responder(request)
            prompt = request.prompt or json.dumps(request.messages)
            yield Completion(request.id, text, len(prompt.split()), len(text.split()), "stop")

    def close(self) -> None:
        pass
