"""The plan of one conversation, drawn by the blueprints stage (seeded per scenario).

A plan is a list of user turns, each with a kind:
- `task`: the user asks for something the tools do; the assistant makes at least `steps`
  call steps before it answers. `parallel`: its first step makes `calls` calls at once
  (drawn from `parallel_calls`; the user asks for that many things); with `fan`
  ({"argument", "values"}, drawn by the blueprints stage over the conversation's tools) the
  user lists that many values of one identifier argument and the step calls one tool once per
  value (BFCL's `parallel`). `error`: the first call of its first step returns an error object and
  the next step calls again (the recovery).
- `missing`: the user asks for a task but leaves out a fact the call needs (`withheld`);
  the assistant answers in text (it asks), and the next turn, a task, gives the fact.
- `no_tool`: the user asks for something no tool can do; the assistant answers in text.
  It is a turn of its own, added to the task turns: the opening one or at any place.

`reveal` lists the facts (identifier values the user knows) the user states in that turn:
all in the first turn at clarity `excellent`, spread over the first half at `good`, over
turns after the first at `average`.
"""

from __future__ import annotations

import random
from typing import Any

from fcsynth.catalog.identifiers import identifier_arguments, is_identifier, known_values
from fcsynth.constraints.example_values import FACT_VOCABULARY, example_string, string_kind
from fcsynth.dml.validate import argument_errors
from fcsynth.tools import Tool

FEATURES = ("parallel_calls", "tool_error", "missing_argument", "no_tool_request")
MAX_FACTS = 6
FACT_ATTEMPTS = 8  # seeds tried for a value the user can be seen to give


def _identifier_schemas(tools: list[Tool]) -> dict[str, list[dict[str, Any]]]:
    """name -> the (item) schemas of the identifier-like arguments of that name in `tools`."""
    schemas: dict[str, list[dict[str, Any]]] = {}
    for tool in tools:
        for name, schema in identifier_arguments(tool.parameters).items():
            schemas.setdefault(name, []).append(schema.get("items", schema) if schema.get("type") == "array" else schema)
    return schemas


def _fact_value(seed: str, name: str, schemas: list[dict[str, Any]]) -> str | None:
    """A made-up value for `name` (`.test` domains, random ids, from words the prompt example
    never uses) that satisfies every schema using that name and that the simulation takes for
    a value the user gave once said (`known_values`: an id of letters only is not), or None."""
    kind = string_kind(schemas[0], name)
    for attempt in range(FACT_ATTEMPTS):
        value = example_string(seed if not attempt else f"{seed}#{attempt}", name, kind if kind != "text" else "id", FACT_VOCABULARY)
        if known_values([{"role": "user", "content": f"{value}."}], len(value)) == [value]:
            return value if all(not argument_errors(s, value) for s in schemas) else None
    return None


def draw_facts(key: str, tools: list[Tool]) -> dict[str, str]:
    """name -> value of the identifier-like arguments of `tools` the user knows."""
    schemas = _identifier_schemas(tools)
    facts: dict[str, str] = {}
    for name in sorted(schemas):
        if (value := _fact_value(f"fact|{key}", name, schemas[name])) is not None:
            facts[name] = value
        if len(facts) == MAX_FACTS:
            break
    return facts


def draw_fan(key: str, tools: list[Tool], n: int, rng: random.Random) -> dict[str, Any] | None:
    """The argument a one-tool parallel step fans out over and the `n` values the user lists
    for it ({"argument", "values"}): a top-level string identifier of one of `tools`, taken
    from a tool with no other required identifier where there is one (its calls then need
    no other value); None when no tool has such an argument or no `n` distinct values fit."""
    alone: set[str] = set()
    anywhere: set[str] = set()
    for tool in tools:
        props = tool.parameters.get("properties") or {}
        names = {k for k, v in props.items() if is_identifier(k, v) and v.get("type") != "array"}
        anywhere |= names
        required_ids = {k for k in tool.parameters.get("required") or [] if is_identifier(k, props.get(k))}
        alone |= {k for k in names if required_ids <= {k}}
    schemas = _identifier_schemas(tools)
    for pool in (sorted(alone), sorted(anywhere - alone)):
        rng.shuffle(pool)
        for name in pool:
            values = list(dict.fromkeys(v for k in range(4 * n) if (v := _fact_value(f"fan|{key}|{k}", name, schemas[name]))))
            if len(values) >= n:
                return {"argument": name, "values": values[:n]}
    return None


def draw_turns(
    rng: random.Random, n_turns: int, features: dict[str, bool], steps: tuple[int, int], facts: list[str], clarity: str,
    no_tool_opening: float, parallel_calls: tuple[int, int],
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The turns of a conversation and, per planned feature that does not fit, why.
    `n_turns` task turns; a planned no-tool request is one more turn: the first with odds
    `no_tool_opening` (a model must also learn to answer an opening request in text), else
    at any place. A parallel turn's `calls` is drawn from `parallel_calls` (lo, hi)."""
    no_tool = bool(features.get("no_tool_request"))
    total = n_turns + no_tool
    turns: list[dict[str, Any]] = [
        {"kind": "task", "steps": rng.randint(*steps), "parallel": False, "error": False, "reveal": []}
        for _ in range(total)
    ]
    unplaced: dict[str, str] = {}
    free = list(range(total))  # turns whose kind is still open
    if no_tool:
        i = 0 if rng.random() < no_tool_opening else rng.randrange(total)
        turns[i] = {"kind": "no_tool", "reveal": []}
        free.remove(i)

    def take(candidates: list[int], feature: str) -> int | None:
        options = [i for i in candidates if i in free]
        if not options:
            unplaced[feature] = "too few user turns"
            return None
        return rng.choice(options)

    if features.get("missing_argument"):
        if not facts:
            unplaced["missing_argument"] = "no identifier argument to leave out"
        elif (i := take([i for i in range(total - 1) if i + 1 in free], "missing_argument")) is not None:
            turns[i] = {"kind": "missing", "withheld": rng.choice(facts), "reveal": []}
            free = [j for j in free if j not in (i, i + 1)]
    task_turns = [i for i, t in enumerate(turns) if t["kind"] == "task"]
    for feature, flag in (("parallel_calls", "parallel"), ("tool_error", "error")):
        if features.get(feature):
            i = take([j for j in task_turns if not turns[j][flag]], feature)
            if i is not None:
                turns[i][flag] = True
                if flag == "error":
                    turns[i]["steps"] = max(turns[i]["steps"], 2)  # the failed call, then the recovery
    _schedule_facts(rng, turns, facts, clarity)
    for t in turns:  # drawn last, so the count leaves every other draw of the plan as it was
        if t.get("parallel"):
            t["calls"] = rng.randint(*parallel_calls)
    return turns, unplaced


def _schedule_facts(rng: random.Random, turns: list[dict[str, Any]], facts: list[str], clarity: str) -> None:
    speaking = [i for i, t in enumerate(turns) if t["kind"] != "no_tool"]
    for fact in facts:
        if clarity == "excellent":
            choices = speaking[:1]
        elif clarity == "good":
            choices = speaking[: max(1, (len(speaking) + 1) // 2)]
        else:
            choices = speaking[1:] or speaking[:1]
        i = rng.choice(choices)
        if turns[i]["kind"] == "missing" and turns[i]["withheld"] == fact:
            i += 1
        turns[i]["reveal"].append(fact)
    for i, t in enumerate(turns):  # the withheld fact is said right after the question
        if t["kind"] == "missing":
            for j in range(i + 1):
                if t["withheld"] in turns[j]["reveal"]:
                    turns[j]["reveal"].remove(t["withheld"])
            if t["withheld"] not in turns[i + 1]["reveal"]:
                turns[i + 1]["reveal"].append(t["withheld"])
