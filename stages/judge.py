"""DVC stage `judge`: grade every parsed conversation with the rubric (LLM-as-judge)."""

import polars as pl

from fcsynth.config import load_params
from fcsynth.judge import run as judge
from fcsynth.llm.context import stage_context
from fcsynth.paths import DATA_DIR, ROOT
from fcsynth.stage import run_stage
from fcsynth.tables import read_rows, write_rows

CONVERSATIONS = DATA_DIR / "conversations.parquet"
OUT = DATA_DIR / "judged.parquet"


def main() -> None:
    cfg = load_params()
    key = "judge.model" if cfg.judge.model else "model"
    conversations = read_rows(CONVERSATIONS, "conversations", judge.CONVERSATION_COLUMNS)
    system_prompts = read_rows(DATA_DIR / "system_prompts.parquet", "system_prompts", judge.SYSTEM_PROMPT_COLUMNS)
    with stage_context(cfg, ROOT, model=cfg.judge.model, key=key) as ctx:
        rows, metrics = judge.run(ctx, conversations, system_prompts)
    write_rows(rows, OUT, judge.schema(dict(pl.read_parquet_schema(CONVERSATIONS))))
    metrics.write()


if __name__ == "__main__":
    run_stage("judge", main)
