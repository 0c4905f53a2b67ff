"""Rule-based quality checks of one conversation, each a named curate rejection reason:
placeholder values, repeated calls, argument grounding, degenerate text.

`assess` measures everything once per record; `Quality.failures` applies the thresholds
of `CurateConfig` (a limit set to null, or min_grounding 0, turns a check off; the values
are still measured and reported).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fcsynth.config import CurateConfig
from fcsynth.curate.checks.degenerate import conversation_texts, markup_fragments, repeated_ngram_share
from fcsynth.curate.checks.grounding import grounding
from fcsynth.curate.checks.placeholders import placeholders
from fcsynth.curate.checks.repeats import repeated_calls
from fcsynth.dml.validate import tool_schemas

# Rejection reasons, in the order they are checked.
QUALITY_REASONS = ("placeholder", "repeated_call", "ungrounded", "degenerate_text")
# The per-record values curate writes to data/curation.parquet (None for unparsed rows).
QUALITY_COLUMNS = (
    "tool_calls", "repeated_calls", "checked_values", "placeholder_values", "argument_values",
    "grounded_values", "grounding", "repeated_ngram_share", "markup_fragments", "quality_notes",
)
NOTES_PER_CHECK = 5  # examples kept per check in quality_notes


@dataclass
class Quality:
    """What the checks measured in one conversation."""

    tool_calls: int
    checked_values: int
    argument_values: int
    grounded_values: int
    grounding: float | None
    repeated_ngram_share: float
    placeholders: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)
    ungrounded: list[str] = field(default_factory=list)
    markup: list[str] = field(default_factory=list)

    def failures(self, cfg: CurateConfig) -> list[tuple[str, str]]:
        """(reason, detail) of every failed check, in QUALITY_REASONS order."""
        out = []
        if cfg.max_placeholder_values is not None and len(self.placeholders) > cfg.max_placeholder_values:
            out.append(("placeholder", f"{len(self.placeholders)} placeholder values: " + "; ".join(self.placeholders[:3])))
        if cfg.max_repeated_calls is not None and len(self.repeated) > cfg.max_repeated_calls:
            out.append(("repeated_call", f"{len(self.repeated)} repeated calls: " + "; ".join(self.repeated[:3])))
        if self.grounding is not None and self.grounding < cfg.min_grounding:
            out.append(("ungrounded", f"grounding {self.grounding} < {cfg.min_grounding}: " + "; ".join(self.ungrounded[:3])))
        if self.repeated_ngram_share > cfg.max_repeated_ngram_share:
            out.append(("degenerate_text", f"repeated {cfg.ngram_size}-gram share {self.repeated_ngram_share} > {cfg.max_repeated_ngram_share}"))
        elif cfg.reject_markup and self.markup:
            out.append(("degenerate_text", "; ".join(self.markup[:3])))
        return out

    def columns(self) -> dict[str, Any]:
        """The QUALITY_COLUMNS values of this record."""
        notes = {"placeholders": self.placeholders, "repeated_calls": self.repeated, "ungrounded": self.ungrounded, "markup": self.markup}
        return {
            "tool_calls": self.tool_calls, "repeated_calls": len(self.repeated), "checked_values": self.checked_values,
            "placeholder_values": len(self.placeholders), "argument_values": self.argument_values,
            "grounded_values": self.grounded_values, "grounding": self.grounding,
            "repeated_ngram_share": self.repeated_ngram_share, "markup_fragments": len(self.markup),
            "quality_notes": json.dumps({k: v[:NOTES_PER_CHECK] for k, v in notes.items() if v}, ensure_ascii=False),
        }


def assess(record: dict[str, Any], cfg: CurateConfig) -> Quality:
    """Measure one exported record (`build_record` shape: system prompt first when kept)."""
    messages = record["messages"]
    schemas = tool_schemas(record.get("tools"))
    checked, found = placeholders(record["id"], messages, schemas, cfg.example_similarity)
    calls, repeated = repeated_calls(messages)
    grounded = grounding(messages, schemas, cfg.grounding_similarity)
    texts = conversation_texts(messages)
    asked = "\n".join([record.get("scenario") or "", *(m["content"] for m in messages if m["role"] == "user" and isinstance(m.get("content"), str))])
    return Quality(
        tool_calls=calls, checked_values=checked, argument_values=grounded.values, grounded_values=grounded.grounded,
        grounding=grounded.share, repeated_ngram_share=repeated_ngram_share(texts, cfg.ngram_size),
        placeholders=found, repeated=repeated, ungrounded=grounded.ungrounded, markup=markup_fragments(texts, asked),
    )


def empty_columns() -> dict[str, Any]:
    """QUALITY_COLUMNS of a row that has no parsed conversation."""
    return dict.fromkeys(QUALITY_COLUMNS)
