"""DVC stage `report`: plot data under metrics/plots/ and data/report/index.html."""

from pathlib import Path

from fcsynth.atomic import write_text_atomic
from fcsynth.config import load_params
from fcsynth.curate import reason_keys
from fcsynth.curate.decide import DECISION_COLUMNS
from fcsynth.metrics import StageMetrics
from fcsynth.report import page_data, render_page, write_plots
from fcsynth.report.page import JUDGED_COLUMNS
from fcsynth.report.token_use import delivered_token_share, write_token_use
from fcsynth.stage import run_stage
from fcsynth.tables import read_rows


def main(judged: Path, decisions: Path, stage_metrics: Path, plots: Path, token_use: Path, page: Path) -> None:
    cfg = load_params()
    judged_rows = read_rows(judged, "judge", JUDGED_COLUMNS)
    decision_rows = read_rows(decisions, "curate", DECISION_COLUMNS)
    write_plots(judged_rows, decision_rows, plots, reason_keys(cfg.curate))
    data = page_data(judged_rows, decision_rows, cfg.report.max_conversations)
    write_text_atomic(page, render_page(data))
    metrics = StageMetrics("report", records_in=len(judged_rows), records_out=len(data["conversations"]))
    metrics.extra["page_bytes"] = page.stat().st_size
    run = write_token_use(stage_metrics, token_use)
    metrics.extra["wasted_token_share"] = run.get("wasted_token_share")
    metrics.extra["tokens_per_delivered_conversation"] = run.get("tokens_per_delivered_conversation")
    metrics.extra["delivered_token_share"] = delivered_token_share(stage_metrics, sum(bool(d["accepted"]) for d in decision_rows))
    metrics.write()


if __name__ == "__main__":
    run_stage("report", main, {
        "judged": "the judged conversations (Parquet)",
        "decisions": "the curation decisions (Parquet)",
        "stage_metrics": "the folder of the stages' metrics (<stage>.json), read for token use",
        "plots": "the folder the plot data goes to (CSV files)",
        "token_use": "token use per stage (CSV)",
        "page": "the report page (HTML)",
    })
