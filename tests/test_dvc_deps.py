"""dvc.yaml deps cover the code: each stage's static fcsynth import closure, plus the prompt
templates and grammar files that code reads, is listed (as files or as a folder above them)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
TEMPLATE_DIRS = ("prompts", "grammars")


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


def _stages() -> dict[str, dict]:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def _covered(path: Path, deps: list[str]) -> bool:
    rel = path.relative_to(REPO)
    return any(rel == Path(d) or Path(d) in rel.parents for d in deps)


@pytest.mark.parametrize("stage", sorted(_stages()))
def test_stage_deps_cover_its_import_closure_and_templates(stage):
    spec = _stages()[stage]
    script = REPO / spec["cmd"].split()[-1]
    deps = [d if isinstance(d, str) else next(iter(d)) for d in spec["deps"]]
    assert _covered(script, deps), f"{stage}: its script {script.name} is not a dep"
    modules = import_closure(script)
    needed = modules | data_files(modules)
    missing = sorted(str(p.relative_to(REPO)) for p in needed if not _covered(p, deps))
    assert not missing, f"dvc.yaml stage {stage!r} misses deps: {missing}"


def test_closure_follows_lazy_imports_and_package_inits(tmp_path):
    """The checker itself: a lazy import inside a function and a parent package count."""
    script = tmp_path / "s.py"
    script.write_text("def main():\n    from fcsynth.simulation.constraints import assistant_grammar\n")
    closure = {str(p.relative_to(SRC)) for p in import_closure(script)}
    assert {"fcsynth/__init__.py", "fcsynth/simulation/__init__.py", "fcsynth/simulation/constraints.py"} <= closure
    assert "fcsynth/dml/grammar.py" in closure  # imported by constraints.py
    assert REPO / "grammars" / "assistant_turn.lark.j2" in data_files(import_closure(script))
