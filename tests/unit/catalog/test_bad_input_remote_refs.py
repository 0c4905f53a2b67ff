"""`$ref`s of remote specs: no local files, other schemes, link-local or private addresses; allowed ones resolve."""

from __future__ import annotations

import http.server
import json

import pytest

from helpers.catalog_import import (
    GOOD,
    OLD_OUT,
    fcsynth,
    one_line_error,
    serve,
    spec_with_schema_ref,
    write,
)

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
