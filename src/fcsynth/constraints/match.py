"""Check text against a Lark (llguidance) grammar with llguidance's matcher, no LLM needed."""

# This is exactly the machinery vLLM's `guidance` backend constrains decoding with, so a
# text it accepts is a text the engine could have generated under that grammar.

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import llguidance

from fcsynth.errors import FcsynthError


def _tokenizer_json() -> Path:
    """tokenizer.json of the embedded model, extracted from its GGUF once and cached."""
    from fcsynth.model_store import EMBEDDED_PACKAGE, cache_dir, find_gguf

    cache = cache_dir() / "tokenizer"
    target = cache / "tokenizer.json"
    if not target.exists():
        from transformers import AutoTokenizer

        gguf = find_gguf(EMBEDDED_PACKAGE)
        AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(cache)
    return target


@lru_cache(maxsize=4)
def check_tokenizer(tokenizer_json: str | None = None) -> llguidance.LLTokenizer:
    """An llguidance tokenizer (default: the embedded model's)."""
    return llguidance.LLTokenizer(tokenizer_json or str(_tokenizer_json()))


def grammar_error(grammar: str, tokenizer: llguidance.LLTokenizer | None = None) -> str | None:
    """None when llguidance compiles the grammar, else its error message."""
    matcher = llguidance.LLMatcher(tokenizer or check_tokenizer(), grammar, log_level=0)
    return matcher.get_error() if matcher.is_error() else None


def match_error(grammar: str, text: str, tokenizer: llguidance.LLTokenizer | None = None) -> str | None:
    """None when the grammar accepts exactly `text`, else why not."""
    tok = tokenizer or check_tokenizer()
    matcher = llguidance.LLMatcher(tok, grammar, log_level=0)
    if matcher.is_error():
        raise FcsynthError(f"grammar does not compile: {matcher.get_error()}")
    tokens = tok.tokenize_str(text)
    valid = matcher.validate_tokens(tokens)
    if valid < len(tokens):
        consumed = tok.decode_str(tokens[:valid])
        return f"rejected after {len(consumed)} chars: ...{consumed[-60:]!r}"
    if not matcher.consume_tokens(tokens) or not matcher.is_accepting():
        return "text ends before the grammar allows it to"
    return None
