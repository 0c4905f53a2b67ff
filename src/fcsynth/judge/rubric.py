"""The judge's JSON-schema-constrained answer over the rubric dimensions (fcsynth.rows)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from fcsynth.constraints.bounds import ascii_text, compact
from fcsynth.constraints.budget import fit_schema
from fcsynth.rows import DIMENSIONS

Score = Literal[1, 2, 3, 4, 5]


# One integer 1-5 per rubric dimension (field order = DIMENSIONS).
Scores = create_model(
    "Scores", __config__=ConfigDict(extra="forbid"), **{d: (Score, ...) for d in DIMENSIONS}
)


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


def read_answer(text: str) -> JudgeAnswer:
    """The judge's answer in a completion (ValueError when it is not one)."""
    try:
        return JudgeAnswer.model_validate(json.loads(text))
    except TypeError as err:
        raise ValueError(str(err)) from None


def parse_answer(text: str) -> JudgeAnswer | None:
    """The parsed answer, or None when the text is not a valid answer."""
    try:
        return read_answer(text)
    except ValueError:
        return None
