"""DVC stage `judge`: grade every parsed conversation with the rubric (LLM-as-judge)."""

from pathlib import Path

import polars as pl

from fcsynth.config import load_params
from fcsynth.judge.run import JudgeTask
from fcsynth.llm.context import stage_context
from fcsynth.paths import ROOT
from fcsynth.stage import run_stage
from fcsynth.tables import read_rows, write_rows


def main(conversations: Path, system_prompts: Path, out: Path) -> None:
    cfg = load_params()
    key = "judge.model" if cfg.judge.model else "model"
    conversation_rows = read_rows(conversations, "conversations", JudgeTask.inputs)
    task = JudgeTask(read_rows(system_prompts, "system_prompts", JudgeTask.system_prompt_inputs))
    with stage_context(cfg, ROOT, model=cfg.judge.model, key=key) as ctx:
        rows, metrics = task.run(ctx, conversation_rows)
    write_rows(rows, out, task.schema(dict(pl.read_parquet_schema(conversations))))
    metrics.write()


if __name__ == "__main__":
    run_stage("judge", main, {
        "conversations": "the conversations (Parquet)",
        "system_prompts": "their system prompts (Parquet)",
        "out": "the judged conversations (Parquet)",
    })
