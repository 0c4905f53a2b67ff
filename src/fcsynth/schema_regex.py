"""Regexes that tool schemas bring (`pattern`, `patternProperties`, the `regex` format), run
on data with a time limit.

Python's `re` cannot be stopped: a tool whose argument has `"pattern": "^(a|aa)+$"` and a
value of 60 a's and a '!' backtracks for hours. Every such regex here runs on the
third-party `regex` engine (the syntax of `re`, plus ECMA-262 classes such as `\\p{L}`,
which JSON Schema patterns use and `re` rejects), one compile per pattern, with
PATTERN_TIMEOUT_S per search: a search that runs longer fails with a reason
(`pattern '^(a|aa)+$' took over 0.1 s on a 61-char value; treated as not matching`)
instead of hanging. `regex` writes counted repeats out when it compiles
(`(?:a{65535}){65535}` would take gigabytes), so a pattern whose repeats expand past
MAX_PATTERN_EXPANSION characters is refused before it is compiled.

`validator_for` gives jsonschema validator classes whose `pattern`, `patternProperties`,
`additionalProperties` and `unevaluatedProperties` keywords search this way, and
`check_schema` checks a schema's regexes with the same engine and limits.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import regex
from jsonschema.exceptions import ValidationError

PATTERN_TIMEOUT_S = 0.1  # per search of one value
MAX_PATTERN_EXPANSION = 100_000  # characters of a pattern with its counted repeats written out
_TIMED_OUT: set[tuple[str, str, bool]] = set()  # (pattern, text, full) searches that ran out of time
_ESCAPE = re.compile(r"\\[pPNxuUg]\{[^}]*\}|\\.", re.DOTALL)
_COUNT = re.compile(r"\{(\d*)(?:,(\d*))?\}")


class PatternError(ValueError):
    """A schema regex that cannot be used: invalid, too large to compile, or too slow on a value."""


def _show(pattern: str) -> str:
    return repr(pattern if len(pattern) <= 60 else pattern[:57] + "...")


def expansion(pattern: str, limit: int = MAX_PATTERN_EXPANSION) -> int:
    """About how many characters `pattern` has with its counted repeats written out (at
    their minimum count, as `regex` compiles them); stops counting past `limit`."""
    frames = [[0, 0]]  # per open group: [its size so far, the size of its last atom]
    i, n = 0, len(pattern)
    while i < n and frames[0][0] <= limit:
        c = pattern[i]
        if c == "(":
            frames.append([0, 0])
            i += 1
            continue
        if c == "{" and (m := _COUNT.match(pattern, i)) and (m.group(1) or m.group(2)):
            frame = frames[-1]
            least = m.group(1) or "0"
            times = limit + 1 if len(least) > 9 else min(max(int(least), 1), limit + 1)
            frame[0] = min(frame[0] + frame[1] * (times - 1), limit + 1)
            frame[1] = min(frame[1] * times, limit + 1)
            i = m.end()
            continue
        if c in "*+?|^$":
            i += 1
            continue
        size = 1
        if c == "\\":
            i = _ESCAPE.match(pattern, i).end() if i + 1 < n else n  # type: ignore[union-attr]
        elif c == "[":
            i = _class_end(pattern, i)
        elif c == ")" and len(frames) > 1:
            size = frames.pop()[0]
            i += 1
        else:
            i += 1
        frames[-1][0] = min(frames[-1][0] + size, limit + 1)
        frames[-1][1] = size
    while len(frames) > 1:  # unbalanced: compiling will say so
        size = frames.pop()[0]
        frames[-1][0] = min(frames[-1][0] + size, limit + 1)
    return frames[0][0]


def _class_end(pattern: str, i: int) -> int:
    """The index after the character class opening at `i`."""
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1


@functools.lru_cache(maxsize=4096)
def compiled(pattern: str) -> regex.Pattern[str]:
    """`pattern` compiled by `regex` (once); PatternError when it is invalid or too large."""
    if expansion(pattern) > MAX_PATTERN_EXPANSION:
        raise PatternError(f"pattern {_show(pattern)} has counted repeats that expand past {MAX_PATTERN_EXPANSION:,} characters")
    try:
        return regex.compile(pattern)
    except (regex.error, ValueError, OverflowError, RecursionError) as err:
        raise PatternError(f"pattern {_show(pattern)} is not a valid regular expression: {err}") from None


def search(pattern: str, text: str, what: str = "value") -> bool:
    """Whether `pattern` matches somewhere in `text` (JSON Schema's `pattern` semantics);
    PatternError when the pattern is unusable or the search outlasts PATTERN_TIMEOUT_S."""
    return _run(pattern, text, what, full=False)


def fullmatch(pattern: str, text: str, what: str = "value") -> bool:
    """Whether `pattern` matches all of `text`; PatternError as for `search`."""
    return _run(pattern, text, what, full=True)


def _run(pattern: str, text: str, what: str, full: bool) -> bool:
    compiled_pattern = compiled(pattern)
    key = (pattern, text, full)
    try:
        if key in _TIMED_OUT:  # the same search again (another keyword, another record): fail at once
            raise TimeoutError
        if full:
            return compiled_pattern.fullmatch(text, timeout=PATTERN_TIMEOUT_S) is not None
        return compiled_pattern.search(text, timeout=PATTERN_TIMEOUT_S) is not None
    except TimeoutError:
        if len(_TIMED_OUT) >= 1024:
            _TIMED_OUT.clear()
        _TIMED_OUT.add(key)
        raise PatternError(f"pattern {_show(pattern)} took over {PATTERN_TIMEOUT_S:g} s on a {len(text):,}-char {what}") from None


# ---------------------------------------------------------------- jsonschema


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
