"""dvc.yaml's code deps are generated from each stage's import closure and are current, and
they are precise: editing one stage's template leaves the stages that do not read it up to date."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from helpers.paths import REPO

_spec = importlib.util.spec_from_file_location("dvc_deps", REPO / "scripts" / "dvc_deps.py")
dvc_deps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dvc_deps)


def test_dvc_yaml_code_deps_are_current():
    assert dvc_deps.main(["--check"]) == 0, "run `python scripts/dvc_deps.py`"


def test_closure_follows_lazy_imports_and_package_inits(tmp_path):
    """The generator itself: a lazy import inside a function and a parent package count."""
    script = tmp_path / "s.py"
    script.write_text("def main():\n    from fcsynth.llm.context import stage_context\n")
    closure = {str(p.relative_to(dvc_deps.SRC)) for p in dvc_deps.import_closure(script)}
    assert {"fcsynth/__init__.py", "fcsynth/llm/__init__.py", "fcsynth/llm/context.py"} <= closure
    assert "fcsynth/checkpoint.py" in closure  # imported by context.py


def test_templates_named_by_a_constant_are_deps():
    conversations = dvc_deps.code_deps(REPO / "stages" / "conversations.py")
    assert "grammars/assistant_turn.lark.j2" in conversations and "prompts/user.j2" in conversations
    assert not any(d.startswith("grammars/") for d in dvc_deps.code_deps(REPO / "stages" / "train.py"))


def _resolved(path: str, params: dict) -> str:
    return path.replace("${model.name}", params["model"]["name"])


def _placeholder(root: Path, path: str) -> None:
    """A stand-in for a data dep or out: a folder holding one file, or a file."""
    target = root / path
    if target.exists():
        return
    if target.suffix:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("{}\n")
    else:
        target.mkdir(parents=True)
        (target / "stand-in").write_text("x\n")


def test_edits_leave_the_stages_that_do_not_read_them_up_to_date(tmp_path):
    """Real `dvc status` on a copy of the project whose stages are all committed as up to date:
    the grammar template is read by the simulation only, the model's context length by the
    LLM stages only (train names the model keys it reads)."""
    for name in ("src", "stages", "prompts", "grammars"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for spec in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].values():
        entries = [*spec.get("deps", []), *spec.get("outs", []), *spec.get("metrics", []), *spec.get("plots", [])]
        for entry in entries:
            _placeholder(tmp_path, _resolved(dvc_deps._dep_path(entry), params))
    dvc = [sys.executable, "-m", "dvc"]
    run = {"cwd": tmp_path, "capture_output": True, "text": True, "timeout": 300}
    for command in (["init", "--no-scm", "-q"], ["commit", "-f", "-q"]):
        proc = subprocess.run([*dvc, *command], **run)
        assert proc.returncode == 0, proc.stderr[-2000:]

    def changed() -> set[str]:
        proc = subprocess.run([*dvc, "status", "--json"], **run)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return set(json.loads(proc.stdout or "{}"))

    assert changed() == set()
    template = tmp_path / "grammars" / "assistant_turn.lark.j2"
    template.write_text(template.read_text() + "{# edited #}\n")
    stale = changed()
    assert "conversations" in stale
    assert not stale & {"model", "catalog", "train"}, stale

    params["model"]["max_model_len"] //= 2
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    stale = changed()
    assert {"scenarios", "evaluate"} <= stale
    assert not stale & {"catalog", "train", "curate"}, stale
