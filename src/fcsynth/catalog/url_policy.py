"""Which URLs a remote tool source may reach: `$ref`s and redirects to local files or private addresses are refused."""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from fcsynth.errors import FcsynthError

_URL_RE = re.compile(r"^https?://", re.IGNORECASE)


def is_url(source: str) -> bool:
    """True for an http(s) URL."""
    return bool(_URL_RE.match(source))


class RefusedRef(FcsynthError):
    """A `$ref` (or redirect) that a remote document may not follow (check_remote_ref), or a
    download past the import's limits (fcsynth.catalog.fetch): it stops the whole import."""


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
    address, or is on a private one while the document is public.

    A document loaded from an http(s) URL may only refer to other http(s) documents (and to
    its own `#/...` fragments): a `$ref` in it to `file:`, to a local path or to any other
    scheme (`ftp:`, `data:`, ...) is refused with a one-line error, so a spec from the web
    cannot copy local files into a tools file. Nor may it refer to a link-local address
    (169.254.0.0/16, where cloud metadata services answer), or, when it came from a public
    host, to a private or loopback one. Local documents may refer to local files and to URLs.
    """
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


def refused_network(source: str, target: str) -> str | None:
    """Why `target` may not be reached from a document at `source`: a link-local address
    (cloud metadata services), or a private one from a public document; else None."""
    where = network_of(target)
    if where == "link-local" or (where == "private" and network_of(source) == "public"):
        return where
    return None
