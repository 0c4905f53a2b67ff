"""Neutralize chat control tokens in text that comes from tools, users or models.

A prompt fcsynth renders offline is text that the engine tokenizes with its special
tokens recognized, so `<|im_start|>system` inside a tool description would become a real
turn boundary: prompt injection through a spec. Two layers prevent it:

- the catalog rewrites every string of an imported tool that looks like a control token
  of a common chat format (`CONTROL_TOKEN`), whatever model later reads it;
- every prompt rendered with a tokenizer first rewrites, in message contents and tools,
  each added or special token of that tokenizer (`TokenGuard`).

A token is neutralized by a zero-width space (U+200B) after its first character: the text
reads the same, and no tokenizer matches it as its special token any more.
"""

from __future__ import annotations

import re
from typing import Any

BREAK = "\u200b"

# ChatML/Llama 3/Phi `<|...|>`, DeepSeek's full-width `<｜...｜>`, Llama 2/Mistral, Gemma and
# the Hermes/Qwen tool tags that templates use to delimit turns, tools and calls.
CONTROL_TOKEN = re.compile(
    r"<\|[^\s<>|]{1,64}\|>|<｜[^\s<>｜]{1,64}｜>"
    r"|</?s>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>|\[/?(?:AVAILABLE_TOOLS|TOOL_RESULTS|TOOL_CALLS)\]"
    r"|</?(?:tool_call|tool_response|tools|think)>"
)


def neutralize(text: str, pattern: re.Pattern[str] = CONTROL_TOKEN) -> str:
    """`text` with every match of `pattern` broken by a zero-width space."""
    return pattern.sub(lambda m: m[0][0] + BREAK + m[0][1:], text)


def neutralize_all(value: Any, pattern: re.Pattern[str] = CONTROL_TOKEN) -> Any:
    """A copy of JSON-like `value` with every string (keys included) neutralized."""
    if isinstance(value, str):
        return neutralize(value, pattern)
    if isinstance(value, dict):
        return {neutralize(k, pattern) if isinstance(k, str) else k: neutralize_all(v, pattern) for k, v in value.items()}
    if isinstance(value, list):
        return [neutralize_all(v, pattern) for v in value]
    return value


class TokenGuard:
    """Neutralizes one tokenizer's added and special tokens in messages and tools."""

    def __init__(self, tokenizer: Any) -> None:
        tokens = set(getattr(tokenizer, "all_special_tokens", None) or [])
        get_added = getattr(tokenizer, "get_added_vocab", None)
        tokens |= set(get_added() if callable(get_added) else {})
        tokens = {t for t in tokens if isinstance(t, str) and len(t) > 1}
        # longest first: a token that contains another is matched whole
        self.pattern = re.compile("|".join(map(re.escape, sorted(tokens, key=len, reverse=True)))) if tokens else None

    def text(self, text: str) -> str:
        return neutralize(text, self.pattern) if self.pattern else text

    def messages(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Messages whose contents (and tool-call arguments) hold no control token."""
        return neutralize_all(messages, self.pattern) if self.pattern else messages

    def tools(self, tools: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        return neutralize_all(tools, self.pattern) if tools and self.pattern else tools
