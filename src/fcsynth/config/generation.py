"""Config of the generation stages: toolkits, catalog, dml, scenarios, blueprints, conversations, system prompts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from fcsynth.config.base import Rate, Section, Tokens


class ToolkitsConfig(Section):
    toolkits: list[str]
    bundles: list[list[str]]
    weights: dict[str, Annotated[float, Field(ge=0)]]


class ToolSource(Section):
    format: Literal["openapi", "mcp", "openai", "funcdex", "bfcl", "catalog"]
    path: str
    toolkit: str | None = None  # a list entry: Hydra has no defaults for those, so it is optional here


class CatalogConfig(Section):
    builtin: bool
    sources: list[ToolSource]
    prompt_budget_tokens: Tokens
    oversize: Literal["skip", "trim"]


def _as_tuple(value: Any) -> Any:
    """A YAML list as a tuple (strict mode takes no list for a tuple)."""
    return tuple(value) if isinstance(value, list) else value


class DMLConfig(Section):
    """The bounds of every simulated turn's grammar: the options the constraints are built from."""

    thinking: bool
    max_parallel_calls: Annotated[int, Field(ge=1)]
    max_text_chars: Annotated[int, Field(ge=8)]
    max_think_chars: Annotated[int, Field(ge=8)] | None
    max_steps_per_turn: Annotated[int, Field(ge=1)]
    max_json_string_chars: Tokens
    max_json_items: Tokens
    max_response_properties: Annotated[int, Field(ge=0)]
    max_response_depth: Annotated[int, Field(ge=0)]
    max_argument_properties: Annotated[int, Field(ge=0)] | None
    max_argument_depth: Annotated[int, Field(ge=0)] | None
    # The tightening ladder (fcsynth.constraints.ladder); a tuple so the section hashes (grammar caches key on it).
    tightening_divisors: Annotated[tuple[Annotated[int, Field(ge=2)], ...], BeforeValidator(_as_tuple)]

    @property
    def think_chars(self) -> int:
        """The bound on a <think> block (max_think_chars, or max_text_chars when null)."""
        return self.max_think_chars or self.max_text_chars

    @model_validator(mode="after")
    def _ladder_ascending(self) -> DMLConfig:
        steps = self.tightening_divisors
        if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
            raise ValueError("tightening_divisors must be strictly ascending")
        return self


class ScenariosConfig(Section):
    count: Tokens
    tools_per_scenario: Annotated[list[int], Field(min_length=2, max_length=2)]
    random_tool_share: Annotated[float, Field(ge=0, le=1)]
    similarity_threshold: Annotated[float, Field(gt=0, le=1)]
    max_rounds: Tokens
    workflow_description: str | None
    max_tokens: Tokens
    allow_shrink: bool  # True: drop stored scenarios the current config does not use

    @model_validator(mode="after")
    def _range_ordered(self) -> ScenariosConfig:
        lo, hi = self.tools_per_scenario
        if not 1 <= lo <= hi:
            raise ValueError("tools_per_scenario must be [min, max] with 1 <= min <= max")
        return self


class BlueprintsConfig(Section):
    distractors: Annotated[int, Field(ge=0)]
    clarity_weights: dict[Literal["excellent", "good", "average"], float]
    parallel_call_rate: Rate
    one_tool_parallel_rate: Rate  # share of the planned parallel steps that fan one tool out over listed values
    tool_error_rate: Rate
    missing_argument_rate: Rate
    no_tool_rate: Rate
    no_tool_opening: Rate  # share of the planned no-tool requests that open the conversation
    user_turns: Annotated[list[int], Field(min_length=2, max_length=2)]  # [min, max] user turns a conversation plans
    steps_per_task_turn: Annotated[list[int], Field(min_length=2, max_length=2)]  # [min, max] call steps of a task turn
    max_tokens: Tokens

    @model_validator(mode="after")
    def _weights_usable(self) -> BlueprintsConfig:
        if any(w < 0 for w in self.clarity_weights.values()) or sum(self.clarity_weights.values()) <= 0:
            raise ValueError("clarity_weights must be non-negative with a positive sum")
        for key in ("user_turns", "steps_per_task_turn"):
            lo, hi = getattr(self, key)
            if not 1 <= lo <= hi:
                raise ValueError(f"{key} must be [min, max] with 1 <= min <= max")
        return self


class ConversationsConfig(Section):
    max_tokens: Tokens  # the most one simulated turn may be budgeted (its proven worst case)
    max_turn_retries: Annotated[int, Field(ge=0)]  # regenerations of a turn that fails a rule check
    first_turn_retries: Annotated[int, Field(ge=0)]  # the same, while no turn is complete yet
    user_text_chars: Annotated[int, Field(ge=8)]  # bound on a user message
    repeat_tools_in_turn: bool  # a later call step may call a tool the turn already called
    environment: Literal["simulated", "executable"]
    environment_class: str | None  # "package.module:Class" when environment is executable

    @model_validator(mode="after")
    def _class_for_executable(self) -> ConversationsConfig:
        if self.environment == "executable" and not self.environment_class:
            raise ValueError("environment: executable needs environment_class ('package.module:Class')")
        return self

    def retries(self, has_complete_turn: bool) -> int:
        """How often a failing turn is generated again: more while no turn is complete, since
        ending then keeps nothing of the conversation."""
        return self.max_turn_retries if has_complete_turn else max(self.max_turn_retries, self.first_turn_retries)


class SystemPromptsConfig(Section):
    dropout: Rate
    max_tokens: Tokens
