"""Resolve `$ref`s in tool sources: resolvers, single lookups, and chains of refs between non-schema objects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urldefrag, urljoin

import referencing
import referencing.exceptions
import referencing.jsonschema

from fcsynth.catalog.url_policy import RefusedRef, check_remote_ref, is_url


class DanglingRef(Exception):
    """A `$ref` that cannot be resolved (missing pointer target, file or URL)."""

    def __init__(self, ref: str, detail: str = "") -> None:
        super().__init__(f"$ref {ref!r} cannot be resolved{': ' + detail if detail else ''}")
        self.ref = ref


class RefCycle(Exception):
    """A chain of `$ref`s to non-schema objects that loops (e.g. a parameter refers to itself)."""


def make_resolver(
    document: Any, uri: str, retrieve: Callable[[str], Any] | None = None, jsonschema_document: bool = False
) -> referencing.Resolver:
    """A resolver for `document` at `uri`; `retrieve(uri)` loads other documents it refers to.
    When `uri` is an http(s) URL, only http(s) documents are ever retrieved (`lookup` checks
    each ref against its own document first; this is the backstop)."""
    if jsonschema_document:
        resource = referencing.Resource.from_contents(document, default_specification=referencing.jsonschema.DRAFT202012)
    else:
        resource = referencing.Resource(contents=document, specification=referencing.Specification.OPAQUE)

    def _retrieve(target: str) -> referencing.Resource:
        if retrieve is None:
            raise referencing.exceptions.NoSuchResource(ref=target)
        check_remote_ref(uri, target, target)
        return referencing.Resource(contents=retrieve(target), specification=referencing.Specification.OPAQUE)

    registry: referencing.Registry = referencing.Registry(retrieve=_retrieve).with_resource(uri, resource)  # type: ignore[call-arg]
    return registry.resolver(base_uri=uri)


def lookup(resolver: referencing.Resolver, ref: str) -> referencing._core.Resolved:
    """Resolve one `$ref`, turning referencing's errors into DanglingRef; a ref from a remote
    document to anything but an http(s) URL raises RefusedRef (before anything is loaded)."""
    base = str(getattr(resolver, "_base_uri", ""))
    if is_url(base):
        # the URI referencing.Resolver.lookup resolves `ref` to
        target = base if ref.startswith("#") else urldefrag(urljoin(base, ref))[0]
        check_remote_ref(base, ref, target)
    try:
        return resolver.lookup(ref)
    except referencing.exceptions.Unresolvable as err:
        cause: BaseException | None = err
        while cause is not None:
            if isinstance(cause, RefusedRef):
                raise cause from None
            cause = cause.__cause__
        detail = type(err).__name__
        if isinstance(err, referencing.exceptions.PointerToNowhere):
            detail = "no such location in the document"
        elif isinstance(err, referencing.exceptions.Unretrievable):
            detail = "cannot load the referenced document"
        raise DanglingRef(ref, detail) from None


def deref(node: Any, resolver: referencing.Resolver) -> tuple[Any, referencing.Resolver]:
    """Follow a chain of `$ref`s on a non-schema object (parameter, body, response, path item)."""
    seen: set[int] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        if id(node) in seen:
            raise RefCycle(f"$ref {node['$ref']!r} refers back to itself")
        seen.add(id(node))
        resolved = lookup(resolver, node["$ref"])
        node, resolver = resolved.contents, resolved.resolver
    return node, resolver
