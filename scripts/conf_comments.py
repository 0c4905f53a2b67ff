"""The keys of conf/'s YAML files with their comments (ruamel.yaml's round-trip loader).

A key's comment sits at the end of its line (continued by the comment-only lines right below
it that are indented further than the key and the next line), and/or on the comment lines
directly above it. The comment block at the top of a file describes the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedBase, CommentedMap
from ruamel.yaml.tokens import CommentToken

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


@dataclass(frozen=True)
class Key:
    path: tuple[str, ...]  # within its file, without the file's package
    value: Any  # plain Python data
    comment: str  # "" when the key has none
    needs_comment: bool  # False for `defaults` and a _global_ file's group names


@dataclass(frozen=True)
class ConfFile:
    description: str  # the comment block at the top
    package: tuple[str, ...]  # where its keys land in params.yaml
    defaults: list[Any]  # its Hydra defaults list
    keys: list[Key]


def _comment_tokens(node: Any) -> list[CommentToken]:
    """Every comment token ruamel's round-trip loader attached anywhere under `node`."""
    if isinstance(node, CommentToken):
        return [node]
    found: list[CommentToken] = []
    if isinstance(node, list):
        for item in node:
            found += _comment_tokens(item)
    if isinstance(node, CommentedBase):
        found += _comment_tokens([node.ca.comment, *node.ca.items.values(), node.ca.end])
        found += _comment_tokens(list(node.values()) if isinstance(node, dict) else list(node))
    return found


def _comment_lines(data: Any, lines: list[str]) -> dict[int, tuple[int, str]]:
    """{line: (column of '#', text)} of every comment, checked against the source lines."""
    placed: dict[int, tuple[int, str]] = {}
    for token in _comment_tokens(data):
        pieces = token.value.split("\n")
        first = next(i for i, piece in enumerate(pieces) if "#" in piece)
        for i, piece in enumerate(pieces[first:]):
            if not piece.strip():
                continue
            line = token.start_mark.line + i
            column = token.start_mark.column if i == 0 else len(piece) - len(piece.lstrip())
            if line >= len(lines) or not lines[line][column:].startswith(piece.strip()):
                raise ValueError(f"cannot place comment {piece.strip()!r} (line {line + 1})")
            placed[line] = (column, piece.strip().lstrip("#").strip())
    return placed


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def _mapping_keys(node: CommentedMap, prefix: tuple[str, ...]) -> list[tuple[tuple[str, ...], int, int, Any]]:
    """(path, line, column, value) of every key of the block mappings under `node`, in file order."""
    found = []
    for key, value in node.items():
        line, column = node.lc.key(key)
        found.append(((*prefix, str(key)), line, column, value))
        if isinstance(value, CommentedMap) and not value.fa.flow_style():
            found += _mapping_keys(value, (*prefix, str(key)))
    return found


class _Lines:
    """A file's lines as blank, comment-only or content, with its comments by line."""

    def __init__(self, text: str, data: Any) -> None:
        self.text = text.splitlines()
        self.comments = _comment_lines(data, self.text)
        self.used: set[int] = set()  # comment lines already given to a key or to the header

    def is_comment(self, i: int) -> bool:
        return i in self.comments and not self.text[i][: self.comments[i][0]].strip()

    def indent(self, i: int) -> int:
        return len(self.text[i]) - len(self.text[i].lstrip())

    def header(self) -> list[int]:
        """The comment-only lines the file starts with."""
        end = next((i for i in range(len(self.text)) if not self.is_comment(i)), len(self.text))
        self.used.update(range(end))
        return list(range(end))

    def comment_of(self, line: int, column: int) -> str:
        """The comment of the key at (line, column): the comment-only lines right above it, its
        end-of-line comment, and the comment-only lines below that indented further than both the
        key and the line after them."""
        above = line
        while above > 0 and self.is_comment(above - 1) and above - 1 not in self.used:
            above -= 1
        parts = [self.comments[i][1] for i in range(above, line)]
        self.used.update(range(above, line))
        if line in self.comments and not self.is_comment(line):
            parts.append(self.comments[line][1])
            below = line + 1
            while below < len(self.text) and self.is_comment(below):
                below += 1
            limit = max(column, self.indent(below) if below < len(self.text) else column)
            for i in range(line + 1, below):
                if self.comments[i][0] <= limit:
                    break
                parts.append(self.comments[i][1])
                self.used.add(i)
        return " ".join(parts)


def read_conf_file(path: Path, group: str) -> ConfFile:
    """A conf/ file's keys with their comments; `group` is its folder under conf/ ("" for config.yaml)."""
    text = path.read_text()
    data = YAML().load(text) or CommentedMap()
    lines = _Lines(text, data)
    header = [lines.comments[i][1] for i in lines.header()]
    directives = [c.split()[1] for c in header if c.startswith("@package")]
    package = tuple(group.split("/")) if group else ()
    if directives:
        package = () if directives[0] == "_global_" else tuple(directives[0].split("."))
    keys = []
    for path_in_file, line, column, value in _mapping_keys(data, ()):
        is_group_name = directives[:1] == ["_global_"] and len(path_in_file) == 1 and isinstance(value, CommentedMap)
        needs_comment = path_in_file != ("defaults",) and not is_group_name
        keys.append(Key(path_in_file, _plain(value), lines.comment_of(line, column), needs_comment))
    description = " ".join(c for c in header if not c.startswith("@package"))
    return ConfFile(description, package, _plain(data.get("defaults", [])), keys)


def conf_files(conf_dir: Path = CONF_DIR) -> dict[str, ConfFile]:
    """{path relative to conf_dir: its ConfFile} of every YAML file under conf_dir."""
    return {str(p.relative_to(conf_dir)): read_conf_file(p, "" if p.parent == conf_dir else str(p.parent.relative_to(conf_dir)))
            for p in sorted(conf_dir.rglob("*.yaml"))}


def uncommented_keys(conf_dir: Path = CONF_DIR) -> list[str]:
    """'FILE: KEY' of every key under conf_dir that needs a comment and has none."""
    return [f"{conf_dir.name}/{name}: {'.'.join(key.path)}" for name, conf in conf_files(conf_dir).items()
            for key in conf.keys if key.needs_comment and not key.comment]
