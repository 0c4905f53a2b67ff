"""Read a tool source's text from a local file or an http(s) URL, within size and time limits."""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from fcsynth.catalog.url_policy import RefusedRef, is_url, refused_network
from fcsynth.errors import FcsynthError

URL_TIMEOUT_S = 30  # each connect or read of a URL download
URL_TOTAL_TIMEOUT_S = 120  # the whole URL download, however slowly the server sends it
MAX_SOURCE_BYTES = 64 * 1024 * 1024  # the largest spec of the APIs.guru directory is 47 MB
_CHUNK_BYTES = 64 * 1024


def read_text(source: str) -> str:
    """The text of a local file or http(s) URL; a one-line error if it cannot be read.

    A file over MAX_SOURCE_BYTES is refused. A URL download is bounded in total, not just per
    read: it must finish (DNS, connect, TLS, headers and body) within URL_TOTAL_TIMEOUT_S and
    stay within MAX_SOURCE_BYTES (a larger Content-Length is refused before the body is read;
    the body is read in chunks and cut off past the limit); each connect or read also gives up
    after URL_TIMEOUT_S of silence. Both limits hold for all downloads of one import together
    (`download_budget`: a spec and every remote document its `$ref`s reach). Only http(s) is
    fetched, redirects included, and a redirect may go only where a remote `$ref` could
    (fcsynth.catalog.url_policy). Either limit is a one-line error naming the URL.
    """
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


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FcsynthError(f"{source}: not UTF-8 text (byte {err.start})") from None


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
