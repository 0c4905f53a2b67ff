"""jsonschema validator classes whose regex keywords (`pattern`, `patternProperties`, ...) search within the time limit."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from fcsynth.schema_regex.engine import PatternError, compiled, search


def _is_regex(instance: object) -> bool:
    if isinstance(instance, str):
        compiled(instance)
    return True


@functools.cache
def _format_checker(cls: type) -> jsonschema.FormatChecker:
    """`cls`'s format checker with `regex` checked by `compiled`."""
    checker = jsonschema.FormatChecker(())
    checker.checkers = dict(cls.FORMAT_CHECKER.checkers)  # type: ignore[attr-defined]
    checker.checks("regex", raises=PatternError)(_is_regex)
    return checker


def _pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "string"):
        return
    try:
        if not search(patrn, instance):
            yield ValidationError(f"{instance!r} does not match {patrn!r}")
    except PatternError as err:
        yield ValidationError(f"{err}; treated as not matching")


def _matches(pattern: str, key: str) -> bool:
    return search(pattern, key, "property name")


def _pattern_properties(validator: Any, pattern_properties: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        for k, v in instance.items():
            try:
                hit = _matches(pattern, k)
            except PatternError as err:
                yield ValidationError(f"patternProperties: {err}; treated as not valid", path=[k])
                continue
            if hit:
                yield from validator.descend(v, subschema, path=k, schema_path=pattern)


def _extras(extras: list[Any]) -> str:
    """jsonschema's wording: "'a', 'b' were" (or "'a' was")."""
    return ", ".join(repr(extra) for extra in extras) + (" was" if len(extras) == 1 else " were")


def _additional_properties(validator: Any, ap: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """jsonschema's `additionalProperties`, with the patternProperties searched by `search`."""
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = set()
    for key in instance:
        if key in properties:
            continue
        try:
            if any(_matches(p, key) for p in patterns):
                continue
        except PatternError as err:
            yield ValidationError(f"patternProperties: {err}; treated as not valid", path=[key])
            continue
        extras.add(key)
    if validator.is_type(ap, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], ap, path=extra)
    elif not ap and extras:
        if patterns:
            verb = "does" if len(extras) == 1 else "do"
            joined = ", ".join(repr(each) for each in sorted(extras))
            listed = ", ".join(repr(each) for each in sorted(patterns))
            yield ValidationError(f"{joined} {verb} not match any of the regexes: {listed}")
        else:
            yield ValidationError(f"Additional properties are not allowed ({_extras(sorted(extras, key=str))} unexpected)")


def _unevaluated_properties(validator: Any, up: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """jsonschema's 2020-12 `unevaluatedProperties`, with the patternProperties searched by `search`."""
    if not validator.is_type(instance, "object"):
        return
    try:
        evaluated = _evaluated_keys(validator, instance, schema)
    except PatternError as err:
        yield ValidationError(f"patternProperties: {err}; treated as not valid")
        return
    unevaluated = []
    for key in instance:
        if key not in evaluated and next(validator.descend(instance[key], up, path=key, schema_path=key), None) is not None:
            unevaluated.append(key)
    if unevaluated:
        if up is False:
            yield ValidationError(f"Unevaluated properties are not allowed ({_extras(sorted(unevaluated, key=str))} unexpected)")
        else:
            yield ValidationError(
                f"Unevaluated properties are not valid under the given schema ({_extras(unevaluated)} unevaluated and invalid)")


def _evaluated_keys(validator: Any, instance: Any, schema: Any) -> list[str]:
    """jsonschema._utils.find_evaluated_property_keys_by_schema (4.26) with patternProperties
    searched by `search` (a PatternError propagates), and 2019-09's `$recursiveRef`."""
    if validator.is_type(schema, "boolean"):
        return []
    keys: list[str] = []
    for keyword in ("$ref", "$dynamicRef", "$recursiveRef"):
        ref = schema.get(keyword)
        if ref is None:
            continue
        if keyword == "$recursiveRef":
            from jsonschema._legacy_keywords import lookup_recursive_ref

            resolved = lookup_recursive_ref(validator._resolver)
        else:
            resolved = validator._resolver.lookup(ref)
        sub = validator.evolve(schema=resolved.contents, _resolver=resolved.resolver)
        keys += _evaluated_keys(sub, instance, resolved.contents)
    properties = schema.get("properties")
    if validator.is_type(properties, "object"):
        keys += properties.keys() & instance.keys()
    for keyword in ("additionalProperties", "unevaluatedProperties"):
        if (subschema := schema.get(keyword)) is not None:
            keys += (k for k, v in instance.items() if next(validator.descend(v, subschema), None) is None)
    for pattern in schema.get("patternProperties", {}):
        keys += (k for k in instance if _matches(pattern, k))
    for key, subschema in schema.get("dependentSchemas", {}).items():
        if key in instance:
            keys += _evaluated_keys(validator, instance, subschema)
    for keyword in ("allOf", "oneOf", "anyOf"):
        for subschema in schema.get(keyword, []):
            if next(validator.descend(instance, subschema), None) is None:
                keys += _evaluated_keys(validator, instance, subschema)
    if "if" in schema:
        if validator.evolve(schema=schema["if"]).is_valid(instance):
            keys += _evaluated_keys(validator, instance, schema["if"])
            if "then" in schema:
                keys += _evaluated_keys(validator, instance, schema["then"])
        elif "else" in schema:
            keys += _evaluated_keys(validator, instance, schema["else"])
    return keys


_KEYWORDS = {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
    "unevaluatedProperties": _unevaluated_properties,
}


@functools.cache
def bounded(cls: type) -> type:
    """The jsonschema validator class `cls` with its regex keywords run by `search` and the
    `regex` format checked by `compiled` (its FORMAT_CHECKER)."""
    keywords = {name: fn for name, fn in _KEYWORDS.items() if name in cls.VALIDATORS}  # type: ignore[attr-defined]
    return jsonschema.validators.extend(cls, keywords, format_checker=_format_checker(cls))


def validator_for(schema: Any, default: type = jsonschema.Draft202012Validator) -> Any:
    """The bounded validator class for `schema` (its `$schema`, else `default`)."""
    return bounded(jsonschema.validators.validator_for(schema, default=default))


def check_schema(cls: Any, schema: Any) -> None:
    """`cls.check_schema(schema)` with the schema's regexes checked by `compiled`
    (jsonschema.SchemaError; its `cause` says why a regex is refused)."""
    cls.check_schema(schema, format_checker=_format_checker(cls))
