"""The simulation: rounds over all unfinished conversations, one engine batch per round.

Each round asks every unfinished conversation for its next action (a user message, an
assistant turn, or the responses to a call step), sends all of them to the engine as
one batch, checks each finished turn and appends it to its conversation. A turn whose
output fails a rule check (`fcsynth.curate.checks`: placeholders, repeated calls,
degenerate text; a simulated tool response: placeholders) is generated again with a new
seed, at most `conversations.max_turn_retries` times (`first_turn_retries` while no turn is
complete); then the conversation ends with its complete turns (`checks_failed`), so curate never
throws away a whole conversation for one bad turn. Every request's row is checkpointed by
its request key, so a killed run replays its finished turns from the checkpoint and
resumes at the first unfinished one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from outlines.types import CFG, JsonSchema

from fcsynth.catalog.identifiers import known_values
from fcsynth.chat.prompting import PromptBuilder, hermes_messages
from fcsynth.checkpoint import Checkpoint
from fcsynth.config import Config
from fcsynth.constraints import turns
from fcsynth.constraints.narrowing import narrowed_response
from fcsynth.constraints.turns import Constraint
from fcsynth.dml.render import dump_json
from fcsynth.llm import Backend, Request, derive_seed
from fcsynth.llm.base import ERROR_FINISH
from fcsynth.prompts import render
from fcsynth.runner import make_request
from fcsynth.simulation import environment
from fcsynth.simulation.schedule import in_rounds, stream
from fcsynth.simulation.state import ASSISTANT, CHECKS_FAILED, CONTEXT_FULL, TOOL, TURN_FAILED, USER, Conversation, parallel_calls
from fcsynth.simulation.turn_checks import response_placeholders, turn_problems
from fcsynth.simulation.turn_text import fake_assistant, fake_words, parse_turn, user_view, world_state
from fcsynth.tools import Tool

USER_TEMPLATE, ASSISTANT_TEMPLATE, TOOL_TEMPLATE = "user.j2", "assistant.j2", "tool_environment.j2"
CLARITY = {
    "excellent": "you state every detail up front",
    "good": "you state the goal clearly but give some details only later",
    "average": "you are vague at first and give details only when asked",
}
STREAMING_BACKENDS = ("vllm", "fake")  # backends whose generate takes follow-ups into its running batch


@dataclass
class Action:
    """One request of a round, and what its output becomes."""

    conv: Conversation
    role: str
    key: str
    request: Request
    call_index: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Simulator:
    """Runs the rounds for a set of conversations with one backend factory."""

    def __init__(
        self, cfg: Config, checkpoint: Checkpoint, backend: Callable[[], Backend], tokenizer: Any = None,
        environment_class: type | None = None,
    ) -> None:
        self.cfg = cfg
        self.checkpoint = checkpoint
        self.backend = backend
        self.tokenizer = tokenizer
        self.builder = PromptBuilder(tokenizer) if tokenizer is not None else None
        self.env_class = environment_class
        self.options = cfg.dml
        self.generated: list[dict[str, Any]] = []
        self.rounds = 0  # in round mode
        self.streaming = cfg.llm.backend in STREAMING_BACKENDS

    # ---- prompts -------------------------------------------------------------------------
    def _chat(self, text: str) -> tuple[Any, bool]:
        if self.tokenizer is None:
            return text, False
        text = self.builder.guard.text(text) if self.builder else text
        return self.tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True), True

    def _budget(self, prompt: Any, raw: bool) -> int:
        """A turn's budget: `conversations.max_tokens`, or less where the prompt leaves less
        of the model's context (counted with the tokenizer where prompts are rendered here)."""
        cap = self.cfg.conversations.max_tokens
        if not raw or self.tokenizer is None:
            return cap
        n = len(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        return min(cap, self.cfg.model.max_model_len - n)

    def _fits(self, conv: Conversation, constraint: Constraint, budget: int) -> bool:
        """True when the turn's longest output fits its budget; else the conversation ends
        with its complete turns (context_full)."""
        if constraint.max_tokens <= budget:
            return True
        conv.finish(CONTEXT_FULL, f"a {conv.phase() or 'next'} turn needs {constraint.max_tokens} tokens, {budget} left")
        return False

    def _request(self, conv: Conversation, key: str, prompt: Any, raw: bool, constraint: Constraint, fake: str | None) -> Request:
        attempt = conv.attempts.get(key, 0)
        rid = f"{conv.id}/{key}" + (f"#a{attempt}" if attempt else "")
        output = CFG(constraint.lark) if constraint.lark is not None else JsonSchema(constraint.schema)
        return make_request(
            rid, prompt, output, self.cfg.sampling, constraint.max_tokens, derive_seed(self.cfg.seed, f"simulation:{rid}"),
            raw_prompt=raw, metadata={"fake_output": fake} if fake is not None else None,
        )

    # ---- actions -------------------------------------------------------------------------
    def actions(self, conv: Conversation) -> list[Action]:
        """The requests that advance `conv` by one turn (none when it is over)."""
        phase = conv.phase()
        if phase == USER:
            return self._user(conv)
        if phase == ASSISTANT:
            return self._assistant(conv)
        if phase == TOOL:
            return self._tool(conv)
        return []

    def _user(self, conv: Conversation) -> list[Action]:
        number = conv.user_turns + 1
        turn = conv.turns[number - 1]
        fan = turn.get("fan")
        reveal = [*(fan["values"] if fan else []), *(conv.facts[name] for name in turn.get("reveal", []) if name in conv.facts)]
        bp = conv.blueprint
        text = render(
            USER_TEMPLATE, persona=json.loads(bp["persona"]), scenario=bp["scenario"], outline=bp["outline"],
            clarity=CLARITY.get(bp["clarity"], bp["clarity"]), transcript=user_view(conv.messages), number=number,
            total=len(conv.turns), kind=turn["kind"], withheld=turn.get("withheld", ""),
            parallel=parallel_calls(turn, self.cfg.dml.max_parallel_calls) if turn.get("parallel") else None, fan=fan,
            reveal=[n for n in turn.get("reveal", []) if n in conv.facts],
        )
        constraint = turns.user_constraint(reveal, self.cfg.conversations.user_text_chars)
        prompt, raw = self._chat(text)
        if not self._fits(conv, constraint, self._budget(prompt, raw)):
            return []
        key = f"m{len(conv.messages)}"
        fake = f"Please handle {fake_words(conv.id, key)}" + (f": {', '.join(reveal)}." if reveal else ".")
        return [Action(conv, USER, key, self._request(conv, key, prompt, raw, constraint, fake))]

    def _assistant_mode(self, conv: Conversation) -> tuple[str, tuple[int, int]]:
        turn, steps, dml = conv.turn, conv.steps, self.cfg.dml
        if turn["kind"] != "task" or conv.text_only_turn == conv.user_turns:
            return "text", (1, 1)
        due = conv.parallel_due(dml.max_parallel_calls) if steps == 0 and conv.single_call_turn != conv.user_turns else None
        calls = due if due and dml.max_parallel_calls > 1 else (1, 1)
        if turn.get("error") and conv.last_step_failed() and steps < dml.max_steps_per_turn:
            return "call", calls
        if steps < turn["steps"]:
            return "call", calls
        if steps < dml.max_steps_per_turn:
            return "either", calls
        return "text", calls

    def _callable(self, conv: Conversation) -> list[Tool]:
        """The tools the next call step may name: with `repeat_tools_in_turn` off, those the turn
        has not called yet, unless the last step failed (its tool may be retried)."""
        if self.cfg.conversations.repeat_tools_in_turn or conv.last_step_failed():
            return conv.tools
        called = conv.turn_tools()
        return [t for t in conv.tools if t.name not in called]

    def _assistant(self, conv: Conversation) -> list[Action]:
        mode, calls = self._assistant_mode(conv)
        system = render(ASSISTANT_TEMPLATE, company=json.loads(conv.blueprint["persona"]).get("company"))
        history = [{"role": "system", "content": system}, *conv.messages]
        tools = [t.to_openai() for t in conv.tools]
        if self.builder is not None:
            prompt, raw = self.builder.render(history, tools), True
        else:
            prompt, raw = hermes_messages(history, tools), False
        budget = self._budget(prompt, raw)
        known = known_values(conv.messages, self.options.max_json_string_chars)
        key = f"m{len(conv.messages)}"
        # A planned fan calls one tool once per listed value; else a retried parallel step names
        # different tools: a model that repeated one call is not offered the same repeat again.
        fan = (conv.planned_parallel() or {}).get("fan") if calls[0] > 1 else None
        constraint = (fan and turns.fan_grammar(conv.tools, self.options, known, fan, budget, self.cfg.conversations.max_tokens)) \
            or turns.assistant_grammar(self._callable(conv), self.options, known, mode, calls, budget,
                                       self.cfg.conversations.max_tokens, distinct=conv.attempts.get(key, 0) > 0)
        if not self._fits(conv, constraint, budget):
            return []
        fake = fake_assistant(constraint, conv.id, key)
        tight = {c.tool.name for c in constraint.offered if c.tightened}
        return [Action(conv, ASSISTANT, key, self._request(conv, key, prompt, raw, constraint, fake), extra={"tightened": tight})]

    def _tool(self, conv: Conversation) -> list[Action]:
        calls = conv.pending_calls()
        by_name = {t.name: t for t in conv.tools}
        out = []
        for j, c in enumerate(calls):
            if j in conv.partial:
                continue
            tool, args = by_name[c["function"]["name"]], c["function"]["arguments"]
            if self.env_class is not None:
                history = [*conv.messages[:-1], {"role": ASSISTANT, "tool_calls": calls[:j]}]
                result = environment.respond(self.env_class, history, tool.name, args)
                conv.partial[j] = {"content": dump_json(result)}
                continue
            error = conv.error_planned(j)
            text = render(
                TOOL_TEMPLATE, tool=tool, response_schema=None if error else narrowed_response(tool, self.options),
                state=world_state(conv.messages[:-1]), call={"name": tool.name, "arguments": args}, error=error,
            )
            prompt, raw = self._chat(text)
            budget = self._budget(prompt, raw)
            constraint = turns.environment_constraint(tool, self.options, error, budget, self.cfg.conversations.max_tokens)
            if not self._fits(conv, constraint, budget):
                return []
            key = f"m{len(conv.messages)}.{j}"
            out.append(Action(conv, TOOL, key, self._request(conv, key, prompt, raw, constraint, None), call_index=j,
                              extra={"tightened": constraint.tightened}))
        if self.env_class is not None:
            conv.add_responses()
            return self.actions(conv)
        return out

    # ---- results -------------------------------------------------------------------------
    def apply(self, action: Action, row: dict[str, Any]) -> None:
        """Check one finished request and append its turn, or count a failed attempt."""
        conv = action.conv
        if conv.done:
            return
        text, finish = row["text"], row["finish_reason"]
        if finish != "stop":
            reason = "max_tokens reached" if finish == "length" else text if finish == ERROR_FINISH else finish
            action.conv.failures["length" if finish == "length" else "engine_error"] += 1
            self._failed(action, f"{action.role} turn: {reason}"[:300], TURN_FAILED)
            return
        try:
            candidate = parse_turn(action.role, text)
        except ValueError as err:
            conv.failures["unparseable"] += 1
            self._failed(action, f"{action.role} turn unparseable: {err}"[:300], TURN_FAILED)
            return
        if action.role == TOOL:
            found = response_placeholders(conv, conv.pending_calls()[action.call_index]["function"]["name"], candidate, self.cfg.curate)
            if found:  # a simulated answer curate would reject: generated again, like a turn
                conv.failures["placeholder"] += 1
                self._failed(action, f"tool response: placeholder: {found[0]}"[:300], CHECKS_FAILED)
                return
            conv.partial[action.call_index] = {"content": dump_json(candidate)}
            conv.accepted.append(action.request.id)
            conv.tightened_responses += bool(action.extra.get("tightened"))
            conv.add_responses()
            return
        problems = turn_problems(conv, candidate, self.cfg.curate)
        conv.failures.update(p.split(":")[0] for p in problems)
        last_try = conv.attempts.get(action.key, 0) >= self.cfg.conversations.retries(conv.has_complete_turn())
        if last_try and any(p.startswith("repeated_call") for p in problems):
            # Out of retries and still repeating a call: never keep the repeat. A parallel step
            # becomes a single call; otherwise the assistant has nothing new to call in this
            # turn and answers in text (generated next, once).
            if len(candidate["calls"]) > 1:
                conv.single_call_turn = conv.user_turns
            else:
                conv.text_only_turn = conv.user_turns
            conv.attempts[action.key] += 1  # the reshaped turn is a new request (id and seed)
            return
        if problems:
            self._failed(action, "; ".join(problems)[:300], CHECKS_FAILED)
            return
        conv.accepted.append(action.request.id)
        if "calls" in candidate:
            conv.tightened_calls += sum(c["name"] in action.extra.get("tightened", ()) for c in candidate["calls"])
            conv.add_calls(candidate["calls"], candidate.get("reasoning"))
        else:
            conv.add_text(action.role, candidate["text"], candidate.get("reasoning"))

    def _failed(self, action: Action, reason: str, end: str) -> None:
        """Count a failed attempt; after the last retry the conversation ends with its complete
        turns (`end`)."""
        conv = action.conv
        conv.attempts[action.key] = conv.attempts.get(action.key, 0) + 1
        if conv.attempts[action.key] > self.cfg.conversations.retries(conv.has_complete_turn()):
            conv.finish(end, reason)

    # ---- rounds or a stream -----------------------------------------------------------------
    def run(self, conversations: list[Conversation]) -> None:
        """Simulate until every conversation is over: streamed where the backend takes follow-ups
        into its running batch (offline vLLM, fake), else in rounds."""
        if self.streaming:
            stream(self, conversations)
        else:
            in_rounds(self, conversations)
        for c in conversations:  # unreachable with a correct plan; never leave one open
            if not c.done:
                c.finish(TURN_FAILED, "no next turn")
