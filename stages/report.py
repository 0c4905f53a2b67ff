"""DVC stage `report`: plot data under metrics/plots/ and data/report/index.html."""

from fcsynth.atomic import write_text_atomic
from fcsynth.config import load_params
from fcsynth.curate import reason_keys
from fcsynth.curate.decide import DECISION_COLUMNS
from fcsynth.metrics import StageMetrics
from fcsynth.paths import DATA_DIR, METRICS_DIR
from fcsynth.report import page_data, render_page, write_plots
from fcsynth.report.page import JUDGED_COLUMNS
from fcsynth.report.token_use import delivered_token_share, write_token_use
from fcsynth.stage import run_stage
from fcsynth.tables import read_rows

PAGE = DATA_DIR / "report" / "index.html"


def main() -> None:
    cfg = load_params()
    judged = read_rows(DATA_DIR / "judged.parquet", "judge", JUDGED_COLUMNS)
    decisions = read_rows(DATA_DIR / "curation.parquet", "curate", DECISION_COLUMNS)
    write_plots(judged, decisions, METRICS_DIR / "plots", reason_keys(cfg.curate))
    data = page_data(judged, decisions, cfg.report.max_conversations)
    write_text_atomic(PAGE, render_page(data))
    metrics = StageMetrics("report", records_in=len(judged), records_out=len(data["conversations"]))
    metrics.extra["page_bytes"] = PAGE.stat().st_size
    run = write_token_use(METRICS_DIR, METRICS_DIR / "plots" / "token_use.csv")
    metrics.extra["wasted_token_share"] = run.get("wasted_token_share")
    metrics.extra["tokens_per_delivered_conversation"] = run.get("tokens_per_delivered_conversation")
    metrics.extra["delivered_token_share"] = delivered_token_share(METRICS_DIR, sum(bool(d["accepted"]) for d in decisions))
    metrics.write()


if __name__ == "__main__":
    run_stage("report", main)
