"""Each simulated turn's constraint and the longest output it allows (its max_tokens)."""

# - Assistant: text, or 1..n `<tool_call>` blocks in the Hermes form the assistant's
#   prompt shows (`fcsynth.chat.prompting`): tool names from the conversation, arguments
#   under the tool's schema with the configured JSON bounds (`dml.*`), identifier-like
#   arguments limited to the values known so far. A tool whose required identifier has no
#   known value is not offered.
# - User: free text; the facts planned for the turn follow its first ':' verbatim.
# - Tool environment: the tool's bounded response schema, or the error object.
#
# The bound is the proof of constraints.budget: printable-ASCII text and bounded JSON, one token
# at most per byte, plus EOS. Every tool keeps the configured JSON bounds, except one whose
# longest call or answer exceeds the turn cap (`conversations.max_tokens`) even in an empty
# context: it is narrowed to the first tighter level that fits (constraints.ladder), in every turn (calls and
# responses made so are counted as `tightened_calls`/`tightened_responses`). Where the context
# a turn's prompt leaves is smaller than the cap, a tool whose call or answer does not fit it
# is not offered in that turn (and an answer that does not fit ends the conversation): the
# bounds are never narrowed for the context.

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2

from fcsynth.config import DMLConfig
from fcsynth.constraints.bounds import max_json_bytes
from fcsynth.constraints.budget import tokens_for_bytes
from fcsynth.constraints.compile import grammar_schema
from fcsynth.constraints.grounding import ground
from fcsynth.constraints.ladder import levels
from fcsynth.constraints.narrowing import narrowed_arguments, narrowed_response
from fcsynth.constraints.schemas import any_object_schema, error_object_schema, styled
from fcsynth.errors import FcsynthError
from fcsynth.paths import GRAMMARS_DIR
from fcsynth.tools import Tool

ASSISTANT_GRAMMAR, USER_GRAMMAR = "assistant_turn.lark.j2", "user_turn.lark.j2"
CALL_HEAD = '<tool_call>\n{{"name": {name}, "arguments": '
CALL_TAIL = "}\n</tool_call>"
MAX_PARALLEL_ALTERNATIVES = 256  # tool multisets a parallel step's rule may list
# Free text: printable ASCII without '<', '`', '{' and '}', so markup, code fences and JSON
# cannot be forged (curate's markup check would reject them). Past 3/4 of its bound it may
# only go on to the end of its sentence: the bound never cuts a sentence.
_TEXT = "/[!-;=-_a-z|~][ -;=-_a-z|~\\n]{{0,{soft}}}([ \"-\\-\\/-;=>@-_a-z|~\\n]{{0,{rest}}}[.!?])?/"


@dataclass(frozen=True)
class Constraint:
    """A turn's constraint: Lark grammar or JSON schema, and its proven max_tokens."""

    lark: str | None
    schema: dict[str, Any] | None
    max_tokens: int
    tightened: bool = False
    offered: tuple[Any, ...] = ()  # assistant: the Callable tools its calls may use
    calls: tuple[int, int] = (0, 0)  # assistant: calls per step (lo, hi); (0, 0): text only


_TEMPLATES: dict[str, jinja2.Template] = {}


def _template(name: str) -> jinja2.Template:
    """A grammar template of `grammars/` (loaded once)."""
    if name not in _TEMPLATES:
        path = GRAMMARS_DIR / name
        try:
            source = path.read_text()
        except FileNotFoundError:
            raise FcsynthError(f"{path}: grammar template not found (run inside the project, or set FCSYNTH_ROOT)") from None
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
        _TEMPLATES[name] = env.from_string(source)
    return _TEMPLATES[name]


def text_terminal(max_chars: int) -> str:
    """The TEXT terminal of at most `max_chars` chars (see _TEXT)."""
    soft = max(1, max_chars * 3 // 4)
    return _TEXT.format(soft=soft - 1, rest=max(0, max_chars - soft - 1))


def _lark(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _args_schema(tool: Tool, opt: DMLConfig, known: tuple[str, ...]) -> dict[str, Any] | None:
    grounded = ground(narrowed_arguments(tool, opt), list(known))
    if grounded is None:
        return None
    args, _, _ = grammar_schema(grounded, opt.max_json_string_chars, opt.max_json_items, verify=True)
    if max_json_bytes(args) is None:
        return None
    return args


def _call_rule(i: int, tool: Tool, args: dict[str, Any]) -> tuple[list[str], int]:
    head = CALL_HEAD.format(name=json.dumps(tool.name, ensure_ascii=False))
    rules = [f"call_{i}: {_lark(head)} args_{i} {_lark(CALL_TAIL)}", f"args_{i}: %json {json.dumps(args, ensure_ascii=False)}"]
    return rules, len(head.encode()) + int(max_json_bytes(args) or 0) + len(CALL_TAIL)


@dataclass(frozen=True)
class Callable:
    """A tool a call can use now: its grounded argument schema, longest call (bytes) and the
    JSON bounds it was fitted at (the configured ones unless `tightened`)."""

    tool: Tool
    args: dict[str, Any]
    call_bytes: int
    options: DMLConfig
    tightened: bool


def callable_tools(tools: list[Tool], opt: DMLConfig, known: list[str], budget: int, cap: int | None = None) -> list[Callable]:
    """The tools a call can use now: each at the configured JSON bounds when its longest call
    and answer fit the turn cap `cap` (default: `budget`), else at the first tighter level that
    fits it; offered only when that call and answer also fit this turn's `budget` tokens."""
    cap = budget if cap is None else cap
    out = []
    for tool in tools:
        if _answer(tool, opt, cap)[1] > budget:
            continue
        for level in levels(opt):
            args = _args_schema(tool, level, tuple(known))
            if args is None:
                break
            size = _call_rule(0, tool, args)[1]
            tokens = tokens_for_bytes(size)
            if tokens <= cap:
                if tokens <= budget:
                    out.append(Callable(tool, args, size, level, level != opt))
                break
    return out


def _think_bytes(opt: DMLConfig) -> int:
    """The bytes of the turn's <think> block at its longest (0 without `dml.thinking`)."""
    return len("<think></think>") + opt.think_chars if opt.thinking else 0


def _assistant_lark(opt: DMLConfig, body: str, n_calls: int, rules: list[str], calls_rule: str) -> str:
    """The assistant turn's grammar: `body` over `calls_rule`, the `call_0..n_calls-1` rules and TEXT."""
    return _template(ASSISTANT_GRAMMAR).render(
        think=text_terminal(opt.think_chars) if opt.thinking else None, body=body,
        call_names=[f"call_{i}" for i in range(n_calls)], call_rules=rules,
        calls=calls_rule, text=text_terminal(opt.max_text_chars),
    )


def assistant_constraint(
    usable: list[Callable], opt: DMLConfig, mode: str, calls: tuple[int, int], budget: int, distinct: bool = False,
) -> Constraint:
    """The assistant turn's grammar. `mode`: "call", "text" or "either"; `calls`: how many
    calls a call step makes (lo, hi), cut down to what fits `budget` (a parallel step
    offers only the tools of which `lo` calls fit). `distinct`: a parallel step's calls name
    different tools (where two or more are offered)."""
    think_bytes = _think_bytes(opt)
    room = budget - 1 - think_bytes
    lo, hi = calls
    if lo > 1:
        fitting = [c for c in usable if lo * (c.call_bytes + 1) - 1 <= room]
        usable, lo = (fitting, lo) if fitting else (usable, 1)
    if usable:
        hi = max(lo, min(hi, (room + 1) // (max(c.call_bytes for c in usable) + 1)))
    if lo > hi:
        usable, lo, hi = [], 1, 1
    calls_rule = "call" + (f' ("\\n" call){{{lo - 1},{hi - 1}}}' if hi > 1 else "")
    distinct = distinct and len(usable) >= lo
    if lo > 1 and usable:
        # A parallel step lists its calls in ascending offered order, a tool once or several
        # times (BFCL's `parallel`: one function, several argument sets): one rule per multiset,
        # so the model chooses the tools up front. Identical calls are rejected by the turn checks.
        hi = min(hi, len(usable)) if distinct else hi
        pick = itertools.combinations if distinct else itertools.combinations_with_replacement
        steps = [c for n in range(lo, hi + 1) for c in pick(range(len(usable)), n)]
        if len(steps) <= MAX_PARALLEL_ALTERNATIVES:
            calls_rule = " | ".join(' "\\n" '.join(f"call_{i}" for i in combo) for combo in steps)
    body = {"text": "TEXT", "call": "calls", "either": "calls | TEXT"}[mode if usable else "text"]
    worst = opt.max_text_chars if "TEXT" in body else 0
    rules: list[str] = []
    if "calls" in body:
        for i, c in enumerate(usable):
            rules += _call_rule(i, c.tool, c.args)[0]
        worst = max(worst, hi * max(c.call_bytes for c in usable) + (hi - 1))
    lark = _assistant_lark(opt, body, len(usable), rules, calls_rule)
    offered = tuple(usable) if "calls" in body else ()
    return Constraint(lark, None, tokens_for_bytes(think_bytes + worst), any(c.tightened for c in offered), offered,
                      (lo, hi) if offered else (0, 0))


def assistant_grammar(
    tools: list[Tool], opt: DMLConfig, known: list[str], mode: str, calls: tuple[int, int], budget: int,
    cap: int | None = None, distinct: bool = False,
) -> Constraint:
    """The assistant turn's constraint over `tools` given the values `known` so far (`cap`:
    the turn cap tools are fitted to, see callable_tools; `distinct`: see assistant_constraint)."""
    usable = callable_tools(tools, opt, known, budget, cap) if mode != "text" else []
    return assistant_constraint(usable, opt, mode, calls, budget, distinct)


def fan_grammar(
    tools: list[Tool], opt: DMLConfig, known: list[str], fan: dict[str, Any], budget: int, cap: int | None = None,
) -> Constraint | None:
    """A parallel step that calls one tool once per value of `fan` ({"argument", "values"}), in
    the user's order: the k-th call's argument is values[k], and every call names the same
    tool (any offered tool taking the argument). None when a value is not known yet, no
    offered tool takes the argument, or the step does not fit `budget`. `offered` lists each
    tool's calls in order (tool-major)."""
    name, values = fan["argument"], fan["values"]
    if not set(values) <= set(known):
        return None
    usable = [c for c in callable_tools(tools, opt, known, budget, cap) if name in (c.args.get("properties") or {})]
    calls: list[Callable] = []
    for c in usable:
        for value in values:
            args = copy.deepcopy(c.args)
            args["properties"][name] = {"type": "string", "enum": [value]}
            args["required"] = [*[r for r in args.get("required") or [] if r != name], name]
            calls.append(Callable(c.tool, args, _call_rule(0, c.tool, args)[1], c.options, c.tightened))
    n = len(values)
    steps = [calls[t:t + n] for t in range(0, len(calls), n)]
    think_bytes = _think_bytes(opt)
    steps = [s for s in steps if tokens_for_bytes(think_bytes + sum(c.call_bytes for c in s) + n - 1) <= budget]
    if not steps:
        return None
    calls = [c for s in steps for c in s]
    worst = max(sum(c.call_bytes for c in s) + n - 1 for s in steps)
    rules = [r for j, c in enumerate(calls) for r in _call_rule(j, c.tool, c.args)[0]]
    calls_rule = " | ".join(' "\\n" '.join(f"call_{t * n + k}" for k in range(n)) for t in range(len(steps)))
    lark = _assistant_lark(opt, "calls", len(calls), rules, calls_rule)
    return Constraint(lark, None, tokens_for_bytes(think_bytes + worst), any(c.tightened for c in calls), tuple(calls), (n, n))


def user_constraint(facts: list[str], max_chars: int) -> Constraint:
    """Free text (TEXT). With facts: text without ':' (at most 3/4 of the bound), then ': '
    and the facts verbatim, then the end of the sentence, optionally one more sentence."""
    lead = max(1, max_chars * 3 // 4)
    tail = max(2, max_chars - lead)
    lark = _template(USER_GRAMMAR).render(
        facts=[_lark(f) for f in facts], text=text_terminal(max_chars),
        lead=f"/[!-9;=-_a-z|~][ -9;=-_a-z|~]{{0,{lead - 1}}}/",
        tail=f"/[.!?]( [!-;=-_a-z|~][ -;=-_a-z|~]{{0,{tail - 2}}}[.!?])?/",
    )
    worst = lead + 2 + sum(len(f) + 2 for f in facts) + 1 + 1 + tail if facts else max_chars
    return Constraint(lark, None, tokens_for_bytes(worst))


@lru_cache(maxsize=4096)
def _response_schema(tool_json: str, opt: DMLConfig) -> dict[str, Any]:
    tool = Tool.from_record(json.loads(tool_json))
    fallback = styled(any_object_schema(opt.max_json_string_chars, opt.max_json_items))
    if tool.response is None:
        return fallback
    schema, _, _ = grammar_schema(narrowed_response(tool, opt), opt.max_json_string_chars, opt.max_json_items, verify=True)
    return schema if max_json_bytes(schema) is not None else fallback


def _answer(tool: Tool, opt: DMLConfig, cap: int) -> tuple[dict[str, Any], int, DMLConfig]:
    """The simulated answer's schema at the configured bounds, or at the first tighter level
    whose longest answer fits `cap` tokens; its longest answer (tokens); the bounds it was fitted at."""
    return _answer_of(json.dumps(tool.to_record(), sort_keys=True), opt, cap)


@lru_cache(maxsize=4096)
def _answer_of(record: str, opt: DMLConfig, cap: int) -> tuple[dict[str, Any], int, DMLConfig]:
    # cached: every assistant turn asks it for each of the conversation's tools
    for level in levels(opt):
        schema = _response_schema(record, level)
        tokens = tokens_for_bytes(int(max_json_bytes(schema) or 0))
        if tokens <= cap:
            break
    return schema, tokens, level


def environment_constraint(tool: Tool, opt: DMLConfig, error: bool, budget: int, cap: int | None = None) -> Constraint:
    """The simulated tool's answer: its bounded response schema at the configured bounds
    (tighter only where its longest answer exceeds the turn cap `cap`, default `budget`), or
    the error object. Its max_tokens may exceed `budget`: the caller ends the
    conversation then (the bounds are never narrowed for the context)."""
    cap = budget if cap is None else cap
    if error:
        schema = styled(error_object_schema(opt.max_json_string_chars))
        return Constraint(None, schema, tokens_for_bytes(int(max_json_bytes(schema) or 0)))
    schema, tokens, fitted = _answer(tool, opt, cap)
    return Constraint(None, schema, tokens, fitted != opt)
