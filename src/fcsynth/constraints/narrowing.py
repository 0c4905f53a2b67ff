"""The JSON bounds of every simulated turn's grammar (`GrammarOptions`, the `dml` config
section) and the narrowed schemas calls and responses are generated under.

The turn grammars themselves are built by `fcsynth.simulation.constraints` from the Jinja
templates in `grammars/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fcsynth.dml.schemas import prune_schema
from fcsynth.errors import FcsynthError

if TYPE_CHECKING:
    from fcsynth.config import DMLConfig
    from fcsynth.tools import Tool


@dataclass(frozen=True)
class GrammarOptions:
    """What a turn's grammar allows besides the tools: the `dml` config section
    (conf/dml/, which documents each). No defaults: build it with `from_config` so it is
    always the pipeline's."""

    thinking: bool
    max_parallel_calls: int
    max_text_chars: int
    max_think_chars: int | None  # None: same as max_text_chars
    max_steps_per_turn: int  # call/response steps in one assistant turn
    max_json_string_chars: int  # maxLength added to JSON strings without a bound
    max_json_items: int  # maxItems / maxProperties added to unbounded arrays and maps
    max_response_properties: int  # optional properties kept per response object
    max_response_depth: int  # below this nesting, response objects keep required ones only
    max_argument_properties: int | None  # optional arguments per object a call may use (None: all)
    max_argument_depth: int | None  # below this nesting, arguments keep required ones only (None: no limit)

    def __post_init__(self) -> None:
        for name in ("max_parallel_calls", "max_text_chars", "max_json_string_chars", "max_json_items"):
            if getattr(self, name) < 1:
                raise FcsynthError(f"dml.{name} must be >= 1")
        if self.max_steps_per_turn < 0:
            raise FcsynthError("dml.max_steps_per_turn must be >= 0")

    @property
    def think_chars(self) -> int:
        return self.max_think_chars or self.max_text_chars

    @classmethod
    def from_config(cls, dml_cfg: DMLConfig, **overrides: Any) -> GrammarOptions:
        """Options from the `dml` config section (and overrides)."""
        return cls(**{**dml_cfg.model_dump(), **overrides})


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
