"""DVC stage `curate`: accept by judge thresholds, validation and rule-based quality checks; drop near duplicates."""

from pathlib import Path

from fcsynth.config import load_params
from fcsynth.curate import curate
from fcsynth.curate.decide import JUDGED_COLUMNS
from fcsynth.errors import FcsynthError
from fcsynth.stage import run_stage
from fcsynth.tables import read_rows, write_rows


def main(judged: Path, curated: Path, decisions: Path) -> None:
    cfg = load_params()
    judged_rows = read_rows(judged, "judge", JUDGED_COLUMNS)
    accepted, decision_rows, metrics = curate(judged_rows, cfg.curate)
    if not accepted:  # nothing to export: fail, keeping the previous outputs
        top = ", ".join(f"{k}: {n}" for k, n in metrics.reasons.most_common(3) if n)
        raise FcsynthError(f"0 of {len(judged_rows)} judged conversations accepted ({top or 'no reasons'}); nothing written")
    write_rows(accepted, curated, schema=_schema_of(judged))
    write_rows(decision_rows, decisions)
    metrics.write()


def _schema_of(path):
    import polars as pl

    return pl.read_parquet_schema(path)


if __name__ == "__main__":
    run_stage("curate", main, {
        "judged": "the judged conversations (Parquet)",
        "curated": "the accepted conversations (Parquet)",
        "decisions": "every conversation's decision and its reasons (Parquet)",
    })
