"""The judge's rubric dimensions and its JSON-schema-constrained answer."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fcsynth.budget import ascii_text, compact, fit_schema

DIMENSIONS: tuple[str, ...] = (
    "user_query_clarity",
    "tool_use_quality",
    "argument_grounding",
    "task_completion",
    "naturalness",
)

Score = Literal[1, 2, 3, 4, 5]


class Scores(BaseModel):
    """One integer 1-5 per rubric dimension (field order = DIMENSIONS)."""

    model_config = ConfigDict(extra="forbid")

    user_query_clarity: Score
    tool_use_quality: Score
    argument_grounding: Score
    task_completion: Score
    naturalness: Score


class JudgeAnswer(BaseModel):
    """The judge's answer: reasoning first (so the scores follow from it), then scores."""

    model_config = ConfigDict(extra="forbid")

    reasoning: str = Field(min_length=1, max_length=4000)
    scores: Scores


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline_refs(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        return {
            k: _inline_refs(v, defs)
            for k, v in node.items()
            if k != "$defs" and not (k in ("title", "description") and isinstance(v, str))
        }
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def answer_schema(max_reasoning_chars: int, max_tokens: int) -> dict[str, Any]:
    """JSON Schema of JudgeAnswer with $refs inlined (what the decoder is constrained to);
    the reasoning bound is at most `max_reasoning_chars`, less where max_tokens needs it."""

    def make(chars: dict[str, int]) -> dict[str, Any]:
        schema = JudgeAnswer.model_json_schema()
        inlined = _inline_refs(schema, schema.get("$defs", {}))
        inlined["properties"]["reasoning"] = ascii_text(1, chars["reasoning"])
        inlined["additionalProperties"] = False
        inlined["properties"]["scores"]["additionalProperties"] = False
        return inlined

    return compact(fit_schema(max_tokens, make, {"reasoning": (1, 1, max_reasoning_chars)}, "judge"))


def parse_answer(text: str) -> JudgeAnswer | None:
    """The parsed answer, or None when the text is not a valid answer."""
    try:
        return JudgeAnswer.model_validate(json.loads(text))
    except (json.JSONDecodeError, ValidationError, TypeError):
        return None
