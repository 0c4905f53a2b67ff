"""Identifier-like arguments and the values known at a point of a conversation.

An argument is *identifier-like* when it is a string (or an array of strings) without
enum/const and any of:
- its `format` is email, idn-email, uri, uri-reference, url, uuid, hostname, ipv4 or ipv6;
- its name ends in id, ids, gid, uid, key, token, code, ref, sku, uuid, hash, email(s), url, uri or
  link (snake, kebab or camel case: `event_id`, `fileId`, `attendee_emails`);
- its description starts with "ID", "The ID", "Unique identifier", or says "ID of",
  "identifier of" or "email address".

Such a value must already appear in the conversation: said by the user or returned by a
tool (`known_values`). Free text (a body, a title) stays free.
"""

from __future__ import annotations

import json
import re
from typing import Any

ID_FORMATS = frozenset({"email", "idn-email", "uri", "uri-reference", "url", "uuid", "hostname", "ipv4", "ipv6"})
_ID_NAME = re.compile(
    r"(?:^|[_\-.])(?:id|ids|gid|uid|key|token|code|ref|sku|uuid|hash|email|emails|url|uri|link)$"
    r"|[a-z0-9](?:Id|ID|Ids|IDs|Gid|Key|Token|Email|Emails|Url|URL|Uri)$",
)
_ID_DESCRIPTION = re.compile(
    r"^\s*(?:the\s+)?(?:unique\s+)?(?:id|ids|identifier)\b|\b(?:id|identifier)s? of\b|\bemail address(?:es)?\b", re.IGNORECASE)
# Tokens in a user message that are ids, emails or links (a value the user gave).
_USER_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@/:+\-]*[A-Za-z0-9]")
# What a grammar string may hold verbatim (fcsynth.constraints.bounds.ASCII_JSON_PATTERN).
_GRAMMAR_SAFE = re.compile(r"^[ !#-\[\]-~]+$")


def _string_like(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    kinds = {kind} if isinstance(kind, str) else set(kind or [])
    return ("string" in kinds or (not kinds and "format" in schema)) and not ({"enum", "const"} & schema.keys())


def is_identifier(name: str, schema: Any) -> bool:
    """True when the argument `name` with `schema` must take a value seen earlier."""
    if not isinstance(schema, dict):
        return False
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return is_identifier(name, {"description": schema.get("description", ""), **schema["items"]})
    if not _string_like(schema):
        return False
    return (
        schema.get("format") in ID_FORMATS
        or bool(_ID_NAME.search(name))
        or bool(_ID_DESCRIPTION.search(str(schema.get("description") or "")))
    )


def identifier_arguments(parameters: Any) -> dict[str, dict[str, Any]]:
    """name -> schema of the identifier-like properties of an arguments schema (nested
    objects included, keyed by their own property name)."""
    out: dict[str, dict[str, Any]] = {}

    def walk(schema: Any, depth: int) -> None:
        if not isinstance(schema, dict) or depth > 4:
            return
        for name, sub in (schema.get("properties") or {}).items():
            if is_identifier(name, sub):
                out.setdefault(name, sub)
            elif isinstance(sub, dict):
                walk(sub, depth + 1)
                if isinstance(sub.get("items"), dict):
                    walk(sub["items"], depth + 1)

    walk(parameters, 0)
    return out


def _leaves(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _leaves(v)]
    if isinstance(value, list):
        return [s for v in value for s in _leaves(v)]
    return []


def known_values(messages: list[dict[str, Any]], max_chars: int) -> list[str]:
    """Values an identifier argument may take after `messages`: id-like tokens the user
    typed and every string a tool returned, most recent first, each once."""
    found: list[str] = []
    for m in messages:
        if m["role"] == "user":
            found += [t for t in _USER_TOKEN.findall(m.get("content") or "") if _looks_like_id(t)]
        elif m["role"] == "tool":
            try:
                found += _leaves(json.loads(m.get("content") or "null"))
            except json.JSONDecodeError:
                continue
    seen: set[str] = set()
    out = []
    for value in reversed(found):
        if value not in seen and 0 < len(value) <= max_chars and _GRAMMAR_SAFE.fullmatch(value):
            seen.add(value)
            out.append(value)
    return out


def _looks_like_id(token: str) -> bool:
    """A token with a digit, '@', '/', '-' or '_' in it: not an ordinary word."""
    return len(token) >= 3 and any(c.isdigit() or c in "@/_-" for c in token)
