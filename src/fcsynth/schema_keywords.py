"""JSON-Schema keyword sets and `allOf` merging, shared by the catalog importers and DML.

Pure Python (no referencing, no llguidance), so every schema walker in fcsynth agrees on
which keywords hold subschemas.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 200  # the deepest a spec, a tool schema or a call's arguments may nest (catalog import and validation)

# Keywords whose value is one schema.
SCHEMA_KEYS = frozenset(
    {"items", "additionalProperties", "additionalItems", "not", "contains", "propertyNames", "if", "then", "else",
     "unevaluatedProperties", "unevaluatedItems", "contentSchema"}
)
# Keywords whose value is a list of schemas.
SCHEMA_LIST_KEYS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
# Keywords whose value maps names to schemas (`$defs`/`definitions` only hold ref targets).
SCHEMA_MAP_KEYS = frozenset({"properties", "patternProperties", "dependentSchemas"})
DEFINITION_KEYS = frozenset({"$defs", "definitions"})
# Combinators: a node with one of these may get properties from elsewhere.
COMBINATOR_KEYS = ("allOf", "anyOf", "oneOf", "$ref")
# Annotations: no effect on validation.
ANNOTATION_KEYS = frozenset(
    {"description", "title", "examples", "example", "default", "deprecated", "readOnly", "writeOnly", "$comment"}
)
# Keywords where two allOf parts may differ and the later (outer) one simply wins.
OVERRIDABLE_KEYS = ANNOTATION_KEYS - {"example", "$comment"}


def merge_all_of(schema: dict[str, Any]) -> dict[str, Any]:
    """Merge `allOf` parts (and the keywords beside them) into one schema.

    Properties are combined (a property in several parts is merged the same way),
    `required` lists are united, annotations of later parts win. When parts conflict
    (different types, formats, enums, ...) the schema is returned unchanged: `allOf` is
    valid JSON Schema, only less convenient.
    """
    parts = schema.get("allOf")
    if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
        return schema
    rest = {k: v for k, v in schema.items() if k != "allOf"}
    merged: dict[str, Any] = {}
    for part in [*parts, rest]:
        if "allOf" in part:
            part = merge_all_of(part)
            if "allOf" in part:
                return schema
        for key, value in part.items():
            if key == "properties" and isinstance(value, dict):
                props = merged.setdefault("properties", {})
                for name, sub in value.items():
                    if name in props and props[name] != sub:
                        if not (isinstance(props[name], dict) and isinstance(sub, dict)):
                            return schema
                        props[name] = merge_all_of({"allOf": [props[name], sub]})
                    else:
                        props[name] = sub
            elif key == "required" and isinstance(value, list):
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            elif key not in merged or key in OVERRIDABLE_KEYS:
                merged[key] = value
            elif merged[key] != value:
                return schema
    if "properties" in merged and "type" not in merged:
        merged["type"] = "object"
    return merged
