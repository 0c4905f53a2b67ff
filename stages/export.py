"""DVC stage `export`: curated rows -> data/dataset/{train,test}.{jsonl,parquet} + card."""

import json

from fcsynth.atomic import write_text_atomic
from fcsynth.config import load_params
from fcsynth.errors import FcsynthError
from fcsynth.export import SPLITS, build_record, selections_without_test, split_records, write_split
from fcsynth.export.card import render_card
from fcsynth.export.records import RECORD_INPUT_COLUMNS
from fcsynth.metrics import StageMetrics
from fcsynth.paths import DATA_DIR, METRICS_DIR
from fcsynth.stage import run_stage
from fcsynth.tables import read_rows

OUT = DATA_DIR / "dataset"


def main() -> None:
    cfg = load_params()
    curated = read_rows(DATA_DIR / "curated.parquet", "curate", RECORD_INPUT_COLUMNS)
    records = [build_record(r) for r in curated]
    if not records:
        raise FcsynthError(f"{DATA_DIR / 'curated.parquet'}: no curated conversations to export (nothing written)")
    splits = split_records(records, cfg.export.test_fraction)
    for split in SPLITS:
        write_split(splits[split], OUT, split)
    curate_metrics_path = METRICS_DIR / "curate.json"
    curate_metrics = json.loads(curate_metrics_path.read_text()) if curate_metrics_path.exists() else None
    write_text_atomic(OUT / "README.md", render_card(cfg, splits, curate_metrics))
    metrics = StageMetrics("export", records_in=len(curated), records_out=len(records))
    metrics.extra["splits"] = {
        s: {"records": len(splits[s]), "per_selection": _count(splits[s])} for s in SPLITS
    }
    metrics.extra["test_lacks"] = selections_without_test(splits)
    metrics.write()


def _count(records):
    out: dict[str, int] = {}
    for r in records:
        out[r["selection"]] = out.get(r["selection"], 0) + 1
    return dict(sorted(out.items()))


if __name__ == "__main__":
    run_stage("export", main)
