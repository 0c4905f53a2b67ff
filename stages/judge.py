"""DVC stage `judge`: grade every parsed conversation with the rubric (LLM-as-judge)."""

from fcsynth.config import load_params
from fcsynth.judge import judge_conversations
from fcsynth.judge.run import STAGE
from fcsynth.paths import DATA_DIR, ROOT
from fcsynth.stage import run_stage, stage_context
from fcsynth.tables import read_rows, write_rows


def main() -> None:
    cfg = load_params()
    conversations = read_rows(DATA_DIR / "conversations.parquet", "conversations")
    system_prompts = read_rows(DATA_DIR / "system_prompts.parquet", "system_prompts")
    with stage_context(cfg, ROOT, model=cfg.judge.model) as ctx:
        rows, metrics = judge_conversations(cfg, conversations, system_prompts, ctx.checkpoint(STAGE), ctx.get_backend)
    metrics.extra["judge_model"] = ctx.model_cfg.name
    write_rows(rows, DATA_DIR / "judged.parquet")
    metrics.write()


if __name__ == "__main__":
    run_stage("judge", main)
