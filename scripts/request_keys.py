"""Print the request key of every LLM request a small fake-backend run makes, per stage.

Runs every stage script (model -> ... -> report) in a temp copy of the project with
`llm=fake experiment=tiny` and reads the request keys from the row checkpoints. Two
checkouts that print the same JSON send the engine exactly the same requests, so their
checkpoints give the same rows (used to check a refactor: `python scripts/request_keys.py
> before.json`, change the code, rerun, diff).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def request_keys(project: Path, overrides: list[str]) -> dict[str, dict[str, str]]:
    """{stage: {request id: request key}} of a fake-backend run of every stage in `project`."""
    from fcsynth.stage_cmd import fake_project, stage_command, stage_names

    params = fake_project(project, REPO, overrides)
    env = {**os.environ, "FCSYNTH_ROOT": str(project), "PYTHONPATH": str(REPO / "src")}
    for stage in stage_names(REPO):
        proc = subprocess.run(stage_command(stage, REPO, params), cwd=project, env=env,
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
