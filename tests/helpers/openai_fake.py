"""A scriptable OpenAI-compatible HTTP server on 127.0.0.1 for the openai backend's tests.

It answers /v1/chat/completions and /v1/completions like vLLM's server does (the extra
body keys arrive at the top level of the JSON), records every request body, and can be
told to ignore constraints, inject error statuses or raw 200 bodies (an HTML page, cut-off
JSON), or answer slowly.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fcsynth.llm.fake_backend import minimal_instance

Responder = Callable[[dict[str, Any]], str]


def honoring(body: dict[str, Any]) -> str:
    """An answer within the request's constraint (as far as a fake can: canaries and JSON)."""
    so = body.get("structured_outputs") or {}
    if "json" in so:
        return json.dumps(minimal_instance(so["json"], random.Random(body.get("seed"))))
    if "choice" in so:
        return so["choice"][0]
    if "regex" in so or "grammar" in so:
        return "fcsynth-canary-417"  # only canaries carry these in the fake's tests
    return "free text"


def ignoring(body: dict[str, Any]) -> str:
    """What a server that drops unknown keys answers: plain chat."""
    return "Hello! How can I help you today?"


class FakeOpenAIServer:
    """`with FakeOpenAIServer() as s:` then point the backend at `s.base_url`."""

    def __init__(self, responder: Responder = honoring, latency_s: float = 0.0) -> None:
        self.responder = responder
        self.latency_s = latency_s
        self.bodies: list[dict[str, Any]] = []
        self.failures: list[int] = []  # statuses to answer next, one per request, before any answer
        self.raw: list[tuple[str, bytes]] = []  # (content type, body) to answer next with 200, one per request
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any] | tuple[str, bytes]]:
        """(status, JSON payload), or (200, (content type, raw body)) for a queued raw body."""
        with self.lock:
            self.bodies.append(body)
            status = self.failures.pop(0) if self.failures else 200
            if status == 200 and self.raw:
                return 200, self.raw.pop(0)
        if status != 200:
            return status, {"error": {"message": f"injected {status}", "type": "fake", "code": status}}
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        time.sleep(self.latency_s)
        with self.lock:
            self.in_flight -= 1
        text = self.responder(body)
        usage = {"prompt_tokens": 11, "completion_tokens": len(text.split()), "total_tokens": 11 + len(text.split())}
        if path.endswith("/chat/completions"):
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            return 200, {"id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                         "choices": [choice], "usage": usage}
        choice = {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}
        return 200, {"id": "c", "object": "text_completion", "created": 0, "model": body["model"],
                     "choices": [choice], "usage": usage}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                body["_authorization"] = self.headers.get("Authorization")
                status, payload = fake.answer(self.path, body)
                content_type, data = payload if isinstance(payload, tuple) else ("application/json", json.dumps(payload).encode())
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("retry-after-ms", "10")  # keep the client's backoff short in tests
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
