"""Write dvc.yaml's code deps from each stage's import closure: `python scripts/dvc_deps.py [--check]`.

A stage's code deps are its script, every fcsynth module it may import (lazy and
TYPE_CHECKING imports and the packages' `__init__` included) and the prompt and grammar
templates those modules name by a string constant. They replace the stage's entries under
src/, stages/, prompts/ and grammars/; its data deps (data/, metrics/) are kept as written.
`--check` writes nothing and exits 1 naming the stages whose deps are not current.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
DVC_YAML = REPO / "dvc.yaml"
TEMPLATE_DIRS = ("prompts", "grammars")
CODE_PREFIXES = ("src/", "stages/", *(f"{d}/" for d in TEMPLATE_DIRS))


def _module_file(name: str) -> Path | None:
    base = SRC.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported(path: Path) -> set[str]:
    """fcsynth modules a file imports anywhere (lazy and TYPE_CHECKING imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.split(".")[0] == "fcsynth")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.split(".")[0] == "fcsynth":
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)  # a name may be a submodule
    out = set()
    for name in names:
        parts = name.split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))  # parents' __init__ run too
    return out


def import_closure(script: Path) -> set[Path]:
    """Every fcsynth source file that running `script` may import."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        for name in _imported(path):
            found = _module_file(name)
            if found and found not in seen:
                seen.add(found)
                todo.append(found)
    return seen


def data_files(modules: set[Path]) -> set[Path]:
    """Prompt templates and grammar files named by a string constant in the modules."""
    out = set()
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith((".j2", ".lark")):
                for folder in TEMPLATE_DIRS:
                    if (REPO / folder / node.value).is_file():
                        out.add(REPO / folder / node.value)
    return out


def code_deps(script: Path) -> list[str]:
    """The script, its import closure and the templates it reads, as sorted repo-relative paths."""
    modules = import_closure(script)
    return sorted(str(p.relative_to(REPO)) for p in {script} | modules | data_files(modules))


def _dep_path(dep: object) -> str:
    return dep if isinstance(dep, str) else str(next(iter(dep)))  # type: ignore[call-overload]


def _is_code(dep: object) -> bool:
    path = _dep_path(dep)
    return path.startswith(CODE_PREFIXES) or path in TEMPLATE_DIRS


def updated(stages: dict) -> list[str]:
    """Set every stage's code deps in place; the names of the stages whose deps changed."""
    changed = []
    for name, spec in stages.items():
        script = REPO / str(spec["cmd"]).split()[1]  # `python stages/<name>.py --option PATH ...`
        data = [d for d in spec.get("deps", []) if not _is_code(d)]
        deps = [*code_deps(script), *data]
        if [_dep_path(d) for d in spec.get("deps", [])] != [_dep_path(d) for d in deps]:
            spec["deps"] = deps
            changed.append(name)
    return changed


def main(argv: list[str]) -> int:
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    doc = yaml.load(DVC_YAML)
    changed = updated(doc["stages"])
    if "--check" in argv:
        if changed:
            print(f"dvc.yaml: code deps not current for {', '.join(changed)} (run `python scripts/dvc_deps.py`)")
            return 1
        return 0
    if changed:
        with DVC_YAML.open("w") as out:
            yaml.dump(doc, out)
    print(f"dvc.yaml: code deps rewritten for {', '.join(changed) or 'no stage'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
