"""Every params.yaml key a stage reads is one of its dvc.yaml `params`, so changing it reruns
the stage: each stage script runs on the fake backend (`experiment=tiny`) with its config reads
recorded (tests/helpers/params_log), and the keys it read are checked against dvc.yaml."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from fcsynth.stage_cmd import fake_project, stage_command, stage_names

from helpers.paths import REPO


def _declared(param: str, key: str) -> bool:
    return key == param or key.startswith(param + ".")


@pytest.mark.slow
def test_every_key_a_stage_reads_is_one_of_its_params(tmp_path):
    params = fake_project(tmp_path, REPO, [])
    declared = {n: s.get("params", []) for n, s in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].items()}
    log = tmp_path / "params.log"
    env = {**os.environ, "FCSYNTH_ROOT": str(tmp_path), "FCSYNTH_PARAMS_LOG": str(log),
           "PYTHONPATH": os.pathsep.join([str(REPO / "tests" / "helpers" / "params_log"), str(REPO / "src")])}
    undeclared = {}
    for stage in stage_names(REPO):
        proc = subprocess.run(stage_command(stage, REPO, params), cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{stage}: {proc.stderr[-3000:]}"
        read = log.read_text().split()
        assert read, f"{stage}: no config read was recorded"
        missing = [k for k in read if not any(_declared(p, k) for p in declared[stage])]
        if missing:
            undeclared[stage] = missing
    assert not undeclared, f"keys read but not in the stage's dvc.yaml params: {undeclared}"
