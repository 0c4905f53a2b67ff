"""Read params.yaml: strict YAML (no duplicate keys), validated into a Config with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fcsynth.config.llm import LLM_BACKENDS
from fcsynth.config.schema import Config
from fcsynth.errors import FcsynthError
from fcsynth.paths import PARAMS_FILE


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line naming the first bad key (dotted path) and what is wrong with it."""
    first = err.errors()[0]
    loc, msg = list(first["loc"]), first["msg"]
    kind = first["type"]
    if kind == "union_tag_invalid":  # llm.backend picks the llm section's model
        loc.append(first["ctx"]["discriminator"].strip("'"))
        msg = f"must be one of {first['ctx']['expected_tags']}, not {first['ctx']['tag']!r}"
    elif kind == "union_tag_not_found":
        loc.append(first["ctx"]["discriminator"].strip("'"))
        kind = "missing"
    elif loc[:1] == ["llm"] and len(loc) > 1 and loc[1] in LLM_BACKENDS:
        del loc[1]  # the union's tag, not a key
    key = ".".join(str(p) for p in loc) or "<root>"
    if kind == "extra_forbidden":
        msg = "unknown key"
    elif kind == "missing":
        msg = "missing key (every key has its value in conf/: run `make params`)"
    elif kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    if key == "<root>" and kind == "value_error":
        return f"{source}: {msg}"
    extra = f" (and {len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return f"{source}: {key}: {msg}{extra}"


def parse_config(data: dict[str, Any], source: str = "params.yaml") -> Config:
    """Validate a params mapping; raise FcsynthError naming the bad key."""
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise FcsynthError(format_validation_error(err, source)) from None


class UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader for which a key given twice in one mapping is an error (PyYAML keeps the
    last one silently, so a second `dml:` block would replace the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise FcsynthError(
                    f"{key_node.start_mark.name}:{line}: duplicate key {key!r} (first at line {seen[key]})"
                )
            if isinstance(key, (str, int, float, bool)):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> Any:
    """A YAML file's data; a duplicate key or bad YAML is a one-line error naming the file."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise FcsynthError(f"{path}: cannot read: {err}") from None
    try:
        loader = UniqueKeyLoader(text)
        loader.name = str(path)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        raise FcsynthError(f"{path}: not valid YAML: {str(err).splitlines()[0]}") from None


def load_params(path: Path | str = PARAMS_FILE) -> Config:
    """Read and validate params.yaml: the one loader of every stage script and command."""
    path = Path(path)
    if not path.exists():
        raise FcsynthError(f"{path}: not found (run `make params` to compose it from conf/)")
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise FcsynthError(f"{path}: expected a mapping at the top level")
    return parse_config(data, str(path.name))
