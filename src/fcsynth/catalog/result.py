"""What an import returns: the tools, and every entry that did not become one, by reason."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fcsynth.tools import Tool

MAX_EXAMPLES = 5
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class ImportResult:
    """Tools out, plus counts: `skipped` (entries that did not become a tool) and `flagged`
    (tools kept after a documented fallback: renamed, trimmed, cycle cut, ...), by reason,
    with a few examples each. Invariant: `entries == len(tools) + sum(skipped.values())`.
    """

    tools: list[Tool] = field(default_factory=list)
    entries: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    flagged: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    renamed: list[dict[str, str]] = field(default_factory=list)

    def skip(self, reason: str, example: str) -> None:
        """Count one entry that did not become a tool."""
        self.skipped[reason] += 1
        self._example(reason, example)

    def flag(self, reason: str, example: str, n: int = 1) -> None:
        """Count a fallback applied to a tool (or source) that was kept."""
        self.flagged[reason] += n
        self._example(reason, example)

    def _example(self, reason: str, example: str) -> None:
        # a name from the source may hold a newline: an example stays one printable line
        example = _CONTROL.sub(lambda m: repr(m.group())[1:-1], example)
        examples = self.examples.setdefault(reason, [])
        if len(examples) < MAX_EXAMPLES and example not in examples:
            examples.append(example)

    def extend(self, other: ImportResult) -> None:
        """Add another result's tools and counts to this one."""
        self.tools.extend(other.tools)
        self.entries += other.entries
        self.skipped.update(other.skipped)
        self.flagged.update(other.flagged)
        for reason, examples in other.examples.items():
            for example in examples:
                self._example(reason, example)
        self.renamed.extend(other.renamed)

    def reason_lines(self) -> list[str]:
        """One line per skip and flag reason, with its count and first example (what
        `fcsynth import` prints under its summary)."""
        lines = []
        for title, counts in (("skipped", self.skipped), ("flagged", self.flagged)):
            for reason, n in sorted(counts.items()):
                example = self.examples.get(reason, [""])[0]
                lines.append(f"  {title} {reason}: {n}" + (f"  e.g. {example}" if example else ""))
        return lines

    def summary(self) -> dict[str, Any]:
        """JSON-ready counts (what `fcsynth import` prints and metrics/catalog.json holds)."""
        return {
            "entries": self.entries,
            "tools": len(self.tools),
            "skipped": {r: {"count": n, "examples": self.examples.get(r, [])} for r, n in sorted(self.skipped.items())},
            "flagged": {r: {"count": n, "examples": self.examples.get(r, [])} for r, n in sorted(self.flagged.items())},
        }
