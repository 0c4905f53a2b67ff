"""Read a tool source (JSON or YAML, local file or http(s) URL) into plain Python data.

YAML is read with YAML 1.2 scalar rules (only `true`/`false` are booleans, dates stay
strings), as OpenAPI expects. A document the safe loader rejects because of a tag it does
not know (`!Ref`, `!!python/object:...`, ...) is re-read with a loader that ignores unknown
tags and keeps the tagged node as plain data (nothing is ever constructed or executed);
the fallback is reported as `yaml_unknown_tags`.

Loading is bounded: a file over MAX_SOURCE_BYTES, data nested deeper than MAX_DEPTH, or
YAML whose anchors and aliases would expand to more than MAX_EXPANDED_NODES nodes (a
"billion laughs"), or that refer to themselves, is a one-line error. PyYAML and the JSON
parser keep an alias as one shared object, so the check walks each shared object once and
costs no more than the file. Duplicate mapping keys (JSON or YAML) keep the later value,
as both parsers do, and are reported as `duplicate_key`.

A URL download is bounded in total, not just per read: it must finish (DNS, connect, TLS,
headers and body) within URL_TOTAL_TIMEOUT_S and stay within MAX_SOURCE_BYTES (a larger
Content-Length is refused before the body is read; the body is read in chunks and cut off
past the limit); each connect or read also gives up after URL_TIMEOUT_S of silence. Both
limits hold for all downloads of one import together (`download_budget`: a spec and every
remote document its `$ref`s reach). Only http(s) is fetched, redirects included, and a
redirect may go only where a remote `$ref` could. Either limit is a one-line error naming
the URL.

`$ref`s from a remote document: a document loaded from an http(s) URL may only refer to
other http(s) documents (and to its own `#/...` fragments). A `$ref` in it to `file:`, to a
local path or to any other scheme (`ftp:`, `data:`, ...) is refused with a one-line error
(`check_remote_ref`), so a spec from the web cannot copy local files into a tools file.
Nor may it refer to a link-local address (169.254.0.0/16, where cloud metadata services
answer), or, when it came from a public host, to a private or loopback one.
Local documents may refer to local files and to URLs as before.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from fcsynth.errors import FcsynthError, redact, register_url_secrets

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_URL_RE = re.compile(r"^https?://", re.IGNORECASE)
URL_TIMEOUT_S = 30  # each connect or read of a URL download
URL_TOTAL_TIMEOUT_S = 120  # the whole URL download, however slowly the server sends it
MAX_SOURCE_BYTES = 64 * 1024 * 1024  # the largest spec of the APIs.guru directory is 47 MB
MAX_DEPTH = 200
MAX_EXPANDED_NODES = 5_000_000  # a 4 MB JSON spec has about 300k
_CHUNK_BYTES = 64 * 1024


def is_url(source: str) -> bool:
    """True for an http(s) URL."""
    return bool(_URL_RE.match(source))


class RefusedRef(FcsynthError):
    """A `$ref` (or redirect) that a remote document may not follow, or a download past the
    import's limits (see the module docstring): it stops the whole import."""


def network_of(url: str) -> str:
    """Where the host of `url` lives: `link-local` (169.254.0.0/16, fe80::/10: cloud metadata
    services), `private` (loopback, RFC 1918, unique-local) or `public` (also: unresolvable)."""
    try:
        addresses = {ipaddress.ip_address(info[4][0].split("%")[0]) for info in socket.getaddrinfo(urlsplit(url).hostname or "", None)}
    except (OSError, ValueError, UnicodeError):
        return "public"  # the download fails on its own
    if any(a.is_link_local for a in addresses):
        return "link-local"
    return "private" if any(a.is_private or a.is_loopback for a in addresses) else "public"


def check_remote_ref(referrer: str, ref: str, target: str) -> None:
    """Refuse `ref` (which resolves to `target`) in the document at `referrer` when that
    document came from an http(s) URL and `target` is not an http(s) URL, is on a link-local
    address, or is on a private one while the document is public."""
    if not is_url(referrer):
        return
    if is_url(target):
        where = refused_network(referrer, target)
        if where:
            raise RefusedRef(f"{referrer}: $ref {ref!r} points to a {where} address from a "
                             f"{'remote' if where == 'link-local' else 'public'} document; refused")
        return
    scheme = urlsplit(target).scheme.lower()
    if scheme in ("", "file", "http", "https") or len(scheme) == 1:  # `C:/...`: a Windows path
        what = "a local file"
    else:
        what = f"a {scheme!r} URI (only http(s) refs are allowed)"
    raise RefusedRef(f"{referrer}: $ref {ref!r} points to {what} from a remote document; refused")


class SpecLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loader with YAML 1.2 booleans and no timestamp conversion; records duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicate_keys: list[str] = []

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[tuple[str, str]] = set()
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<` merges are meant to be overridden
                key = (key_node.tag, key_node.value)
                if key in seen:
                    self.duplicate_keys.append(f"line {key_node.start_mark.line + 1}: key {key_node.value!r}")
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
SpecLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


class TolerantSpecLoader(SpecLoader):
    """SpecLoader that reads nodes with unknown tags as plain scalars, lists or mappings."""


def _untagged(loader: yaml.Loader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


TolerantSpecLoader.add_multi_constructor("!", _untagged)
TolerantSpecLoader.add_multi_constructor("tag:", _untagged)


@dataclass
class Document:
    """A loaded source: its data, a base URI for `$ref`s, and fallbacks used while reading
    (`fallbacks`: reasons; `warnings`: (reason, detail) pairs)."""

    data: Any
    uri: str
    name: str
    fallbacks: list[str]
    warnings: list[tuple[str, str]] = field(default_factory=list)

    def report(self, result: Any) -> None:
        """Count the fallbacks and warnings in an ImportResult."""
        for fallback in self.fallbacks:
            result.flag(fallback, self.name)
        for reason, detail in self.warnings:
            result.flag(reason, f"{self.name}: {detail}")


def read_text(source: str) -> str:
    """The text of a local file or http(s) URL; a one-line error if it cannot be read."""
    if is_url(source):
        return _decode(_download(source), source)
    path = Path(source)
    if not path.is_file():
        raise FcsynthError(f"{source}: not found" if not path.exists() else f"{source}: not a file")
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            raise FcsynthError(_too_big(source))
        return _decode(path.read_bytes(), source)
    except OSError as err:
        raise FcsynthError(f"{source}: cannot read: {err.strerror or err}") from None


def _too_big(source: str, detail: str = "") -> str:
    limit = f"{MAX_SOURCE_BYTES // 2**20} MiB" if MAX_SOURCE_BYTES % 2**20 == 0 else f"{MAX_SOURCE_BYTES:,}-byte"
    return f"{source}: larger than the {limit} limit for a tool source{detail}"


@dataclass
class _Budget:
    """What the downloads of one import may still use (download time, not parsing)."""

    seconds_left: float
    bytes_left: int
    downloads: int = 0


_BUDGET: ContextVar[_Budget | None] = ContextVar("fcsynth_download_budget", default=None)
_TOGETHER = " (all downloads of this import together)"


@contextmanager
def download_budget() -> Iterator[None]:
    """Hold every download inside (one import: a spec and the documents its `$ref`s reach) to
    URL_TOTAL_TIMEOUT_S and MAX_SOURCE_BYTES in all; nested uses share the outer budget."""
    token = _BUDGET.set(_Budget(URL_TOTAL_TIMEOUT_S, MAX_SOURCE_BYTES)) if _BUDGET.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _BUDGET.reset(token)


def _download(url: str) -> bytes:
    """The body at `url`, bounded by URL_TOTAL_TIMEOUT_S and MAX_SOURCE_BYTES (what is left of
    them inside `download_budget`: past the first download, a limit reached stops the import,
    RefusedRef). It runs in a worker thread so the deadline holds in every phase (a slow DNS
    lookup, TLS handshake or trickle of headers included); past it the connection is shut
    down and the caller gets the error at once."""
    budget = _BUDGET.get()
    shared = budget is not None and budget.downloads > 0
    seconds = URL_TOTAL_TIMEOUT_S if budget is None else budget.seconds_left
    job = _Download(url, MAX_SOURCE_BYTES if budget is None else budget.bytes_left, _TOGETHER if shared else "")
    if seconds <= 0 or job.max_bytes <= 0:
        raise RefusedRef(f"{url}: not fetched: the downloads of this import used up its "
                         f"{URL_TOTAL_TIMEOUT_S:g} s / {MAX_SOURCE_BYTES // 2**20} MiB limit")
    worker = threading.Thread(target=job.run, name="fcsynth-download", daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(seconds)
    if budget is not None:
        budget.seconds_left -= time.monotonic() - started
        budget.bytes_left -= job.read
        budget.downloads += 1
    if worker.is_alive():
        job.abort()
        message = f"{url}: download not finished within the {URL_TOTAL_TIMEOUT_S:g} s limit for a tool source"
        raise RefusedRef(message + _TOGETHER) if shared else FcsynthError(message)
    if job.error is not None:
        raise job.error
    return job.body


def refused_network(source: str, target: str) -> str | None:
    """Why `target` may not be reached from a document at `source`: a link-local address
    (cloud metadata services), or a private one from a public document; else None."""
    where = network_of(target)
    if where == "link-local" or (where == "private" and network_of(source) == "public"):
        return where
    return None


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only where a remote $ref could point (`refused_network`)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        where = refused_network(req.full_url, newurl)
        if where:
            raise RefusedRef(f"{req.full_url}: redirects to a {where} address ({newurl}); refused")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _Download:
    """One download, run by `_download` in a worker thread."""

    def __init__(self, url: str, max_bytes: int = MAX_SOURCE_BYTES, scope: str = "") -> None:
        self.url = url
        self.max_bytes = max_bytes
        self.scope = scope  # said with a size limit reached: _TOGETHER when the import's budget was smaller
        self.read = 0  # bytes read so far
        self.body = b""
        self.error: BaseException | None = None
        self.cancelled = False
        self.sockets: list[socket.socket] = []

    def run(self) -> None:
        try:
            self.body = self._fetch()
        except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException, ValueError) as err:
            reason = getattr(err, "reason", None) or err
            self.error = FcsynthError(f"{self.url}: cannot fetch: {reason}")
        except BaseException as err:  # anything else: re-raised in the caller's thread
            self.error = err

    def _too_big(self, detail: str) -> FcsynthError:
        return RefusedRef(_too_big(self.url, detail) + self.scope) if self.scope else FcsynthError(_too_big(self.url, detail))

    def abort(self) -> None:
        """Stop the download: shut down its connections so a blocked read returns."""
        self.cancelled = True
        for sock in list(self.sockets):
            _shutdown(sock)

    def watch(self, sock: socket.socket) -> None:
        """Remember a connection (one opened after `abort`, e.g. by a redirect, is cut at once)."""
        self.sockets.append(sock)
        if self.cancelled:
            _shutdown(sock)

    def _fetch(self) -> bytes:
        opener = urllib.request.OpenerDirector()  # http(s) only: no ftp:, file: or data:, not even by redirect
        handlers = [urllib.request.ProxyHandler(), urllib.request.UnknownHandler(), _HTTPHandler(self), _HTTPSHandler(self),
                    urllib.request.HTTPDefaultErrorHandler(), _CheckedRedirects(),
                    urllib.request.HTTPErrorProcessor()]
        for handler in handlers:
            opener.add_handler(handler)
        with opener.open(self.url, timeout=URL_TIMEOUT_S) as resp:
            length = getattr(resp, "length", None)
            if isinstance(length, int) and length > self.max_bytes:
                raise self._too_big(f" (Content-Length: {length:,} bytes)")
            chunks: list[bytes] = []
            size = 0
            while not self.cancelled:
                chunk = resp.read1(_CHUNK_BYTES)
                if not chunk:
                    break
                size += len(chunk)
                self.read = size
                if size > self.max_bytes:
                    raise self._too_big("")
                chunks.append(chunk)
            missing = getattr(resp, "length", None)
            if not self.cancelled and isinstance(missing, int) and missing > 0:
                raise http.client.IncompleteRead(b"".join(chunks), missing)
        return b"".join(chunks)


def _shutdown(sock: socket.socket) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain call, also for an SSLSocket
    except OSError:
        pass


def _watched(base: type[http.client.HTTPConnection], job: _Download) -> type[http.client.HTTPConnection]:
    """`base` that hands each socket it connects to `job`, so a download past its deadline can be cut."""

    class Watched(base):  # type: ignore[valid-type,misc]
        def connect(self) -> None:
            super().connect()
            job.watch(self.sock)

    return Watched


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, job: _Download) -> None:
        super().__init__()
        self._connection = _watched(http.client.HTTPConnection, job)

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, job: _Download) -> None:
        super().__init__()
        self._connection = _watched(http.client.HTTPSConnection, job)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req, context=self._context)


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FcsynthError(f"{source}: not UTF-8 text (byte {err.start})") from None


def parse_text(text: str, name: str) -> tuple[Any, list[str], list[str]]:
    """Parse JSON, JSON Lines (a list), else YAML (JSON is YAML, but the JSON parser is
    faster); returns the data, fallbacks used and duplicate keys seen."""
    duplicates: list[str] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) < len(pairs):
            seen: set[str] = set()
            duplicates.extend(f"key {k!r}" for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        return out

    stripped = text.lstrip()
    try:
        if stripped[:1] in ("{", "["):
            try:
                return json.loads(text, object_pairs_hook=pairs_hook), [], duplicates
            except json.JSONDecodeError as err:
                if err.msg == "Extra data":
                    try:
                        return [json.loads(line, object_pairs_hook=pairs_hook) for line in text.splitlines() if line.strip()], [], duplicates
                    except json.JSONDecodeError:
                        pass
                if name.lower().endswith((".json", ".jsonl")):
                    raise FcsynthError(f"{name}: not valid JSON: {err}") from None
                duplicates.clear()
        try:
            data, yaml_duplicates = _load_yaml(text, SpecLoader)
            return data, [], yaml_duplicates
        except yaml.constructor.ConstructorError:
            pass
        except yaml.YAMLError as err:
            raise FcsynthError(f"{name}: not valid JSON or YAML: {_yaml_error_line(err)}") from None
        try:
            data, yaml_duplicates = _load_yaml(text, TolerantSpecLoader)
            return data, ["yaml_unknown_tags"], yaml_duplicates
        except yaml.YAMLError as err:
            raise FcsynthError(f"{name}: not valid YAML: {_yaml_error_line(err)}") from None
    except RecursionError:
        raise FcsynthError(f"{name}: nested too deeply (the limit is {MAX_DEPTH} levels)") from None


def _load_yaml(text: str, loader_cls: type[SpecLoader]) -> tuple[Any, list[str]]:
    loader = loader_cls(text)
    try:
        return loader.get_single_data(), loader.duplicate_keys  # type: ignore[return-value]
    finally:
        loader.dispose()


def _yaml_error_line(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}"


def source_uri(source: str) -> str:
    """The base URI `$ref`s of `source` resolve against."""
    return source if is_url(source) else Path(source).resolve().as_uri()


def load_document(source: str | Path) -> Document:
    """Read and parse `source` (path or URL) into a Document (bounded: see the module docstring)."""
    source = str(source)
    if is_url(source):  # a key in the URL is printed and stored as [redacted]
        register_url_secrets(source)
    data, fallbacks, duplicates = parse_text(read_text(source), redact(source))
    plain = _Plain(redact(source))
    data = plain(data, 0)
    warnings = [("duplicate_key", f"{d} (the later value is kept)") for d in duplicates]
    return Document(data=data, uri=source_uri(source), name=redact(source), fallbacks=fallbacks, warnings=warnings)


class _Plain:
    """Make mapping keys strings (YAML allows `200:` or `1.0:` as keys; JSON Schema does
    not), keeping shared (aliased) objects shared, and enforce the depth and expansion limits."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.done: dict[int, tuple[Any, int]] = {}  # id -> (converted, expanded node count)
        self.active: set[int] = set()
        self.expanded = 0

    def __call__(self, node: Any, depth: int) -> Any:
        try:
            return self._walk(node, depth)[0]
        except RecursionError:
            raise FcsynthError(f"{self.name}: nested too deeply (the limit is {MAX_DEPTH} levels)") from None

    def _walk(self, node: Any, depth: int) -> tuple[Any, int]:
        if not isinstance(node, (dict, list)):
            return node, 0  # only mappings and lists are counted
        key = id(node)
        if key in self.done:
            out, count = self.done[key]
            self._count(count)
            return out, count
        if key in self.active:
            raise FcsynthError(f"{self.name}: a YAML alias refers to the mapping or list that contains it")
        if depth >= MAX_DEPTH:
            raise FcsynthError(f"{self.name}: nested deeper than {MAX_DEPTH} levels")
        self.active.add(key)
        count = 1
        if isinstance(node, dict):
            out: Any = {}
            for k, v in node.items():
                value, n = self._walk(v, depth + 1)
                out[k if isinstance(k, str) else _key_text(k)] = value
                count += n
        else:
            out = []
            for v in node:
                value, n = self._walk(v, depth + 1)
                out.append(value)
                count += n
        self.active.discard(key)
        self.done[key] = (out, count)
        self._count(1)
        return out, count

    def _count(self, n: int) -> None:
        self.expanded += n
        if self.expanded > MAX_EXPANDED_NODES:
            raise FcsynthError(
                f"{self.name}: expands to more than {MAX_EXPANDED_NODES:,} nodes (YAML anchors and aliases nested too far?)"
            )


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)
