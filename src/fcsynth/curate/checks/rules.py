"""The rule-based checks curate applies (their order: `fcsynth.curate.checks.CHECKS`). Each
measures with its module's functions and rejects past its CurateConfig limit; a limit of
null, or min_grounding 0, turns the rejection off (conf/curate/default.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fcsynth.curate.checks.base import Check, Measured
from fcsynth.dml.validate import tool_schemas
from fcsynth.quality.degenerate import conversation_texts, markup_fragments, repeated_ngram_share
from fcsynth.quality.grounding import grounding
from fcsynth.quality.placeholders import placeholders
from fcsynth.quality.repeats import repeated_calls


def _too_many(found: list[str], limit: int | None, what: str) -> str | None:
    """The detail of more than `limit` findings (None: no limit), with the first three."""
    if limit is None or len(found) <= limit:
        return None
    return f"{len(found)} {what}: " + "; ".join(found[:3])


@dataclass(frozen=True)
class PlaceholderCheck(Check):
    """Copied prompt-example values and generic placeholders."""

    name = "placeholder"
    columns = ("checked_values", "placeholder_values")
    notes_key = "placeholders"
    max_placeholder_values: int | None
    example_similarity: float

    def measure(self, record: dict[str, Any]) -> Measured:
        schemas = tool_schemas(record.get("tools"))
        checked, found = placeholders(record["id"], record["messages"], schemas, self.example_similarity)
        return Measured({"checked_values": checked, "placeholder_values": len(found)}, found)

    def reject(self, measured: Measured) -> str | None:
        return _too_many(measured.notes, self.max_placeholder_values, "placeholder values")


@dataclass(frozen=True)
class RepeatedCallCheck(Check):
    """Identical calls with nothing new in between."""

    name = "repeated_call"
    columns = ("tool_calls", "repeated_calls")
    notes_key = "repeated_calls"
    max_repeated_calls: int | None

    def measure(self, record: dict[str, Any]) -> Measured:
        calls, repeated = repeated_calls(record["messages"])
        return Measured({"tool_calls": calls, "repeated_calls": len(repeated)}, repeated)

    def reject(self, measured: Measured) -> str | None:
        return _too_many(measured.notes, self.max_repeated_calls, "repeated calls")


@dataclass(frozen=True)
class GroundingCheck(Check):
    """Free argument values not found in what came before the call."""

    name = "ungrounded"
    columns = ("argument_values", "grounded_values", "grounding")
    min_grounding: float
    grounding_similarity: float

    def measure(self, record: dict[str, Any]) -> Measured:
        g = grounding(record["messages"], tool_schemas(record.get("tools")), self.grounding_similarity)
        return Measured({"argument_values": g.values, "grounded_values": g.grounded, "grounding": g.share}, g.ungrounded)

    def reject(self, measured: Measured) -> str | None:
        share = measured.values["grounding"]
        if share is None or share >= self.min_grounding:
            return None
        return f"grounding {share} < {self.min_grounding}: " + "; ".join(measured.notes[:3])


@dataclass(frozen=True)
class DegenerateTextCheck(Check):
    """A looping model (repeated word n-grams), or markup/code nobody asked for."""

    name = "degenerate_text"
    columns = ("repeated_ngram_share", "markup_fragments")
    notes_key = "markup"
    ngram_size: int
    max_repeated_ngram_share: float
    reject_markup: bool

    def measure(self, record: dict[str, Any]) -> Measured:
        messages = record["messages"]
        texts = conversation_texts(messages)
        users = (m["content"] for m in messages if m["role"] == "user" and isinstance(m.get("content"), str))
        markup = markup_fragments(texts, "\n".join([record.get("scenario") or "", *users]))
        return Measured({"repeated_ngram_share": repeated_ngram_share(texts, self.ngram_size), "markup_fragments": len(markup)}, markup)

    def reject(self, measured: Measured) -> str | None:
        share = measured.values["repeated_ngram_share"]
        if share > self.max_repeated_ngram_share:
            return f"repeated {self.ngram_size}-gram share {share} > {self.max_repeated_ngram_share}"
        if self.reject_markup and measured.notes:
            return "; ".join(measured.notes[:3])
        return None
