"""`llm=ray` without a cluster: its config, batch sizes and replica environment.
The two-node cluster: tests/slow/test_ray_backend_real.py."""

from __future__ import annotations

import pytest

from fcsynth.config import compose, parse_config
from fcsynth.errors import FcsynthError
from fcsynth.llm import backend_identity
from fcsynth.llm.ray_backend import batch_size, replica_env

from helpers.ray_config import ray_config


def test_llm_ray_composes_and_shares_checkpoints_with_its_engine() -> None:
    cfg = ray_config()
    assert (cfg.replicas, cfg.gpus_per_replica, cfg.replica_backend) == (2, 0, "vllm")
    assert backend_identity(cfg) == backend_identity(parse_config(compose()).llm) == "vllm"
    with pytest.raises(FcsynthError, match=r"llm\.replicas: Input should be greater than 0"):
        parse_config(compose(["llm=ray", "llm.replicas=0"]))


@pytest.mark.parametrize(("n", "replicas", "seqs", "size"), [(30, 2, 16, 15), (1, 2, 16, 1), (5000, 2, 16, 128)])
def test_each_replica_gets_an_even_share_of_at_most_a_few_engine_batches(n: int, replicas: int, seqs: int,
                                                                         size: int) -> None:
    assert batch_size(n, replicas, seqs) == size


def test_cpu_replicas_run_their_own_threads_unbound_and_gpu_replicas_are_left_alone(monkeypatch) -> None:
    monkeypatch.delenv("VLLM_CPU_OMP_THREADS_BIND", raising=False)
    assert replica_env(ray_config(cpus_per_replica=2)) == {"OMP_NUM_THREADS": "2", "VLLM_CPU_OMP_THREADS_BIND": "nobind"}
    assert replica_env(ray_config(gpus_per_replica=1)) == {}
