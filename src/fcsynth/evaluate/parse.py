"""Read tool calls out of a free-form completion (Hermes `<tool_call>` JSON format).

Robust to what models really emit: special tokens (`<|im_end|>`), `<think>` blocks, code
fences, a missing `</tool_call>` (truncation), several calls or a JSON list in one block,
`parameters` instead of `arguments`, arguments as a JSON string, OpenAI-style
`{"function": {...}}`, Python-literal dicts and trailing commas. Without any `<tool_call>`
tag, an answer that is only a JSON call object (or list of them) counts as calls too.
A block whose content is not a call is kept as a malformed call: the model did try to call.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

from fcsynth.chat.calls import Call, decode_arguments

_SPECIAL = re.compile(r"<\|[^<>|]{1,40}\|>|</s>|<s>")
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|(?=<tool_call>)|\Z)", re.DOTALL)
_FENCE = re.compile(r"```[a-zA-Z]*")
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


@dataclass(frozen=True)
class Parsed:
    """What a completion says: its tool calls and its text (calls and thinking removed)."""

    calls: list[Call]
    text: str


def _loads_lenient(blob: str) -> Any:
    """JSON, else JSON without trailing commas, else a Python literal; raise ValueError."""
    try:
        return json.loads(blob)
    except json.JSONDecodeError:
        pass
    try:
        return json.loads(_TRAILING_COMMA.sub(r"\1", blob))
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(blob)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise ValueError("not JSON") from None


def _json_values(body: str) -> list[Any]:
    """Every top-level JSON value in `body` (objects/lists), scanning left to right."""
    body = _FENCE.sub("", body).strip()
    if not body:
        return []
    try:
        return [_loads_lenient(body)]
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    values, pos = [], 0
    while True:
        starts = [i for i in (body.find("{", pos), body.find("[", pos)) if i >= 0]
        if not starts:
            break
        try:
            value, end = decoder.raw_decode(body, min(starts))
        except json.JSONDecodeError:
            break
        values.append(value)
        pos = end
    if not values:
        raise ValueError("no JSON value")
    return values


def _to_call(obj: Any, raw: str) -> Call:
    if isinstance(obj, dict):
        fn = obj.get("function") if isinstance(obj.get("function"), dict) else obj
        name = fn.get("name") or fn.get("tool_name") or fn.get("tool")
        args = fn.get("arguments", fn.get("parameters", fn.get("args", {})))
        if isinstance(name, str) and name:
            return Call(name, decode_arguments(args))
    return Call("", raw.strip(), malformed=True)


def _calls_from(values: list[Any], raw: str) -> list[Call]:
    calls: list[Call] = []
    for value in values:
        items = value if isinstance(value, list) else [value]
        calls.extend(_to_call(item, raw) for item in items)
    return calls or [Call("", raw.strip(), malformed=True)]


def _looks_like_bare_calls(values: list[Any]) -> bool:
    items = [i for v in values for i in (v if isinstance(v, list) else [v])]
    return bool(items) and all(
        isinstance(i, dict) and ("name" in i or isinstance(i.get("function"), dict)) for i in items
    )


def clean(text: str) -> str:
    """Drop special tokens and thinking (an unclosed-at-start `</think>` drops what precedes)."""
    text = _SPECIAL.sub("", text)
    text = _THINK.sub("", text)
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    return text.replace("<think>", "")


def parse_completion(text: str) -> Parsed:
    """Tool calls and remaining text of a completion."""
    text = clean(text)
    calls: list[Call] = []
    blocks = list(_BLOCK.finditer(text))
    if blocks:
        for block in blocks:
            body = block.group(1)
            try:
                calls.extend(_calls_from(_json_values(body), body))
            except ValueError:
                calls.append(Call("", body.strip(), malformed=True))
        rest = _BLOCK.sub("", text).replace("</tool_call>", "")
        return Parsed(calls, rest.strip())
    stripped = _FENCE.sub("", text).strip()
    if stripped[:1] in ("{", "["):
        try:
            values = _json_values(stripped)
        except ValueError:
            values = []
        if _looks_like_bare_calls(values):
            return Parsed(_calls_from(values, stripped), "")
    return Parsed([], text.strip())
