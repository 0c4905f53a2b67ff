"""Run a tool schema's regex on the `regex` engine: compiled once, refused past a size, each search within a time limit."""

from __future__ import annotations

import functools
import re

import regex

# Python's `re` cannot be stopped: a tool whose argument has `"pattern": "^(a|aa)+$"` and a
# value of 60 a's and a '!' backtracks for hours. Every schema regex runs on the third-party
# `regex` engine instead (the syntax of `re`, plus ECMA-262 classes such as `\p{L}`, which JSON
# Schema patterns use and `re` rejects), one compile per pattern, with PATTERN_TIMEOUT_S per
# search: a search that runs longer fails with a reason instead of hanging. `regex` writes
# counted repeats out when it compiles (`(?:a{65535}){65535}` would take gigabytes), so a
# pattern whose repeats expand past MAX_PATTERN_EXPANSION characters is refused before it is compiled.
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
