"""The judge task run on a given backend, for the judge tests."""

from __future__ import annotations

from fcsynth.judge import JudgeTask
from fcsynth.llm.context import StageContext


def run_judge(cfg, conversations, system_prompts, root, backend):
    """JudgeTask on `backend`, its checkpoint under `root` (released after; the backend stays open)."""
    ctx = StageContext(cfg, root)
    ctx.backend = backend
    try:
        return JudgeTask(system_prompts).run(ctx, conversations)
    finally:
        ctx.backend = None
        ctx.close()
