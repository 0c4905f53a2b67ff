"""Bad input to `fcsynth import`, tool files and the catalog stage: one line on stderr naming
the problem, a non-zero exit, and an existing output left as it was. Every fixture is made here."""

from __future__ import annotations

import http.server
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from fcsynth.cli import main
from fcsynth.stage import run_stage

from helpers.paths import REPO

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


@pytest.fixture
def old_out(tmp_path: Path) -> Path:
    out = tmp_path / "tools.json"
    out.write_text(OLD_OUT)
    return out


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


# --- bounded loading ---------------------------------------------------------------------


def test_yaml_alias_bomb_fails_fast(tmp_path, monkeypatch, capsys, old_out) -> None:
    lines = ['openapi: 3.0.0', 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    source = write(tmp_path, "bomb.yaml", "\n".join(lines) + "\npaths: {}\n")
    assert source.stat().st_size < 1000
    start = time.monotonic()
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(old_out))
    one_line_error(code, err, "bomb.yaml", "expands to more than")
    assert time.monotonic() - start < 10
    assert old_out.read_text() == OLD_OUT


def test_yaml_alias_that_contains_itself(tmp_path, monkeypatch, capsys, old_out) -> None:
    source = write(tmp_path, "loop.yaml", "openapi: 3.0.0\npaths: &p {/x: *p}\n")
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(old_out))
    one_line_error(code, err, "loop.yaml", "refers to the mapping or list that contains it")
    assert old_out.read_text() == OLD_OUT


def test_json_nested_past_the_parser(tmp_path, monkeypatch, capsys, old_out) -> None:
    source = write(tmp_path, "deep.json", "[" * 200_000 + "]" * 200_000)
    code, _, err = fcsynth(monkeypatch, capsys, "import", "mcp", str(source), "--out", str(old_out))
    one_line_error(code, err, "deep.json", "nested too deeply")
    assert old_out.read_text() == OLD_OUT


def test_yaml_nested_deeper_than_the_limit(tmp_path, monkeypatch, capsys, old_out) -> None:
    source = write(tmp_path, "deep.yaml", "tools: " + "[" * 300 + "]" * 300 + "\n")
    code, _, err = fcsynth(monkeypatch, capsys, "import", "mcp", str(source), "--out", str(old_out))
    one_line_error(code, err, "deep.yaml", "nested deeper than 200 levels")
    assert old_out.read_text() == OLD_OUT


def test_file_over_the_size_limit(tmp_path, monkeypatch, capsys, old_out) -> None:
    import fcsynth.catalog.fetch as source_mod

    monkeypatch.setattr(source_mod, "MAX_SOURCE_BYTES", 1024 * 1024)
    source = write(tmp_path, "huge.json", json.dumps({**GOOD, "x-pad": "p" * (1024 * 1024)}))
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(old_out))
    one_line_error(code, err, "huge.json", "larger than the 1 MiB limit")
    assert old_out.read_text() == OLD_OUT


def test_not_utf8(tmp_path, monkeypatch, capsys, old_out) -> None:
    source = write(tmp_path, "latin1.yaml", "openapi: 3.0.0\ninfo: {title: caf\xe9}\npaths: {}\n".encode("latin-1"))
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(old_out))
    one_line_error(code, err, "latin1.yaml", "not UTF-8")
    assert old_out.read_text() == OLD_OUT


# --- remote sources: `$ref`s and download limits -------------------------------------------


Route = Callable[[http.server.BaseHTTPRequestHandler], None]


@pytest.fixture
def site() -> Iterator[tuple[str, dict[str, Route]]]:
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


SECRET = "{type: string, description: TOP-SECRET-123}\n"


@pytest.mark.parametrize(
    ("make_ref", "what"),
    [
        (lambda secret: secret.as_uri(), "a local file"),
        (lambda secret: f"file:{secret}", "a local file"),
        (lambda secret: f" {secret.as_uri()}", "a local file"),
        (lambda secret: "ftp://127.0.0.1:9/secret.yaml", "a 'ftp' URI (only http(s) refs are allowed)"),
        (lambda secret: "data:application/json,%7B%7D", "a 'data' URI (only http(s) refs are allowed)"),
    ],
    ids=["file-uri", "file-no-host", "file-uri-leading-space", "ftp", "data"],
)
def test_remote_spec_may_not_ref_local_files_or_other_schemes(tmp_path, monkeypatch, capsys, old_out, site, make_ref, what) -> None:
    base, routes = site
    ref = make_ref(write(tmp_path, "secret.yaml", SECRET))
    routes["/spec.json"] = serve(json.dumps(spec_with_schema_ref(ref)))
    url = f"{base}/spec.json"
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", url, "--out", str(old_out))
    line = one_line_error(code, err, f"{url}: $ref {ref!r} points to {what} from a remote document; refused")
    assert "TOP-SECRET" not in line and old_out.read_text() == OLD_OUT


def test_remote_path_item_ref_to_a_local_file_is_refused(tmp_path, monkeypatch, capsys, old_out, site) -> None:
    item = write(tmp_path, "item.yaml", "get: {operationId: leaked, description: TOP-SECRET-123, responses: {}}\n")
    base, routes = site
    routes["/spec.json"] = serve(json.dumps({**GOOD, "paths": {"/w": {"$ref": item.as_uri()}}}))
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", f"{base}/spec.json", "--out", str(old_out))
    one_line_error(code, err, f"{base}/spec.json: $ref '{item.as_uri()}' points to a local file from a remote document; refused")
    assert old_out.read_text() == OLD_OUT


def test_local_spec_via_a_remote_doc_may_not_reach_local_files(tmp_path, monkeypatch, capsys, old_out, site) -> None:
    """The rule is per document: a remote document a local spec refers to is still remote."""
    secret = write(tmp_path, "secret.yaml", SECRET)
    base, routes = site
    routes["/common.yaml"] = serve(f"Q: {{$ref: '{secret.as_uri()}'}}\n")
    source = write(tmp_path, "local.json", json.dumps(spec_with_schema_ref(f"{base}/common.yaml#/Q")))
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(old_out))
    one_line_error(code, err, f"{base}/common.yaml: $ref '{secret.as_uri()}' points to a local file from a remote document")
    assert old_out.read_text() == OLD_OUT


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/q.json", "http://[fe80::1]/q.json"])
def test_remote_spec_may_not_ref_a_link_local_address(tmp_path, monkeypatch, capsys, old_out, site, target) -> None:
    """Cloud metadata services answer on link-local addresses: never fetched for a remote document."""
    base, routes = site
    routes["/spec.json"] = serve(json.dumps(spec_with_schema_ref(target)))
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", f"{base}/spec.json", "--out", str(old_out))
    one_line_error(code, err, f"{base}/spec.json: $ref '{target}' points to a link-local address from a remote document")
    assert old_out.read_text() == OLD_OUT


@pytest.mark.parametrize("where", ["spec", "ref"])
def test_a_redirect_to_a_link_local_address_is_refused(tmp_path, monkeypatch, capsys, old_out, site, where) -> None:
    """A URL that passes the checks may not redirect to a metadata service either."""
    base, routes = site
    target = "http://169.254.169.254/latest/meta-data/q.json"

    def redirect(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", target)
        h.end_headers()

    routes["/moved.json"] = redirect
    routes["/spec.json"] = serve(json.dumps(spec_with_schema_ref(f"{base}/moved.json")))
    url = f"{base}/{'moved' if where == 'spec' else 'spec'}.json"
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", url, "--out", str(old_out))
    one_line_error(code, err, f"{base}/moved.json: redirects to a link-local address ({target}); refused")
    assert old_out.read_text() == OLD_OUT


def test_a_public_document_may_not_ref_a_private_address(monkeypatch) -> None:
    from fcsynth.catalog import url_policy as source

    real = source.network_of
    assert [real(u) for u in ("http://127.0.0.1/x", "http://10.1.2.3/x", "http://169.254.169.254/")] == [
        "private", "private", "link-local"]
    monkeypatch.setattr(source, "network_of", lambda url: "public" if "example.com" in url else "private")
    with pytest.raises(source.RefusedRef, match="points to a private address from a public document"):
        source.check_remote_ref("https://example.com/spec.json", "http://10.0.0.7/q.json", "http://10.0.0.7/q.json")
    source.check_remote_ref("http://10.0.0.5/spec.json", "http://10.0.0.7/q.json", "http://10.0.0.7/q.json")  # both inside


def test_allowed_refs_still_resolve(tmp_path, monkeypatch, capsys, site) -> None:
    """Not refused: remote -> remote (relative or absolute URL), local -> local, local -> remote."""
    base, routes = site
    routes["/common.yaml"] = serve("Id: {type: string, pattern: '^[a-z]+$'}\nAlias: {$ref: '#/Id'}\n")
    routes["/spec.json"] = serve(json.dumps(spec_with_schema_ref("common.yaml#/Alias")))
    write(tmp_path, "common.yaml", "Id: {type: integer}\n")
    local = write(tmp_path, "local.json", json.dumps(spec_with_schema_ref("common.yaml#/Id")))
    via_url = write(tmp_path, "via_url.json", json.dumps(spec_with_schema_ref(f"{base}/common.yaml#/Alias")))
    for source, expected in ((f"{base}/spec.json", {"type": "string", "pattern": "^[a-z]+$"}),
                             (str(local), {"type": "integer"}), (str(via_url), {"type": "string", "pattern": "^[a-z]+$"})):
        out = tmp_path / "out.json"
        code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", source, "--out", str(out))
        assert code == 0, err
        assert json.loads(out.read_text())[0]["parameters"]["properties"]["q"] == expected, source


def _drip_body(h: http.server.BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.end_headers()
    h.wfile.write(b'{"openapi": "3.0.0", "paths": {}, "x-pad": "')
    for _ in range(30):  # 6 s, a byte at a time: each read is quick, the download is not
        time.sleep(0.2)
        h.wfile.write(b"p")
    h.wfile.write(b'"}')


def _drip_headers(h: http.server.BaseHTTPRequestHandler) -> None:
    h.wfile.write(b"HTTP/1.0 200 OK\r\nX-Slow: ")
    for _ in range(30):
        time.sleep(0.2)
        h.wfile.write(b"s")
    h.wfile.write(b"\r\n\r\n{}")


@pytest.mark.parametrize("route", [_drip_body, _drip_headers], ids=["body", "headers"])
def test_url_download_has_a_total_deadline(monkeypatch, capsys, old_out, site, route) -> None:
    import fcsynth.catalog.fetch as source_mod

    monkeypatch.setattr(source_mod, "URL_TOTAL_TIMEOUT_S", 1)
    base, routes = site
    routes["/slow.json"] = route
    start = time.monotonic()
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", f"{base}/slow.json", "--out", str(old_out))
    one_line_error(code, err, f"{base}/slow.json: download not finished within the 1 s limit for a tool source")
    assert time.monotonic() - start < 4
    assert old_out.read_text() == OLD_OUT


def test_the_deadline_holds_for_all_downloads_of_one_import(monkeypatch, capsys, old_out, site) -> None:
    """Each remote document within the limit, all of them together past it: cut off."""
    import fcsynth.catalog.fetch as source_mod

    monkeypatch.setattr(source_mod, "URL_TOTAL_TIMEOUT_S", 2)
    base, routes = site

    def slow(body: str) -> Route:
        def route(h: http.server.BaseHTTPRequestHandler) -> None:
            time.sleep(1.2)
            serve(body)(h)
        return route

    routes["/spec.json"] = serve(json.dumps(spec_with_schema_ref(f"{base}/a.yaml#/Q")))
    routes["/a.yaml"] = slow(f"Q: {{$ref: '{base}/b.yaml#/Q'}}\n")
    routes["/b.yaml"] = slow("Q: {type: string}\n")
    start = time.monotonic()
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", f"{base}/spec.json", "--out", str(old_out))
    one_line_error(code, err, f"{base}/b.yaml", "2 s limit", "all downloads of this import together")
    assert time.monotonic() - start < 5
    assert old_out.read_text() == OLD_OUT


def test_the_size_limit_holds_for_all_downloads_of_one_import(monkeypatch, capsys, old_out, site) -> None:
    import fcsynth.catalog.fetch as source_mod

    monkeypatch.setattr(source_mod, "MAX_SOURCE_BYTES", 4000)
    base, routes = site
    pad = "#" + "p" * 2000 + "\n"
    routes["/spec.json"] = serve(json.dumps(spec_with_schema_ref(f"{base}/a.yaml#/Q")))
    routes["/a.yaml"] = serve(pad + f"Q: {{$ref: '{base}/b.yaml#/Q'}}\n")
    routes["/b.yaml"] = serve(pad + "Q: {type: string}\n")
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", f"{base}/spec.json", "--out", str(old_out))
    one_line_error(code, err, f"{base}/b.yaml: larger than the 4,000-byte limit", "all downloads of this import together")
    assert old_out.read_text() == OLD_OUT


def _huge_content_length(h: http.server.BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "2000000")
    h.end_headers()
    time.sleep(5)  # and never send the body


def _streamed(h: http.server.BaseHTTPRequestHandler) -> None:
    h.send_response(200)  # no Content-Length: the body ends when the connection closes
    h.end_headers()
    h.wfile.write(b'{"openapi": "3.0.0", "paths": {}, "x-pad": "' + b"p" * 5000 + b'"}')


@pytest.mark.parametrize(
    ("route", "detail"),
    [(_huge_content_length, " (Content-Length: 2,000,000 bytes)"), (_streamed, "")],
    ids=["content-length", "streamed"],
)
def test_url_download_has_a_size_limit(monkeypatch, capsys, old_out, site, route, detail) -> None:
    import fcsynth.catalog.fetch as source_mod

    monkeypatch.setattr(source_mod, "MAX_SOURCE_BYTES", 1000)
    monkeypatch.setattr(source_mod, "URL_TIMEOUT_S", 3)
    base, routes = site
    routes["/big.json"] = route
    start = time.monotonic()
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", f"{base}/big.json", "--out", str(old_out))
    line = one_line_error(code, err, f"{base}/big.json: larger than the 1,000-byte limit for a tool source")
    assert line.endswith(f"limit for a tool source{detail}")
    assert time.monotonic() - start < 2.5  # refused up front, not after the 3 s read timeout
    assert old_out.read_text() == OLD_OUT


# --- tool names ----------------------------------------------------------------------------


def test_tool_name_with_a_trailing_newline_is_renamed(tmp_path, monkeypatch, capsys) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather\n", "parameters": {"type": "object"}}}]
    source = write(tmp_path, "openai.json", json.dumps(tools))
    out = tmp_path / "out.json"
    code, stdout, err = fcsynth(monkeypatch, capsys, "import", "openai", str(source), "--out", str(out), "--toolkit", "kit")
    assert code == 0, err
    assert "  flagged renamed_invalid_name: 1  e.g. kit/get_weather\\n: 'get_weather\\n' -> get_weather\n" in stdout
    assert [r["name"] for r in json.loads(out.read_text())] == ["get_weather"]


def test_toolkit_name_with_a_trailing_newline_is_rejected(tmp_path, monkeypatch, capsys, old_out) -> None:
    source = write(tmp_path, "good.json", json.dumps(GOOD))
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(old_out), "--toolkit", "kit\n")
    one_line_error(code, err, "toolkit name 'kit\\n' must match")
    assert old_out.read_text() == OLD_OUT


# --- --out and empty imports -------------------------------------------------------------


def test_out_is_a_directory(tmp_path, monkeypatch, capsys) -> None:
    source = write(tmp_path, "good.json", json.dumps(GOOD))
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(tmp_path))
    one_line_error(code, err, "is a directory")


def test_out_under_a_regular_file(tmp_path, monkeypatch, capsys) -> None:
    source = write(tmp_path, "good.json", json.dumps(GOOD))
    blocker = write(tmp_path, "blocker", "I am a file")
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(blocker / "sub" / "t.json"))
    one_line_error(code, err, "blocker is a file, not a directory")
    assert blocker.read_text() == "I am a file"


def test_zero_tools_fails_and_keeps_the_old_out(tmp_path, monkeypatch, capsys, old_out) -> None:
    spec = {**GOOD, "paths": {"/a": {"get": {"parameters": [{"$ref": "#/components/parameters/nope"}], "responses": {}}}}}
    source = write(tmp_path, "dangling.json", json.dumps(spec))
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(old_out))
    one_line_error(code, err, "no tools imported", "dangling_ref: 1", "left unchanged")
    assert old_out.read_text() == OLD_OUT


def test_openai_parameters_not_an_object_is_not_a_no_arg_tool(tmp_path, monkeypatch, capsys, old_out) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": "a string"}},
             {"type": "function", "function": {"name": "g", "parameters": ["a", "list"]}}]
    source = write(tmp_path, "openai.json", json.dumps(tools))
    code, _, err = fcsynth(monkeypatch, capsys, "import", "openai", str(source), "--out", str(old_out))
    one_line_error(code, err, "no tools imported", "parameters_not_object: 2")
    assert old_out.read_text() == OLD_OUT


# --- what importers drop or change is reported --------------------------------------------


def test_reports_mcp_tool_without_input_schema_and_renamed_name(tmp_path, monkeypatch, capsys) -> None:
    payload = {"tools": [{"name": "bad name!", "inputSchema": {"type": "object"}}, {"name": "ping"},
                         {"name": "str", "inputSchema": "nope"}]}
    source = write(tmp_path, "mcp.json", json.dumps(payload))
    out = tmp_path / "out.json"
    code, stdout, err = fcsynth(monkeypatch, capsys, "import", "mcp", str(source), "--out", str(out))
    assert code == 0, err
    assert stdout.startswith("2 of 3 entries became tools, 1 skipped")
    assert "skipped parameters_not_object: 1" in stdout
    assert "flagged no_input_schema: 1  e.g. mcp/ping" in stdout
    assert "flagged renamed_invalid_name: 1  e.g. mcp/bad name!: 'bad name!' -> bad_name" in stdout
    assert [r["name"] for r in json.loads(out.read_text())] == ["bad_name", "ping"]


def test_reports_duplicate_yaml_keys(tmp_path, monkeypatch, capsys) -> None:
    spec = ("openapi: 3.0.0\ninfo: {title: dup, version: '1'}\npaths:\n"
            "  /a:\n    get: {operationId: first, responses: {}}\n"
            "  /a:\n    get: {operationId: second, responses: {}}\n")
    source = write(tmp_path, "dup.yaml", spec)
    code, stdout, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(tmp_path / "o.json"))
    assert code == 0, err
    assert "flagged duplicate_key: 1  e.g. " in stdout and "line 6: key '/a' (the later value is kept)" in stdout


def test_reports_duplicate_json_keys(tmp_path, monkeypatch, capsys) -> None:
    text = ('{"openapi": "3.0.0", "info": {"title": "dup", "version": "1"}, "paths": {'
            '"/a": {"get": {"operationId": "one", "responses": {}}}, "/a": {"post": {"operationId": "two", "responses": {}}}}}')
    source = write(tmp_path, "dup.json", text)
    code, stdout, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(tmp_path / "o.json"))
    assert code == 0, err
    assert "flagged duplicate_key: 1" in stdout and "key '/a'" in stdout


def test_reports_malformed_path_items_and_operations(tmp_path, monkeypatch, capsys) -> None:
    spec = {**GOOD, "paths": {**GOOD["paths"], "/list": ["not", "a", "mapping"], "/b": {"get": "not an operation"}}}
    source = write(tmp_path, "malformed.json", json.dumps(spec))
    code, stdout, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(tmp_path / "o.json"))
    assert code == 0, err
    assert stdout.startswith("1 of 3 operations became tools, 2 skipped")
    assert "skipped malformed_path_item: 1  e.g. good//list: a path item must be a mapping, not list" in stdout
    assert "skipped malformed_operation: 1  e.g. good/GET /b: an operation must be a mapping" in stdout


def test_reports_swagger_body_mixed_with_formdata_and_dropped_parameters(tmp_path, monkeypatch, capsys) -> None:
    spec = {"swagger": "2.0", "info": {"title": "mix", "version": "1"}, "paths": {"/m": {"post": {
        "operationId": "mixed",
        "parameters": [
            {"name": "payload", "in": "body", "required": True, "schema": {"type": "object", "properties": {"x": {"type": "string"}}}},
            {"name": "file", "in": "formData", "type": "file"},
            {"in": "query", "type": "string"},
            {"name": "odd", "in": "somewhere", "type": "string"},
        ],
        "responses": {"200": {"description": "ok"}},
    }}}}
    source = write(tmp_path, "mix.json", json.dumps(spec))
    out = tmp_path / "o.json"
    code, stdout, err = fcsynth(monkeypatch, capsys, "import", "openapi", str(source), "--out", str(out))
    assert code == 0, err
    assert "flagged body_and_formdata: 1  e.g. mix/POST /m: formData parameters dropped (file); the body is kept" in stdout
    assert "flagged parameter_dropped: 2" in stdout
    assert set(json.loads(out.read_text())[0]["parameters"]["properties"]) == {"x"}


# --- tool files (`fcsynth grammar`, `format: catalog`) ------------------------------------


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"toolkit": "k", "name": "n"}', "expected a JSON list of tool records, not a dict"),
        ('["just a string"]', "[0]: not a tool record (a str, expected an object)"),
        ('[{"toolkit": "k", "name": "bad name!", "parameters": {"type": "object"}}]', "[0]: `name` 'bad name!' must match"),
        ('[{"toolkit": "k", "name": "get_weather\\n", "parameters": {"type": "object"}}]', "[0]: `name` 'get_weather\\n' must match"),
        ('[{"toolkit": "k\\n", "name": "n", "parameters": {"type": "object"}}]', "[0]: `toolkit` 'k\\n' must match"),
        ('[{"toolkit": "k", "name": "n", "parameters": "none"}]', "[0]: tool 'n': `parameters` must be a JSON Schema object, not a str"),
        ('[{"toolkit": "k", "name": "n", "parameters": {"type": "string"}}]', "must be a JSON Schema object, not type 'string'"),
    ],
)
def test_grammar_rejects_a_bad_tools_file(tmp_path, monkeypatch, capsys, content: str, needle: str) -> None:
    tools = write(tmp_path, "tools.json", content)
    code, _, err = fcsynth(monkeypatch, capsys, "grammar", str(tools))
    one_line_error(code, err, "tools.json", needle)


def test_grammar_rejects_a_directory_as_tools_file(tmp_path, monkeypatch, capsys) -> None:
    code, _, err = fcsynth(monkeypatch, capsys, "grammar", str(tmp_path))
    one_line_error(code, err, "is a directory")


# --- the catalog stage ---------------------------------------------------------------------


def _project(tmp_path: Path, sources: list[dict]) -> Path:
    (tmp_path / "data" / "builtin_tools").mkdir(parents=True)
    (tmp_path / "data" / "sources").mkdir()
    kit = [{"toolkit": "kit", "name": "ping", "description": "Ping.", "parameters": {"type": "object", "properties": {}}}]
    (tmp_path / "data" / "builtin_tools" / "kit.json").write_text(json.dumps(kit))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["catalog"] = {**params["catalog"], "sources": sources}
    params["toolkits"] = {"toolkits": ["kit"], "bundles": [], "weights": {}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = tmp_path / "data" / "catalog" / "tools.parquet"
    out.parent.mkdir(parents=True)
    out.write_bytes(b"the earlier catalog")
    return tmp_path


def _run_stage(root: Path, capsys) -> tuple[int, str]:
    sys.path.insert(0, str(REPO / "stages"))
    try:
        import catalog as stage  # stages/catalog.py
    finally:
        sys.path.pop(0)
    code = 0
    try:
        catalog = root / "data" / "catalog"
        run_stage("catalog", lambda: stage.main(catalog / "tools.parquet", catalog / "graph.parquet", root), argv=[])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    return code, capsys.readouterr().err


def test_stage_source_yielding_no_tools(tmp_path, capsys) -> None:
    root = _project(tmp_path, [{"format": "openai", "path": "data/sources/empty.json", "toolkit": "e"}])
    (root / "data" / "sources" / "empty.json").write_text("[]")
    code, err = _run_stage(root, capsys)
    one_line_error(code, err, "fcsynth catalog: error:", "data/sources/empty.json (openai) yields no tools")
    assert (root / "data" / "catalog" / "tools.parquet").read_bytes() == b"the earlier catalog"


def test_stage_catalog_file_with_non_records(tmp_path, capsys) -> None:
    root = _project(tmp_path, [{"format": "catalog", "path": "data/sources/records.json"}])
    (root / "data" / "sources" / "records.json").write_text('[{"toolkit": "x", "name": "ok", "parameters": {}}, 42]')
    code, err = _run_stage(root, capsys)
    one_line_error(code, err, "data/sources/records.json[1]: not a tool record (a int, expected an object)")
    assert (root / "data" / "catalog" / "tools.parquet").read_bytes() == b"the earlier catalog"


def test_stage_alias_bomb_source(tmp_path, capsys) -> None:
    root = _project(tmp_path, [{"format": "mcp", "path": "data/sources/bomb.yaml"}])
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    (root / "data" / "sources" / "bomb.yaml").write_text("\n".join(lines) + "\ntools: *a8\n")
    code, err = _run_stage(root, capsys)
    one_line_error(code, err, "catalog.sources:", "bomb.yaml: expands to more than")
    assert (root / "data" / "catalog" / "tools.parquet").read_bytes() == b"the earlier catalog"


URL_KEY = "sk-url-secret-24680"


def test_a_key_in_a_source_url_is_neither_printed_nor_stored(tmp_path, monkeypatch, capsys, site) -> None:
    base, routes = site
    routes[f"/spec.json?api_key={URL_KEY}"] = serve(json.dumps(spec_with_schema_ref("#/components/schemas/Q") | {
        "components": {"schemas": {"Q": {"type": "string"}}}}))
    out = tmp_path / "out.json"
    code, stdout, err = fcsynth(monkeypatch, capsys, "import", "openapi", f"{base}/spec.json?api_key={URL_KEY}",
                                "--out", str(out))
    assert code == 0, err
    assert URL_KEY not in out.read_text() + stdout + err
    assert json.loads(out.read_text())[0]["source"] == f"{base}/spec.json?api_key=[redacted]"
    code, stdout, err = fcsynth(monkeypatch, capsys, "import", "openapi", f"{base}/missing.json?token={URL_KEY}",
                                "--out", str(out))
    assert code == 1 and URL_KEY not in stdout + err and "token=[redacted]" in err
