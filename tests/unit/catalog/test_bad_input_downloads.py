"""Downloads of tool sources: a total deadline and size limit per import, and keys in URLs never shown."""

from __future__ import annotations

import http.server
import json
import time

import pytest

from helpers.catalog_import import (
    OLD_OUT,
    Route,
    fcsynth,
    one_line_error,
    serve,
    spec_with_schema_ref,
)


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
