"""Identifier arguments grounded in the values known so far: each an enum of the known values its schema accepts."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema

from fcsynth import schema_regex
from fcsynth.catalog.identifiers import is_identifier

MAX_CANDIDATES = 32  # known values offered per identifier argument (most recent first)


def _accepted(schema: dict[str, Any], values: list[str]) -> list[str]:
    """The `values` that satisfy `schema`, its `format` included (one validator for all; its
    regexes run with a time limit, fcsynth.schema_regex: one that runs out rejects the value)."""
    cls = schema_regex.bounded(jsonschema.Draft202012Validator)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    try:
        return [v for v in values if validator.is_valid(v)]
    except jsonschema.SchemaError:
        return []


def ground(parameters: dict[str, Any], known: list[str]) -> dict[str, Any] | None:
    """`parameters` with every identifier-like argument an enum of the `known` values its
    schema accepts; an optional one without such values is dropped; None when a required
    one has none."""
    out = copy.deepcopy(parameters)

    def walk(schema: dict[str, Any]) -> bool:
        props = schema.get("properties")
        if not isinstance(props, dict):
            return True
        required = set(schema.get("required") or [])
        for name in list(props):
            sub = props[name]
            if is_identifier(name, sub):
                item = sub["items"] if sub.get("type") == "array" else sub
                values = _accepted(item, known)[:MAX_CANDIDATES]
                if not values:
                    if name in required:
                        return False
                    del props[name]
                    continue
                grounded = {"type": "string", "enum": values}
                if sub.get("type") == "array":
                    props[name] = {**{k: v for k, v in sub.items() if k in ("type", "minItems", "maxItems")},
                                   "items": grounded}
                else:
                    props[name] = grounded
            elif isinstance(sub, dict) and (sub.get("type") == "object" or isinstance(sub.get("items"), dict)):
                nested = sub if sub.get("type") == "object" else sub["items"]
                if not walk(nested):  # a nested object, or the objects of an array
                    if name in required:
                        return False
                    del props[name]
        return True

    return out if walk(out) else None
