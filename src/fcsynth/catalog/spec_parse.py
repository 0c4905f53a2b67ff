"""Parse a tool source's text (JSON, JSON Lines or YAML) into Python data, noting duplicate keys and fallbacks."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from fcsynth.errors import FcsynthError
from fcsynth.schema_keywords import MAX_DEPTH

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


def parse_text(text: str, name: str) -> tuple[Any, list[str], list[str]]:
    """Parse JSON, JSON Lines (a list), else YAML (JSON is YAML, but the JSON parser is
    faster); returns the data, fallbacks used and duplicate keys seen.

    YAML is read with YAML 1.2 scalar rules (only `true`/`false` are booleans, dates stay
    strings), as OpenAPI expects. A document the safe loader rejects because of a tag it does
    not know (`!Ref`, `!!python/object:...`, ...) is re-read with a loader that ignores unknown
    tags and keeps the tagged node as plain data (nothing is ever constructed or executed);
    the fallback is reported as `yaml_unknown_tags`. Duplicate mapping keys (JSON or YAML)
    keep the later value, as both parsers do, and are returned to be reported as `duplicate_key`.
    """
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
