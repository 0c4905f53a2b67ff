"""The library's imports follow the stage order: no module imports a module of a later stage.

Each package (or module) has a layer: the shared core first, then the stages in pipeline order.
A module may import modules of its own layer or an earlier one, so a stage's code never pulls
in (and never reruns for) a later stage's. And no module is over 300 lines.
"""

from __future__ import annotations

import ast

from helpers.paths import REPO

SRC = REPO / "src" / "fcsynth"
MAX_MODULE_LINES = 300
LAYERS = {  # the longest matching prefix wins; anything unlisted is the shared core (0)
    "fcsynth.catalog": 1, "fcsynth.bfcl.suite": 1, "fcsynth.bfcl.apis": 1,  # the BFCL wheel's data and APIs
    "fcsynth.constraints": 2, "fcsynth.quality": 2,
    "fcsynth.constraints.match": 0,  # the grammar matcher every backend checks an answer with
    "fcsynth.generation": 3, "fcsynth.generation.scenarios": 3,
    "fcsynth.generation.blueprints": 4, "fcsynth.generation.plan": 4,
    "fcsynth.simulation": 5, "fcsynth.generation.conversations": 5,
    "fcsynth.generation.system_prompts": 6,
    "fcsynth.judge": 7,
    "fcsynth.curate": 8,
    "fcsynth.export": 9,
    "fcsynth.train": 10,
    "fcsynth.evaluate": 11, "fcsynth.bfcl": 11,
    "fcsynth.report": 12, "fcsynth.diff": 12,
    "fcsynth.cli": 13,
}


def layer(module: str) -> int:
    matches = [p for p in LAYERS if module == p or module.startswith(p + ".")]
    return LAYERS[max(matches, key=len)] if matches else 0


def imports() -> list[tuple[str, str]]:
    """(importer, imported) for every fcsynth import in the package, lazy ones included."""
    pairs = []
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            pairs += [(module, n) for n in names if n.split(".")[0] == "fcsynth"]
    return pairs


def test_no_module_imports_a_later_stage():
    later = sorted(f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})" for a, b in imports() if layer(b) > layer(a))
    assert not later, later


def test_the_layers_see_a_violation():
    assert layer("fcsynth.simulation.run") > layer("fcsynth.generation.plan") > layer("fcsynth.catalog.graph")
    assert layer("fcsynth.curate.decide") > layer("fcsynth.quality.placeholders")
    assert layer("fcsynth.bfcl.run") > layer("fcsynth.train.run") > layer("fcsynth.chat.prompting") == 0


def test_no_module_is_over_300_lines():
    """Small modules with one job: none under src/fcsynth, stages/ or scripts/ is longer."""
    paths = [p for folder in (SRC, REPO / "stages", REPO / "scripts") for p in sorted(folder.rglob("*.py"))]
    long_ = [f"{p.relative_to(REPO)} ({n} lines)" for p in paths if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES]
    assert not long_, f"modules over {MAX_MODULE_LINES} lines: {long_}"
