"""The rule checks a new simulated turn must pass: curate's own checks and limits, turn by turn."""

from __future__ import annotations

from typing import Any

from fcsynth.config import CurateConfig
from fcsynth.dml.render import dump_json
from fcsynth.quality.degenerate import conversation_texts, markup_fragments, repeated_ngram_share
from fcsynth.quality.placeholders import placeholders
from fcsynth.quality.repeats import repeated_calls
from fcsynth.simulation.state import ASSISTANT, TOOL, USER, Conversation


def response_placeholders(conv: Conversation, name: str, response: Any, cur: CurateConfig) -> list[str]:
    """Placeholder values in tool `name`'s simulated response, past curate's limit (none when off)."""
    limit = cur.max_placeholder_values
    if limit is None:
        return []
    _, found = placeholders(conv.id, [{"role": TOOL, "name": name, "content": dump_json(response)}], conv.schemas,
                            cur.example_similarity)
    return found if len(found) > limit else []


def turn_problems(conv: Conversation, candidate: dict[str, Any], cur: CurateConfig) -> list[str]:
    """The rule checks a new user or assistant turn fails (curate's checks and limits)."""
    if "calls" in candidate:
        message = {"role": ASSISTANT, "content": "", "tool_calls": [
            {"id": f"check_{i}", "type": "function", "function": c} for i, c in enumerate(candidate["calls"])]}
    else:
        message = {"role": USER if "user" in candidate else ASSISTANT, "content": candidate["text"]}
    problems = []
    if message["content"]:
        texts = [message["content"]]
        # curate measures repeats over the whole conversation's text, so the turn is measured with it
        if repeated_ngram_share([*conversation_texts(conv.messages), *texts], cur.ngram_size) > cur.max_repeated_ngram_share:
            problems.append("degenerate_text")
        asked = "\n".join([conv.blueprint["scenario"], *(m["content"] for m in conv.messages if m["role"] == USER)])
        if cur.reject_markup and markup_fragments(texts, asked):
            problems.append("markup")
    _, found = placeholders(conv.id, [message], conv.schemas, cur.example_similarity)
    if cur.max_placeholder_values is not None and len(found) > cur.max_placeholder_values:
        problems.append("placeholder: " + found[0])
    if message.get("tool_calls") and cur.max_repeated_calls is not None:
        _, before = repeated_calls(conv.messages)
        _, after = repeated_calls([*conv.messages, message])
        if len(after) > len(before) and len(after) > cur.max_repeated_calls:
            problems.append("repeated_call: " + after[-1])
    return problems
