"""DVC stage `system_prompts`: one short system prompt per conversation."""

from pathlib import Path

from fcsynth.config import load_params
from fcsynth.generation.system_prompts import SystemPromptTask
from fcsynth.llm.context import stage_context
from fcsynth.paths import ROOT
from fcsynth.stage import run_stage
from fcsynth.tables import read_rows, write_rows


def main(conversations: Path, out: Path) -> None:
    cfg = load_params()
    conversation_rows = read_rows(conversations, "conversations", SystemPromptTask.inputs)
    task = SystemPromptTask()
    with stage_context(cfg, ROOT) as ctx:
        rows, metrics = task.run(ctx, conversation_rows)
    write_rows(rows, out, task.schema())
    metrics.write()


if __name__ == "__main__":
    run_stage("system_prompts", main, {
        "conversations": "the conversations (Parquet)",
        "out": "one system prompt per conversation (Parquet)",
    })
