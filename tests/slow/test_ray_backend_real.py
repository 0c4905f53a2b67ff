"""`llm=ray`: a stage's requests as a Ray Dataset over engine replicas on a two-node cluster.

The cluster is two Ray nodes on 127.0.0.1 (`ray.cluster_utils.Cluster`), one CPU each, so
two single-CPU replicas land one per node. The fake engine proves the plumbing (spread,
streaming, the same rows as offline, kill and resume); one test runs two real vLLM replicas.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import polars as pl
import pytest

from fcsynth.checkpoint import Checkpoint
from fcsynth.config import ModelConfig
from fcsynth.llm.constraints import JsonSchema
from fcsynth.llm.fake_backend import FakeBackend
from fcsynth.llm.ray_backend import RayBackend
from fcsynth.runner import make_request, run_requests
from fcsynth.stage_cmd import stage_command

from helpers.fabricate import conf_section
from helpers.project import checkpoint_lines, kill_after_rows, make_project, project_env, run
from helpers.ray_config import ray_config

LLM_STAGES = ("scenarios", "blueprints", "conversations", "system_prompts", "judge")
SCHEMA = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 24}}, "required": ["city"],
          "additionalProperties": False}


def requests(n: int, max_tokens: int = 48) -> list:
    sampling = conf_section("sampling")
    return [make_request(f"r{i}", f"Name a city for trip {i} as JSON.", JsonSchema(json.dumps(SCHEMA)), sampling,
                         max_tokens, 1000 + i) for i in range(n)]


# -- a local two-node cluster ----------------------------------------------------------------

@pytest.fixture(scope="module")
def two_nodes():
    """Two Ray nodes on 127.0.0.1 with one CPU each; its address, for RAY_ADDRESS."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False,
                                                            "object_store_memory": 100 * 1024**2})
    cluster.add_node(num_cpus=1, object_store_memory=100 * 1024**2)
    cluster.wait_for_nodes()
    yield cluster.address
    cluster.shutdown()


@pytest.fixture
def on_cluster(two_nodes: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("RAY_ADDRESS", two_nodes)
    return two_nodes


def model_config(path: Path) -> ModelConfig:
    return ModelConfig(name="smollm2-135m-instruct", source="local", path=str(path), gguf_package=None,
                       max_model_len=4096, dtype="bfloat16")


@pytest.mark.slow
def test_rows_are_the_offline_rows_and_both_nodes_do_work(on_cluster: str, tmp_path: Path) -> None:
    batch = requests(12)
    backend = RayBackend(ray_config(replica_backend="fake"), model_config(tmp_path), tmp_path)
    try:
        rows = run_requests(batch, Checkpoint("s", "k", tmp_path), lambda: backend)
    finally:
        backend.close()
    offline = {c.id: c for c in FakeBackend().generate(batch)}
    assert {i: r["text"] for i, r in rows.items()} == {i: c.text for i, c in offline.items()}
    assert all(r["finish_reason"] == "stop" for r in rows.values())
    assert len(backend.by_node) == 2 and sum(backend.by_node.values()) == 12, backend.by_node


def ray_project(repo: Path, dest: Path, *extra: str) -> Path:
    return make_project(repo, dest, ["llm=ray", "llm.replica_backend=fake", "experiment=tiny", *extra])


def stage(dest: Path, name: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return run(dest, *stage_command(name, dest, dest / "params.yaml"), env=env)


@pytest.mark.slow
def test_tiny_pipeline_llm_stages_run_on_two_replicas_with_the_offline_rows(on_cluster: str, repo_root: Path,
                                                                           tmp_path: Path) -> None:
    on_ray = ray_project(repo_root, tmp_path / "ray")
    offline = make_project(repo_root, tmp_path / "offline", ["llm=fake", "experiment=tiny"])
    env = {**project_env(on_ray), "RAY_ADDRESS": on_cluster}
    nodes = {}
    for dest in (on_ray, offline):
        stage(dest, "catalog", env)
        for name in LLM_STAGES:
            done = stage(dest, name, env)
            if dest is on_ray:
                nodes[name] = [line for line in done.stderr.splitlines() if line.startswith("fcsynth: ray:")]
    assert "from 2 node(s)" in nodes["scenarios"][0], nodes
    for name in ("scenarios", "blueprints", "conversations", "system_prompts", "judge"):
        table = "judged" if name == "judge" else name
        ours, theirs = (pl.read_parquet(d / "data" / f"{table}.parquet") for d in (on_ray, offline))
        assert ours.drop("prompt_tokens", "completion_tokens", strict=False).equals(
            theirs.drop("prompt_tokens", "completion_tokens", strict=False)), name


@pytest.mark.slow
def test_a_killed_driver_resumes_without_regenerating_finished_rows(on_cluster: str, repo_root: Path,
                                                                   tmp_path: Path) -> None:
    dest = ray_project(repo_root, tmp_path / "p", "scenarios.count=6", "scenarios.similarity_threshold=0.995")
    env = {**project_env(dest), "RAY_ADDRESS": on_cluster}
    stage(dest, "catalog", env)
    slow = {**env, "FCSYNTH_FAKE_LATENCY_S": "1.5"}
    before = kill_after_rows(dest, stage_command("scenarios", dest, dest / "params.yaml"), slow, "scenarios", timeout_s=180)
    assert 2 <= len(before) < 6, "the kill must land halfway: completions stream back before their batch ends"
    stage(dest, "scenarios", env)
    after = checkpoint_lines(dest, "scenarios")
    assert after[: len(before)] == before, "rows finished before the kill are kept byte for byte"
    ids = [json.loads(line)["id"] for line in after]
    assert len(ids) == len(set(ids)) >= 6, "nothing finished was generated twice"
    assert pl.read_parquet(dest / "data" / "scenarios.parquet").height == 6


@pytest.mark.slow
def test_two_real_vllm_replicas_keep_every_rows_constraint(on_cluster: str, embedded_model_dir: Path,
                                                           tmp_path: Path) -> None:
    backend = RayBackend(ray_config(max_num_seqs=4), model_config(embedded_model_dir), tmp_path)
    try:
        rows = run_requests(requests(6), Checkpoint("s", "k", tmp_path), lambda: backend)
    finally:
        backend.close()
    for row in rows.values():
        assert row["finish_reason"] == "stop", row
        value = json.loads(row["text"])
        assert set(value) == {"city"} and isinstance(value["city"], str) and len(value["city"]) <= 24
        assert row["completion_tokens"] > 0 and row["prompt_tokens"] > 0
    assert len(backend.by_node) == 2, backend.by_node


@pytest.mark.slow
def test_a_local_cluster_too_small_for_the_replicas_is_a_one_line_error(repo_root: Path, tmp_path: Path) -> None:
    """RAY_ADDRESS unset: the stage starts a local cluster (this machine's cores) and stops at once."""
    dest = ray_project(repo_root, tmp_path / "p", "llm.replicas=64")
    env = {k: v for k, v in project_env(dest).items() if k != "RAY_ADDRESS"}
    stage(dest, "catalog", env)
    proc = run(dest, *stage_command("scenarios", dest, dest / "params.yaml"), env=env, check=False)
    assert proc.returncode == 1
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("fcsynth scenarios: error: llm=ray: llm.replicas=64 need 1 CPU and 0 GPU each; "
                            "the cluster has CPU "), proc.stderr[-2000:]
    assert not (dest / "data" / "scenarios.parquet").exists()
