"""Check a finished text against the constraint it was generated under, without an LLM.

A server that claims to constrain decoding is trusted only as far as its output checks:
JSON schemas with jsonschema, regexes with `regex` (both with the time limit of
fcsynth.schema_regex: the schema's patterns come from tool schemas), Lark grammars with
llguidance's matcher (the machinery of vLLM's `guidance` backend).
"""

from __future__ import annotations

import json
from typing import Any

from fcsynth import schema_regex


def constraint_violation(kwargs: dict[str, Any], text: str) -> str | None:
    """None when `text` satisfies the structured-output `kwargs`, else why not (one line)."""
    if "json" in kwargs:
        schema = kwargs["json"] if isinstance(kwargs["json"], dict) else json.loads(kwargs["json"])
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            return f"not JSON ({err.msg} at char {err.pos})"
        error = next(iter(schema_regex.validator_for(schema)(schema).iter_errors(value)), None)
        if error is None:
            return None
        where = "/".join(str(p) for p in error.absolute_path) or "<root>"
        return f"JSON schema: {where}: {error.message[:200]}"
    if "regex" in kwargs:
        try:
            matched = schema_regex.fullmatch(kwargs["regex"], text, "text")
        except schema_regex.PatternError as err:
            return str(err)
        return None if matched else f"does not match regex {kwargs['regex'][:80]!r}"
    if "choice" in kwargs:
        return None if text in kwargs["choice"] else f"not one of {kwargs['choice']}"
    if "grammar" in kwargs:
        from fcsynth.constraints.match import match_error

        error = match_error(kwargs["grammar"], text)
        return f"grammar: {error}" if error else None
    return None
