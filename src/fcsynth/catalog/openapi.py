"""OpenAPI 3.0 / 3.1 and Swagger 2.0 documents -> tools, one per operation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from fcsynth.catalog.naming import sanitize_toolkit
from fcsynth.catalog.normalize import Oversize, normalize
from fcsynth.catalog.openapi_operation import OperationReader
from fcsynth.catalog.progress import progress
from fcsynth.catalog.refs import DanglingRef, RefCycle, deref, make_resolver
from fcsynth.catalog.result import ImportResult
from fcsynth.catalog.schema import BOUNDED_REF_DEPTH, SchemaConverter
from fcsynth.catalog.source import Document, load_document
from fcsynth.catalog.url_policy import is_url
from fcsynth.errors import FcsynthError
from fcsynth.tools import Tool

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def import_openapi(
    source: str | Path, toolkit: str | None = None, budget_tokens: int | None = None, oversize: Oversize = "trim"
) -> ImportResult:
    """Import every operation of an OpenAPI/Swagger document (path or URL), one tool each (see OperationReader).

    Fallbacks (counted in the result):
    - a dangling `$ref` in an operation's parameters or body skips the operation
      (`dangling_ref`); in its response it drops the response schema
      (`dangling_ref_response_dropped`); a `$ref` cycle in a schema is cut (`ref_cycle_broken`,
      see fcsynth.catalog.schema).
    - a path item that is itself a dangling `$ref` counts as one skipped entry.
    """
    doc = load_document(source)
    spec = doc.data
    if not isinstance(spec, dict) or not ({"openapi", "swagger"} & spec.keys()):
        raise FcsynthError(f"{doc.name}: not an OpenAPI 3.x or Swagger 2.0 document (no `openapi` or `swagger` key)")
    if not isinstance(spec.get("paths"), dict):
        raise FcsynthError(f"{doc.name}: `paths` is missing or not a mapping")
    result = ImportResult()
    doc.report(result)
    title = (spec.get("info") or {}).get("title") if isinstance(spec.get("info"), dict) else None
    toolkit = toolkit or sanitize_toolkit(str(title or Path(urlparse(doc.name).path).stem))
    importer = _Importer(doc, spec, toolkit, result)
    with progress(importer.count(), f"{toolkit}: operations") as bar:
        normalize(importer.tools(bar), result, budget_tokens, oversize)
    for ref in importer.converter.cycle_refs:
        result.flag("ref_cycle_broken", f"{toolkit}: {ref}")
    if importer.converter.bounded:
        result.flag("expansion_bounded", f"{toolkit}: $refs inlined at most {BOUNDED_REF_DEPTH} levels deep "
                    f"({importer.converter.bounded_refs} cut)")
    return result


def _retrieve(uri: str) -> Any:
    """Load a document another document refers to: a local file (`file:` URI) or an http(s)
    URL; nothing else (`schema.lookup` has already refused non-http(s) refs of remote documents)."""
    parsed = urlparse(uri)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        return load_document(unquote(parsed.path)).data
    if is_url(uri):
        return load_document(uri).data
    raise FcsynthError(f"{uri}: not a local file or an http(s) URL")


class _Importer:
    def __init__(self, doc: Document, spec: dict[str, Any], toolkit: str, result: ImportResult) -> None:
        self.spec = spec
        self.toolkit = toolkit
        self.result = result
        self.resolver = make_resolver(spec, doc.uri, retrieve=_retrieve)
        self.converter = SchemaConverter(self.resolver)
        self.operations = OperationReader(doc, spec, toolkit, result, self.converter)

    def count(self) -> int:
        """About how many operations there are (for the progress bar)."""
        return sum(
            1 for path, item in self.spec["paths"].items() if isinstance(item, dict) and not str(path).startswith("x-")
            for method in HTTP_METHODS if method in item
        )

    def tools(self, bar: Any = None) -> Iterator[Tool]:
        """One candidate tool per operation (a generator, so normalization runs alongside)."""
        for path, item in self.spec["paths"].items():
            if str(path).startswith("x-"):
                continue
            if not isinstance(item, dict):
                self.result.entries += 1
                self.result.skip("malformed_path_item", f"{self.toolkit}/{path}: a path item must be a mapping, not {type(item).__name__}")
                continue
            try:
                item, item_resolver = deref(item, self.resolver)
            except (DanglingRef, RefCycle) as err:
                self.result.entries += 1
                self.result.skip("dangling_ref" if isinstance(err, DanglingRef) else "ref_cycle", f"{path}: {err}")
                continue
            if not isinstance(item, dict):
                self.result.entries += 1
                self.result.skip("malformed_path_item", f"{self.toolkit}/{path}: a path item must be a mapping")
                continue
            for method in HTTP_METHODS:
                if method not in item:
                    continue
                op = item[method]
                self.result.entries += 1
                label = f"{method.upper()} {path}"
                if bar is not None:
                    bar.update(1)
                if not isinstance(op, dict):
                    self.result.skip("malformed_operation", f"{self.toolkit}/{label}: an operation must be a mapping")
                    continue
                try:
                    tool = self.operations.operation(path, method, item, op, item_resolver)
                except DanglingRef as err:
                    self.result.skip("dangling_ref", f"{self.toolkit}/{label}: {err}")
                    continue
                except RefCycle as err:
                    self.result.skip("ref_cycle", f"{self.toolkit}/{label}: {err}")
                    continue
                except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as err:
                    self.result.skip("malformed_operation", f"{self.toolkit}/{label}: {type(err).__name__}: {err}"[:300])
                    continue
                yield tool
