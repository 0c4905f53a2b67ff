"""`fcsynth import` run in-process on bad tool sources, shared by the catalog bad-input tests:
the one-line error check, a source writer and a local HTTP server with routes to serve."""

from __future__ import annotations

import http.server
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fcsynth.cli import main

GOOD = {"openapi": "3.0.0", "info": {"title": "good", "version": "1"},
        "paths": {"/a": {"get": {"operationId": "getA", "responses": {"200": {"description": "ok"}}}}}}
OLD_OUT = '[{"kept": "the earlier import"}]\n'


def fcsynth(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run the `fcsynth` entry point in-process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["fcsynth", *args])
    code = 0
    try:
        main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, *needles: str) -> str:
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def old_out_file(tmp_path: Path) -> Path:
    """An earlier import's output, which a failed import must leave as it was."""
    out = tmp_path / "tools.json"
    out.write_text(OLD_OUT)
    return out


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


Route = Callable[[http.server.BaseHTTPRequestHandler], None]
Site = tuple[str, dict[str, Route]]


@contextmanager
def local_site() -> Iterator[Site]:
    """A local HTTP server: (base URL, routes); `routes[path] = fn(handler)` answers GET path."""
    routes: dict[str, Route] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            route = routes.get(self.path)
            try:
                route(self) if route else self.send_error(404)
            except OSError:
                pass  # the client hung up (a download cut off at its limit)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", routes
    finally:
        server.shutdown()
        server.server_close()


def serve(body: str | bytes) -> Route:
    data = body.encode() if isinstance(body, str) else body

    def route(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    return route


def spec_with_schema_ref(ref: str) -> dict:
    return {**GOOD, "paths": {"/w": {"get": {
        "operationId": "getW", "parameters": [{"name": "q", "in": "query", "schema": {"$ref": ref}}],
        "responses": {"200": {"description": "ok"}}}}}}
