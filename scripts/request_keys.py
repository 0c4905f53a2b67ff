"""Print the request key of every LLM request a small fake-backend run makes, per stage.

Runs the stage scripts (model -> ... -> train -> evaluate) in a temp copy of the project with
`llm=fake experiment=tiny` and reads the request keys from the row checkpoints. Two
checkouts that print the same JSON send the engine exactly the same requests, so their
checkpoints give the same rows (used to check a refactor: `python scripts/request_keys.py
> before.json`, change the code, rerun, diff).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
STAGES = ("model", "catalog", "scenarios", "blueprints", "conversations", "system_prompts", "judge", "curate", "export",
          "train", "evaluate")


def request_keys(project: Path, overrides: list[str]) -> dict[str, dict[str, str]]:
    """{stage: {request id: request key}} of a fake-backend run in `project`."""
    from fcsynth.config import compose
    from fcsynth.stage_cmd import stage_command

    for name in ("prompts", "grammars", "conf"):
        shutil.copytree(REPO / name, project / name)
    shutil.copytree(REPO / "data" / "builtin_tools", project / "data" / "builtin_tools")
    shutil.copy(REPO / "dvc.yaml", project / "dvc.yaml")
    params = compose(["llm=fake", "experiment=tiny", *overrides], REPO / "conf")
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "FCSYNTH_ROOT": str(project), "PYTHONPATH": str(REPO / "src")}
    for stage in STAGES:
        proc = subprocess.run(stage_command(stage, REPO, project / "params.yaml"), cwd=project, env=env,
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise SystemExit(f"{stage} failed:\n{proc.stderr[-3000:]}")
    keys: dict[str, dict[str, str]] = {}
    for path in sorted((project / "data" / "checkpoints").glob("*/*.jsonl")):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        keys.setdefault(path.parent.name, {}).update({r["id"]: r["request_key"] for r in rows})
    return keys


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(request_keys(Path(tmp), sys.argv[1:]), indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
