"""Build the DML grammar of one conversation from its tools (Lark, llguidance dialect).

The base (the Jinja template `grammars/dml.lark.j2`) fixes the turn structure; this module fills its bounds and
appends the per-conversation rules:

- `call_<i>`: `<tool_call>{"name": "<tool i>", "arguments": ARGS}</tool_call>` where ARGS
  is an inline `%json` of tool i's bounded `parameters` schema;
- `resp_<k>`: `<tool_response>JSON</tool_response>` for response class k (tools sharing a
  response schema; unknown responses are one class: a bounded JSON object), with the error
  object as an alternative when tool errors are allowed;
- `step`: 1..max_parallel_calls calls, then exactly as many responses. Response j is tied
  to call j's response class for every step whose class sequences fit in
  `max_pairing_alternatives`; larger parallel steps only fix the count (each response is
  any class's response). A single call is always paired.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from fcsynth.budget import max_json_bytes
from fcsynth.dml.schemas import (
    any_object_schema,
    compile_error,
    error_object_schema,
    grammar_schema,
    prune_schema,
    styled,
)
from fcsynth.errors import FcsynthError
from fcsynth.paths import GRAMMARS_DIR

if TYPE_CHECKING:
    from fcsynth.config import DMLConfig
    from fcsynth.tools import Tool

BASE_GRAMMAR = "dml.lark.j2"


@dataclass(frozen=True)
class GrammarOptions:
    """What the grammar allows besides the tools: the `dml` config section (conf/dml/,
    which documents each) plus the conversation's plan. No defaults: build it with
    `from_config` or `for_conversation` so it is always the pipeline's."""

    thinking: bool
    min_user_turns: int
    max_user_turns: int
    max_parallel_calls: int
    allow_tool_errors: bool
    max_text_chars: int
    max_think_chars: int | None  # None: same as max_text_chars
    max_steps_per_turn: int  # call/response steps in one assistant turn
    require_tool_call: bool  # at least one assistant turn calls a tool
    max_json_string_chars: int  # maxLength added to JSON strings without a bound
    max_json_items: int  # maxItems / maxProperties added to unbounded arrays and maps
    max_pairing_alternatives: int  # budget for tying parallel responses to their calls
    max_response_properties: int  # optional properties kept per response object
    max_response_depth: int  # below this nesting, response objects keep required ones only
    max_argument_properties: int | None  # optional arguments per object a call may use (None: all)
    max_argument_depth: int | None  # below this nesting, arguments keep required ones only (None: no limit)
    min_text_chars: int  # the budget never allocates a text span fewer chars than this

    def __post_init__(self) -> None:
        if not 1 <= self.min_user_turns <= self.max_user_turns:
            raise FcsynthError("dml: need 1 <= min_user_turns <= max_user_turns")
        for name in ("max_parallel_calls", "max_text_chars", "max_json_string_chars", "max_json_items"):
            if getattr(self, name) < 1:
                raise FcsynthError(f"dml.{name} must be >= 1")
        if self.max_steps_per_turn < 0:
            raise FcsynthError("dml.max_steps_per_turn must be >= 0")
        if self.require_tool_call and self.max_steps_per_turn < 1:
            raise FcsynthError("dml.require_tool_call needs dml.max_steps_per_turn >= 1")

    @property
    def think_chars(self) -> int:
        return self.max_think_chars or self.max_text_chars

    @classmethod
    def from_config(cls, dml_cfg: DMLConfig, allow_tool_errors: bool, **overrides: Any) -> GrammarOptions:
        """Options from the `dml` config section plus the tool-error plan (and overrides)."""
        return cls(allow_tool_errors=allow_tool_errors, **{**dml_cfg.model_dump(), **overrides})

    @classmethod
    def for_conversation(cls, dml_cfg: DMLConfig, features: dict[str, bool]) -> GrammarOptions:
        """The options one conversation is generated under: config + its planned features
        (tool errors allowed when planned; a single call per step unless parallel calls are)."""
        options = cls.from_config(dml_cfg, allow_tool_errors=features["tool_error"])
        return options if features["parallel_calls"] else replace(options, max_parallel_calls=1)


@dataclass
class BuiltGrammar:
    """A conversation's grammar and how each tool's schemas got into it."""

    lark: str
    fallbacks: list[str] = field(default_factory=list)  # tools not at level "strict"
    levels: dict[str, str] = field(default_factory=dict)  # tool -> worst fallback level
    errors: dict[str, str] = field(default_factory=dict)  # tool -> first llguidance error
    paired_steps: int = 1  # steps with up to this many calls tie responses to calls
    options: GrammarOptions | None = None  # the options it was built with (after budget fitting)
    call_bytes: int = 0  # the longest call markup of any tool (bytes)
    resp_bytes: int = 0  # the longest response markup of any class (bytes)


_UNLIMITED = 1 << 30


def narrowed_arguments(tool: Tool, opt: GrammarOptions) -> Any:
    """The argument schema a call of `tool` is generated under: its required arguments plus
    at most `max_argument_properties` optional ones per object (at least one where none is
    required), none below `max_argument_depth`. A narrowing: every call it allows is valid."""
    if opt.max_argument_properties is None and opt.max_argument_depth is None:
        return tool.parameters
    props = _UNLIMITED if opt.max_argument_properties is None else max(1, opt.max_argument_properties)
    return prune_schema(tool.parameters, props, _UNLIMITED if opt.max_argument_depth is None else opt.max_argument_depth)


def narrowed_response(tool: Tool, opt: GrammarOptions) -> Any:
    """The response schema a response of `tool` is generated under (see `prune_schema`)."""
    return prune_schema(tool.response, opt.max_response_properties, opt.max_response_depth)


def _lark_string(text: str) -> str:
    """A Lark string literal (JSON escaping is valid Lark escaping)."""
    return json.dumps(text, ensure_ascii=False)


def _base_template() -> jinja2.Template:
    return _load_template(str(GRAMMARS_DIR / BASE_GRAMMAR))


_TEMPLATES: dict[str, jinja2.Template] = {}


def _load_template(path: str) -> jinja2.Template:
    if path not in _TEMPLATES:
        try:
            source = Path(path).read_text()
        except FileNotFoundError:
            raise FcsynthError(f"{path}: DML base grammar not found (run inside the project, or set FCSYNTH_ROOT)") from None
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        _TEMPLATES[path] = env.from_string(source)
    return _TEMPLATES[path]


def _bytes(schema: dict[str, Any]) -> int:
    size = max_json_bytes(schema)
    assert size is not None, "only bounded schemas reach the grammar"
    return size


def _rep(lo: int, hi: int) -> str:
    """Lark repetition bounds; "" when nothing may repeat (llguidance rejects {0,0})."""
    return f"{{{lo},{hi}}}" if hi > 0 else ""


def _first_call_alternatives(min_turns: int, max_turns: int) -> str:
    """`start` when a tool call is required: p plain turns, a calling turn, then any turns."""
    alternatives = []
    for plain in range(max_turns):
        rest = _rep(max(0, min_turns - 1 - plain), max_turns - 1 - plain)
        parts = ['plain_turn "\\n"'] * plain + ["call_turn"] + ([f'("\\n" turn){rest}'] if rest else [])
        alternatives.append(" ".join(parts))
    return "\n    | ".join(alternatives)


_LEVEL_RANK = {"strict": 0, "lenient": 1, "stripped": 2, "any_object": 3}


def build_grammar(tools: list[Tool], options: GrammarOptions) -> BuiltGrammar:
    """The Lark grammar for a conversation over `tools` (never raises for a bad schema)."""
    built = _build(tools, options, verify=False)
    if compile_error(built.lark) is None:
        return built
    # Find the schemas llguidance rejects, one by one (cached), and use their fallbacks.
    built = _build(tools, options, verify=True)
    error = compile_error(built.lark)
    if error is None:
        return built
    # Every schema compiled alone but the whole did not (e.g. a size limit): last resort,
    # every tool at the loosest level.
    loose = _build(tools, options, verify=True, force_any=True)
    loose.errors = {t.name: error.strip().splitlines()[0][:300] for t in tools}
    final_error = compile_error(loose.lark)
    if final_error is not None:
        raise FcsynthError(f"DML grammar does not compile ({', '.join(t.name for t in tools)}): {final_error}")
    return loose


def _build(tools: list[Tool], options: GrammarOptions, verify: bool, force_any: bool = False) -> BuiltGrammar:
    if not tools:
        raise FcsynthError("cannot build a DML grammar without tools")
    names = [t.name for t in tools]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise FcsynthError(f"duplicate tool names in one conversation: {', '.join(dup)}")
    opt = options
    built = BuiltGrammar(lark="", options=options)
    rules: list[str] = []

    def note(tool: str, level: str, error: str | None) -> None:
        if _LEVEL_RANK[level] >= _LEVEL_RANK[built.levels.get(tool, "strict")]:
            built.levels[tool] = level
        if error and level != "strict":
            built.errors.setdefault(tool, error)

    any_object = styled(any_object_schema(opt.max_json_string_chars, opt.max_json_items))
    error_object = error_object_schema(opt.max_json_string_chars)

    # Response classes: tools with the same (final) response schema share one rule.
    classes: dict[str, int] = {}
    class_schemas: list[str] = []
    tool_class: list[int] = []
    for i, tool in enumerate(tools):
        if force_any:
            args, level, err = any_object, "any_object", None
        else:
            args, level, err = grammar_schema(narrowed_arguments(tool, opt), opt.max_json_string_chars, opt.max_json_items,
                                              verify)
            if max_json_bytes(args) is None:  # no length bound: the bounded any-object instead
                args, level, err = any_object, "any_object", err or "schema has no length bound"
        note(tool.name, level, err)
        rules.append(f"// {tool.name}")
        head = f'<tool_call>{{"name": {json.dumps(tool.name, ensure_ascii=False)}, "arguments": '
        built.call_bytes = max(built.call_bytes, len(head.encode()) + _bytes(args) + len("}</tool_call>"))
        rules.append(f"call_{i}: " + _lark_string(head) + f" args_{i} " + _lark_string("}</tool_call>"))
        rules.append(f"args_{i}: %json {json.dumps(args, ensure_ascii=False)}")
        if tool.response is None or force_any:
            response = any_object
        else:
            pruned = narrowed_response(tool, opt)
            response, level, err = grammar_schema(pruned, opt.max_json_string_chars, opt.max_json_items, verify)
            if max_json_bytes(response) is None:
                response, level, err = any_object, "any_object", err or "response schema has no length bound"
            note(tool.name, level, err)
        key = json.dumps(response, ensure_ascii=False)
        if key not in classes:
            classes[key] = len(class_schemas)
            class_schemas.append(key)
        tool_class.append(classes[key])
    built.fallbacks = sorted(t for t, level in built.levels.items() if level != "strict")

    n_classes = len(class_schemas)
    error_bytes = _bytes(styled(error_object)) if opt.allow_tool_errors else 0
    built.resp_bytes = len("<tool_response></tool_response>") + max(
        max(_bytes(json.loads(k)) for k in class_schemas), error_bytes
    )
    any_object_json = json.dumps(any_object, ensure_ascii=False)
    if opt.allow_tool_errors:
        # One rule for the error object; llguidance merges it with the response schema
        # at the same position (same JSON lexer options), i.e. an anyOf of the two.
        rules.append(f"tool_error: %json {json.dumps(styled(error_object), ensure_ascii=False)}")
    for k, schema in enumerate(class_schemas):
        members = [f"call_{i}" for i, c in enumerate(tool_class) if c == k]
        rules.append(f"calls_{k}: " + " | ".join(members))
        if opt.allow_tool_errors and schema != any_object_json:
            rules.append(f'resp_{k}: "<tool_response>" (%json {schema} | tool_error) "</tool_response>"')
        else:
            rules.append(f'resp_{k}: "<tool_response>" %json {schema} "</tool_response>"')
    if n_classes > 1:
        rules.append("any_call: " + " | ".join(f"calls_{k}" for k in range(n_classes)))
        rules.append("any_resp: " + " | ".join(f"resp_{k}" for k in range(n_classes)))
    else:
        rules.append("any_call: calls_0")
        rules.append("any_resp: resp_0")

    step_rules: list[str] = []
    budget = opt.max_pairing_alternatives
    built.paired_steps = 0
    for n in range(1, opt.max_parallel_calls + 1):
        combos = n_classes**n
        if n == 1 or combos <= budget:
            budget -= combos if n > 1 else 0
            built.paired_steps = n
            alternatives = [
                ' "\\n" '.join([*(f"calls_{k}" for k in seq), *(f"resp_{k}" for k in seq)])
                for seq in itertools.product(range(n_classes), repeat=n)
            ]
            rules.append(f"step_{n}: " + "\n    | ".join(alternatives))
        else:
            rules.append(f'step_{n}: any_call ("\\n" any_call){{{n - 1}}} ("\\n" any_resp){{{n}}}')
        step_rules.append(f"step_{n}")
    rules.insert(0, "step: " + " | ".join(step_rules))

    base = _base_template().render(
        require_call=opt.require_tool_call,
        start_alternatives=_first_call_alternatives(opt.min_user_turns, opt.max_user_turns),
        call_steps=f"{{1,{opt.max_steps_per_turn}}}",
        more_turns=_rep(opt.min_user_turns - 1, opt.max_user_turns - 1),
        steps=_rep(0, opt.max_steps_per_turn),
        thinking=opt.thinking,
        think="think " if opt.thinking else "",
        think_rep=f"{{0,{opt.think_chars - 1}}}",
        text_rep=f"{{0,{opt.max_text_chars - 1}}}",
    )
    built.lark = base.rstrip("\n") + "\n" + "\n".join(rules) + "\n"
    return built
