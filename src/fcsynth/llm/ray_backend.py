"""Ray Data backend (`llm=ray`): a stage's requests as a Ray Dataset over engine replicas.

Each replica is a Ray actor hosting fcsynth's own engine backend (vLLM, or the fake one
in tests), so a row gets exactly the prompt rendering, constraint, sampling and seed it
gets offline. Requests travel pickled, one per Dataset row. A replica takes a large batch
(its engine batches continuously within it) and yields every completion as it finishes,
one block each, so completions stream back to the driver, which checkpoints them as they
arrive: a killed driver loses only the requests still in flight.
"""

from __future__ import annotations

import math
import os
import pickle
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from fcsynth.config import ModelConfig, RayConfig
from fcsynth.errors import FcsynthError
from fcsynth.llm.base import Backend, Completion, Request
from fcsynth.llm.progress import Progress

COMPLETION_FIELDS = ("id", "text", "prompt_tokens", "completion_tokens", "finish_reason", "cached_tokens")
# A replica's batch holds up to this many engine batches (max_num_seqs each): enough that the
# engine rarely drains between batches, few enough that replicas share the work evenly.
ENGINE_BATCHES_PER_TASK = 8
# Every yielded completion becomes its own block (Ray Data otherwise buffers a task's output
# into ~128 MiB blocks, and nothing would reach the driver before the whole batch is done).
STREAM_BLOCK_BYTES = 1
# The driver's settings of these families reach every replica (offline hub, vLLM and test knobs).
FORWARDED_ENV_PREFIXES = ("FCSYNTH_", "VLLM_", "HF_", "TRANSFORMERS_", "TOKENIZERS_")


def batch_size(requests: int, replicas: int, max_num_seqs: int) -> int:
    """Requests per Dataset batch: an even share per replica (30 requests over 2 replicas:
    15 each), at most ENGINE_BATCHES_PER_TASK engine batches."""
    return max(1, min(max_num_seqs * ENGINE_BATCHES_PER_TASK, math.ceil(requests / replicas)))


def replica_env(cfg: RayConfig) -> dict[str, str]:
    """Thread settings of a CPU replica: its engine runs `cpus_per_replica` threads and does
    not bind them, so replicas that share a machine do not pin the same cores."""
    if cfg.gpus_per_replica > 0:
        return {}
    return {"OMP_NUM_THREADS": str(max(1, int(cfg.cpus_per_replica))),
            "VLLM_CPU_OMP_THREADS_BIND": os.environ.get("VLLM_CPU_OMP_THREADS_BIND", "nobind")}


class Replica:
    """One engine on a Ray worker: a batch of pickled requests in, their completions out."""

    def __init__(self, cfg: RayConfig, model_path: str, max_model_len: int, dtype: str) -> None:
        import ray

        os.environ.update(replica_env(cfg))
        self.node = ray.get_runtime_context().get_node_id()
        self.backend = engine_backend(cfg, model_path, max_model_len, dtype)

    def __call__(self, batch: dict[str, Any]) -> Iterator[dict[str, list[Any]]]:
        requests = [pickle.loads(blob) for blob in batch["request"]]
        for completion in self.backend.generate(requests):
            yield {**{name: [getattr(completion, name)] for name in COMPLETION_FIELDS}, "node": [self.node]}


def engine_backend(cfg: RayConfig, model_path: str, max_model_len: int, dtype: str) -> Backend:
    """The engine a replica hosts (no progress bar of its own: the driver shows one)."""
    if cfg.replica_backend == "fake":
        from fcsynth.llm.fake_backend import FakeBackend

        return FakeBackend()
    from fcsynth.llm.vllm_backend import VLLMBackend

    return VLLMBackend(model_path, cfg, max_model_len, dtype, progress=False)


def connect(cfg: RayConfig) -> bool:
    """Join the cluster in RAY_ADDRESS, else start a local one; True when this call started Ray.

    A local cluster that cannot hold `replicas` replicas is an error (nothing would run);
    a remote one may still scale up, so there it is a warning.
    """
    import ray

    if ray.is_initialized():
        return False
    address = os.environ.get("RAY_ADDRESS") or None
    try:
        env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)}
        ray.init(address=address or "local", include_dashboard=False, log_to_driver=True,
                 configure_logging=False, runtime_env={"env_vars": env})
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise FcsynthError(f"llm=ray: cannot connect to the Ray cluster at RAY_ADDRESS={address}: "
                           f"{str(err).splitlines()[0] if str(err) else type(err).__name__}") from None
    need = {"CPU": cfg.replicas * cfg.cpus_per_replica, "GPU": cfg.replicas * cfg.gpus_per_replica}
    have = ray.cluster_resources()
    short = [f"{k} {have.get(k, 0):g} < {v:g}" for k, v in need.items() if v and have.get(k, 0) < v]
    if short:
        msg = (f"llm.replicas={cfg.replicas} need {cfg.cpus_per_replica:g} CPU and {cfg.gpus_per_replica:g} GPU "
               f"each; the cluster has {', '.join(short)}")
        if address is None:
            ray.shutdown()
            raise FcsynthError(f"llm=ray: {msg} (lower llm.replicas or llm.cpus_per_replica)")
        print(f"fcsynth: warning: {msg}; waiting for the cluster to scale up", file=sys.stderr)
    return True


class RayBackend:
    """`replicas` engine replicas behind one Ray Dataset per `generate` call."""

    def __init__(self, cfg: RayConfig, model_cfg: ModelConfig, root: Path) -> None:
        self.cfg = cfg
        self.model_cfg = model_cfg
        self.model_path = self._model_path(root)
        self.started_ray = connect(cfg)
        self.by_node: Counter[str] = Counter()

    def _model_path(self, root: Path) -> str:
        """An absolute path for a local model (replicas run elsewhere: on a multi-node cluster
        it must be on a filesystem every node mounts), a hub id as is."""
        if self.cfg.replica_backend == "fake":
            return ""
        from fcsynth.model_store import resolve_model_path

        path = resolve_model_path(self.model_cfg, root)
        return str(Path(path).resolve()) if Path(path).exists() else path

    def dataset(self, requests: list[Request]) -> Any:
        """The Ray Dataset of `requests` mapped through the replicas (lazy until iterated)."""
        import ray.data

        size = batch_size(len(requests), self.cfg.replicas, self.cfg.max_num_seqs)
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # fcsynth's own bar counts requests and tokens
        context.print_on_execution_start = False
        context.target_max_block_size = STREAM_BLOCK_BYTES
        # Start every replica before the first batch and give each one batch at a time (below),
        # so the work is spread over all of them instead of queueing on the first one up.
        context.wait_for_min_actors_s = int(self.cfg.start_timeout_s)
        items = [{"id": r.id, "request": pickle.dumps(r)} for r in requests]
        return ray.data.from_items(items, override_num_blocks=math.ceil(len(items) / size)).map_batches(
            Replica,
            fn_constructor_kwargs={"cfg": self.cfg, "model_path": self.model_path,
                                   "max_model_len": self.model_cfg.max_model_len, "dtype": self.model_cfg.dtype},
            batch_size=size, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=self.cfg.replicas, max_tasks_in_flight_per_actor=1),
            num_cpus=self.cfg.cpus_per_replica, num_gpus=self.cfg.gpus_per_replica or None,
        )

    def generate(self, requests: Iterable[Request]) -> Iterator[Completion]:
        batch = list(requests)
        if not batch:
            return
        progress = Progress(len(batch), desc=f"generate (ray, {self.cfg.replicas} replicas)")
        try:
            for row in self.dataset(batch).iter_rows():
                self.by_node[str(row["node"])] += 1
                progress.tokens(int(row["completion_tokens"]))
                progress.finished()
                yield Completion(
                    id=str(row["id"]), text=str(row["text"]), prompt_tokens=int(row["prompt_tokens"]),
                    completion_tokens=int(row["completion_tokens"]), finish_reason=str(row["finish_reason"]),
                    cached_tokens=int(row["cached_tokens"]),
                )
        except Exception as err:
            if isinstance(err, FcsynthError):
                raise
            raise FcsynthError(f"llm=ray: a replica failed: {_first_cause(err)}") from err
        finally:
            progress.close()

    def close(self) -> None:
        if self.by_node:
            nodes = ", ".join(f"{node[:8]}: {n}" for node, n in sorted(self.by_node.items()))
            print(f"fcsynth: ray: {sum(self.by_node.values())} completions from {len(self.by_node)} "
                  f"node(s) ({nodes})", file=sys.stderr)
        if self.started_ray:
            import ray

            ray.shutdown()


def _first_cause(err: BaseException) -> str:
    """The innermost error's first line (Ray wraps a replica's exception in several layers)."""
    while getattr(err, "cause", None) is not None or err.__cause__ is not None:
        err = getattr(err, "cause", None) or err.__cause__  # type: ignore[assignment]
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[-1] if text else ''}"
