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
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from outlines.types import CFG, JsonSchema

from fcsynth.chat.prompting import PromptBuilder, hermes_messages
from fcsynth.checkpoint import Checkpoint
from fcsynth.config import Config
from fcsynth.constraints import turns
from fcsynth.constraints.example_values import example_value
from fcsynth.constraints.narrowing import narrowed_response
from fcsynth.constraints.turns import Constraint
from fcsynth.curate.checks.degenerate import conversation_texts, markup_fragments, repeated_ngram_share
from fcsynth.curate.checks.placeholders import placeholders
from fcsynth.curate.checks.repeats import repeated_calls
from fcsynth.dml.render import dump_json
from fcsynth.llm import Backend, Request, derive_seed
from fcsynth.llm.base import ERROR_FINISH
from fcsynth.prompts import render
from fcsynth.runner import make_request, run_requests, stream_requests
from fcsynth.simulation import environment
from fcsynth.simulation.identifiers import known_values
from fcsynth.simulation.state import ASSISTANT, CHECKS_FAILED, CONTEXT_FULL, TOOL, TURN_FAILED, USER, Conversation

USER_TEMPLATE, ASSISTANT_TEMPLATE, TOOL_TEMPLATE = "user.j2", "assistant.j2", "tool_environment.j2"
CLARITY = {
    "excellent": "you state every detail up front",
    "good": "you state the goal clearly but give some details only later",
    "average": "you are vague at first and give details only when asked",
}
STREAMING_BACKENDS = ("vllm", "fake")  # backends whose generate takes follow-ups into its running batch
MAX_STATE_CALLS = 8  # earlier calls the simulated tool sees (the most recent)
_CALL_BLOCK = re.compile(r"<tool_call>\n(.*?)\n</tool_call>", re.DOTALL)


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
        reveal = [conv.facts[name] for name in turn.get("reveal", []) if name in conv.facts]
        transcript = []
        for m in conv.messages:
            if m["role"] == USER:
                transcript.append({"role": "You", "content": m["content"]})
            elif m["role"] == ASSISTANT and m.get("tool_calls"):
                names = ", ".join(c["function"]["name"] for c in m["tool_calls"])
                transcript.append({"role": "Assistant", "content": f"(uses {names})"})
            elif m["role"] == ASSISTANT:
                transcript.append({"role": "Assistant", "content": m["content"]})
        bp = conv.blueprint
        text = render(
            USER_TEMPLATE, persona=json.loads(bp["persona"]), scenario=bp["scenario"], outline=bp["outline"],
            clarity=CLARITY.get(bp["clarity"], bp["clarity"]), transcript=transcript, number=number, total=len(conv.turns),
            kind=turn["kind"], withheld=turn.get("withheld", ""), reveal=[n for n in turn.get("reveal", []) if n in conv.facts],
        )
        constraint = turns.user_constraint(reveal, self.cfg.conversations.user_text_chars)
        prompt, raw = self._chat(text)
        if not self._fits(conv, constraint, self._budget(prompt, raw)):
            return []
        key = f"m{len(conv.messages)}"
        fake = f"Please handle {_fake_words(conv.id, key)}" + (f": {', '.join(reveal)}." if reveal else ".")
        return [Action(conv, USER, key, self._request(conv, key, prompt, raw, constraint, fake))]

    def _assistant_mode(self, conv: Conversation) -> tuple[str, tuple[int, int]]:
        turn, steps, dml = conv.turn, conv.steps, self.cfg.dml
        if turn["kind"] != "task" or conv.text_only_turn == conv.user_turns:
            return "text", (1, 1)
        parallel = conv.parallel_due() and steps == 0 and dml.max_parallel_calls > 1 and conv.single_call_turn != conv.user_turns
        calls = (2, dml.max_parallel_calls) if parallel else (1, 1)
        if turn.get("error") and conv.last_step_failed() and steps < dml.max_steps_per_turn:
            return "call", calls
        if steps < turn["steps"]:
            return "call", calls
        if steps < dml.max_steps_per_turn:
            return "either", calls
        return "text", calls

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
        constraint = turns.assistant_grammar(conv.tools, self.options, known, mode, calls, budget,
                                                 self.cfg.conversations.max_tokens)
        if not self._fits(conv, constraint, budget):
            return []
        key = f"m{len(conv.messages)}"
        fake = _fake_assistant(constraint, conv.id, key)
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
                state=_world_state(conv.messages[:-1]), call={"name": tool.name, "arguments": args}, error=error,
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
            candidate = _parse(action.role, text)
        except ValueError as err:
            conv.failures["unparseable"] += 1
            self._failed(action, f"{action.role} turn unparseable: {err}"[:300], TURN_FAILED)
            return
        if action.role == TOOL:
            found = self._response_placeholders(conv, action, candidate)
            if found:  # a simulated answer curate would reject: generated again, like a turn
                conv.failures["placeholder"] += 1
                self._failed(action, f"tool response: placeholder: {found[0]}"[:300], CHECKS_FAILED)
                return
            conv.partial[action.call_index] = {"content": dump_json(candidate)}
            conv.accepted.append(action.request.id)
            conv.tightened_responses += bool(action.extra.get("tightened"))
            conv.add_responses()
            return
        problems = self._problems(conv, candidate)
        conv.failures.update(p.split(":")[0] for p in problems)
        last_try = conv.attempts.get(action.key, 0) >= self._retries(conv)
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
        if conv.attempts[action.key] > self._retries(conv):
            conv.finish(end, reason)

    def _retries(self, conv: Conversation) -> int:
        """How often a failing turn of `conv` is generated again: more while no turn is complete,
        since ending then keeps nothing of the conversation."""
        cfg = self.cfg.conversations
        return cfg.max_turn_retries if conv.has_complete_turn() else max(cfg.max_turn_retries, cfg.first_turn_retries)

    def _response_placeholders(self, conv: Conversation, action: Action, response: Any) -> list[str]:
        """Placeholder values in a simulated tool response, past curate's limit (none when off)."""
        limit = self.cfg.curate.max_placeholder_values
        if limit is None:
            return []
        name = conv.pending_calls()[action.call_index]["function"]["name"]
        _, found = placeholders(conv.id, [{"role": TOOL, "name": name, "content": dump_json(response)}], conv.schemas,
                                self.cfg.curate.example_similarity)
        return found if len(found) > limit else []

    def _problems(self, conv: Conversation, candidate: dict[str, Any]) -> list[str]:
        """The rule checks a new user or assistant turn fails (curate's checks and limits)."""
        cur = self.cfg.curate
        if "calls" in candidate:
            message = {"role": ASSISTANT, "content": "", "tool_calls": [
                {"id": f"check_{i}", "type": "function", "function": c} for i, c in enumerate(candidate["calls"])]}
        else:
            message = {"role": USER if "user" in candidate else ASSISTANT, "content": candidate["text"]}
        problems = []
        if message["content"]:
            texts = [message["content"]]
            # curate measures repeats over the whole conversation's text, so the turn is measured with it
            if repeated_ngram_share([*conversation_texts(conv.messages), *texts], cur.ngram_size) > cur.max_repeated_ngram_share:
                problems.append("degenerate_text")
            asked = "\n".join([conv.blueprint["scenario"], *(m["content"] for m in conv.messages if m["role"] == USER)])
            if cur.reject_markup and markup_fragments(texts, asked):
                problems.append("markup")
        _, found = placeholders(conv.id, [message], conv.schemas, cur.example_similarity)
        if cur.max_placeholder_values is not None and len(found) > cur.max_placeholder_values:
            problems.append("placeholder: " + found[0])
        if message.get("tool_calls") and cur.max_repeated_calls is not None:
            _, before = repeated_calls(conv.messages)
            _, after = repeated_calls([*conv.messages, message])
            if len(after) > len(before) and len(after) > cur.max_repeated_calls:
                problems.append("repeated_call: " + after[-1])
        return problems

    # ---- rounds or a stream -----------------------------------------------------------------
    def run(self, conversations: list[Conversation]) -> None:
        """Simulate until every conversation is over: streamed where the backend takes follow-ups
        into its running batch (offline vLLM, fake), else in rounds."""
        if self.streaming:
            self.stream(conversations)
        else:
            self.rounds_of(conversations)
        for c in conversations:  # unreachable with a correct plan; never leave one open
            if not c.done:
                c.finish(TURN_FAILED, "no next turn")

    def stream(self, conversations: list[Conversation]) -> None:
        """Each conversation's next turn is requested as soon as its last one is back."""
        in_flight: dict[str, int] = {}
        by_id: dict[str, Action] = {}

        def next_requests(conv: Conversation) -> list[Request]:
            actions = self.actions(conv)
            by_id.update((a.request.id, a) for a in actions)
            in_flight[conv.id] = len(actions)
            return [a.request for a in actions]

        def follow_up(request: Request, row: dict[str, Any]) -> list[Request]:
            action = by_id.pop(request.id)
            self.generated.append(row)
            self.apply(action, row)
            in_flight[action.conv.id] -= 1
            return [] if in_flight[action.conv.id] or action.conv.done else next_requests(action.conv)

        stream_requests([r for c in conversations for r in next_requests(c)], self.checkpoint, self.backend, follow_up)

    def rounds_of(self, conversations: list[Conversation]) -> None:
        """Round by round: every unfinished conversation's next turn, one batch per round."""
        limit = 1 + sum(len(c.turns) for c in conversations) * (4 + 3 * self.cfg.dml.max_steps_per_turn) * (
            1 + max(self.cfg.conversations.max_turn_retries, self.cfg.conversations.first_turn_retries))
        for _ in range(limit):
            actions = [a for c in conversations if not c.done for a in self.actions(c)]
            if not actions:
                return
            self.rounds += 1
            rows = run_requests([a.request for a in actions], self.checkpoint, self.backend)
            for a in actions:
                row = rows[a.request.id]
                self.generated.append(row)
                self.apply(a, row)


def _parse(role: str, text: str) -> dict[str, Any]:
    """A turn's output as {"text"} / {"calls"} (+ "reasoning"), or {"response"} for a tool."""
    if role == TOOL:
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(str(err)) from None
    if role == USER:
        return {"user": True, "text": text.strip()}
    reasoning = None
    if text.startswith("<think>"):
        reasoning, _, text = text[len("<think>"):].partition("</think>")
    if not text.startswith("<tool_call>"):
        out: dict[str, Any] = {"text": text.strip()}
    else:
        calls = []
        for block in _CALL_BLOCK.findall(text):
            try:
                call = json.loads(block)
            except json.JSONDecodeError as err:
                raise ValueError(f"tool call is not JSON: {err}") from None
            calls.append({"name": call["name"], "arguments": call["arguments"]})
        if not calls:
            raise ValueError("no complete <tool_call> block")
        out = {"calls": calls}
    if reasoning is not None:
        out["reasoning"] = reasoning
    return out


def _world_state(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier calls of the conversation with their responses (the most recent ones)."""
    calls = {c["id"]: c["function"] for m in messages for c in m.get("tool_calls") or []}
    state = [
        {"name": calls[m["tool_call_id"]]["name"], "arguments": calls[m["tool_call_id"]]["arguments"], "response": m["content"]}
        for m in messages if m["role"] == TOOL and m.get("tool_call_id") in calls
    ]
    return state[-MAX_STATE_CALLS:]


def _fake_words(cid: str, key: str) -> str:
    """Words that differ from turn to turn, so fake texts do not repeat (unit tests only)."""
    rng = random.Random(f"{cid}/{key}")
    return " and ".join(f"item {rng.randint(100, 99999)}" for _ in range(2))


def _fake_assistant(constraint: Constraint, cid: str, key: str) -> str:
    """What the fake backend answers for an assistant turn (unit tests only): the fewest
    calls its grammar allows, or text."""
    if not constraint.offered:
        return f"Done with {_fake_words(cid, key)}."
    blocks = []
    for k in range(constraint.calls[0]):
        c = constraint.offered[k % len(constraint.offered)]
        value = example_value(c.args, f"{c.tool.name}/arguments", key=f"{cid}/{key}/{k}")
        blocks.append(turns.CALL_HEAD.format(name=json.dumps(c.tool.name)) + json.dumps(value, ensure_ascii=False) + turns.CALL_TAIL)
    return "\n".join(blocks)
