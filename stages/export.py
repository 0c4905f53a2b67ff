"""DVC stage `export`: curated rows -> data/dataset/{train,test}.{jsonl,parquet} + card."""

import json
from pathlib import Path

from fcsynth.atomic import write_text_atomic
from fcsynth.chat.record import RECORD_INPUT_COLUMNS, build_record
from fcsynth.config import load_params
from fcsynth.errors import FcsynthError
from fcsynth.export import SPLITS, selections_without_test, split_records, write_split
from fcsynth.export.card import render_card
from fcsynth.metrics import StageMetrics
from fcsynth.stage import run_stage
from fcsynth.tables import read_rows


def main(curated: Path, curate_metrics: Path, out: Path) -> None:
    cfg = load_params()
    curated_rows = read_rows(curated, "curate", RECORD_INPUT_COLUMNS)
    records = [build_record(r) for r in curated_rows]
    if not records:
        raise FcsynthError(f"{curated}: no curated conversations to export (nothing written)")
    splits = split_records(records, cfg.export.test_fraction)
    for split in SPLITS:
        write_split(splits[split], out, split)
    curation = json.loads(curate_metrics.read_text()) if curate_metrics.exists() else None
    write_text_atomic(out / "README.md", render_card(cfg, splits, curation))
    metrics = StageMetrics("export", records_in=len(curated_rows), records_out=len(records))
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
    run_stage("export", main, {
        "curated": "the curated conversations (Parquet)",
        "curate_metrics": "the curate stage's metrics (JSON), quoted in the card",
        "out": "the dataset folder: {train,test}.{jsonl,parquet} and the card README.md",
    })
