"""BFCL's data as the `bfcl-eval` wheel ships it: entries, possible answers, function docs.

The files are read straight from the installed package (JSON Lines despite their `.json`
names), without importing `bfcl_eval`, whose import writes folders. A category's subset is
a seeded sample of its entries, the same for every model and run.
"""

from __future__ import annotations

import importlib.util
import json
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, get_args

from fcsynth.config import BfclCategory
from fcsynth.errors import FcsynthError

PACKAGE = "bfcl_eval"
VERSION_FILE = "BFCL_v4_{category}.json"
CATEGORIES: tuple[str, ...] = get_args(BfclCategory)
MULTI_TURN = "multi_turn_base"
IRRELEVANCE = "irrelevance"
# BFCL's function docs use Python-flavoured type names; JSON Schema's are these.
_TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": None}


@dataclass(frozen=True)
class Entry:
    """One BFCL test entry: its turns of user messages, its functions and the possible answer."""

    id: str
    category: str
    turns: list[list[dict[str, Any]]]
    functions: list[dict[str, Any]]  # BFCL's own docs (the AST checker reads these)
    answer: Any  # possible answer (AST), ground-truth call strings per turn (multi-turn), None (irrelevance)
    raw: dict[str, Any]  # the entry as BFCL stores it (the multi-turn checker reads it)

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The functions as OpenAI `tools` entries with JSON Schema types."""
        return [as_tool(f) for f in self.functions]


@cache
def data_dir() -> Path:
    """The `data/` folder of the installed bfcl-eval wheel."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FcsynthError("evaluate.bfcl: the bfcl-eval package is not installed (make setup installs it)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The objects of a BFCL data file (JSON Lines, one-line error naming the file)."""
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (OSError, ValueError) as err:
        raise FcsynthError(f"{path}: cannot read BFCL data ({err})") from None


def json_schema(node: Any) -> Any:
    """A BFCL parameter schema with JSON Schema type names (`dict` -> `object`, ...)."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    if isinstance(node.get("type"), str):
        kind = _TYPES.get(node["type"], node["type"])
        if kind is None:
            del out["type"]
        else:
            out["type"] = kind
    if isinstance(node.get("properties"), dict):
        out["properties"] = {k: json_schema(v) for k, v in node["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            out[key] = json_schema(node[key])
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(node.get(key), list):
            out[key] = [json_schema(v) for v in node[key]]
    return out


def as_tool(function: dict[str, Any]) -> dict[str, Any]:
    """A BFCL function doc as an OpenAI `tools` entry (the response schema is left out)."""
    return {"type": "function", "function": {
        "name": function["name"], "description": function.get("description", ""),
        "parameters": json_schema(function.get("parameters") or {"type": "dict", "properties": {}}),
    }}


def load(category: str) -> list[Entry]:
    """Every entry of `category`, with its possible answer."""
    from fcsynth.bfcl.apis import docs  # apis reads its docs through this module

    if category not in CATEGORIES:
        raise FcsynthError(f"evaluate.bfcl.categories: unknown category {category!r} (known: {', '.join(CATEGORIES)})")
    entries = read_jsonl(data_dir() / VERSION_FILE.format(category=category))
    answers = {} if category == IRRELEVANCE else {
        a["id"]: a["ground_truth"] for a in read_jsonl(data_dir() / "possible_answer" / VERSION_FILE.format(category=category))
    }
    out = []
    for e in entries:
        functions = e.get("function") or [f for c in e.get("involved_classes", []) for f in docs(c)]
        out.append(Entry(e["id"], category, e["question"], functions, answers.get(e["id"]), e))
    return out


def subset(entries: list[Entry], size: int | None, seed: int) -> list[Entry]:
    """A seeded sample of `size` entries (all of them for None), in BFCL's order."""
    if size is None or size >= len(entries):
        return entries
    keep = set(random.Random(f"{seed}:{entries[0].category}").sample(range(len(entries)), size))
    return [e for i, e in enumerate(entries) if i in keep]
