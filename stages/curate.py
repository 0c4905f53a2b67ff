"""DVC stage `curate`: accept by judge thresholds, validation and rule-based quality checks; drop near duplicates."""

from fcsynth.config import load_params
from fcsynth.curate import curate
from fcsynth.curate.decide import JUDGED_COLUMNS
from fcsynth.errors import FcsynthError
from fcsynth.paths import DATA_DIR
from fcsynth.stage import run_stage
from fcsynth.tables import read_rows, write_rows


def main() -> None:
    cfg = load_params()
    judged = read_rows(DATA_DIR / "judged.parquet", "judge", JUDGED_COLUMNS)
    accepted, decisions, metrics = curate(judged, cfg.curate)
    if not accepted:  # nothing to export: fail, keeping the previous outputs
        top = ", ".join(f"{k}: {n}" for k, n in metrics.reasons.most_common(3) if n)
        raise FcsynthError(f"0 of {len(judged)} judged conversations accepted ({top or 'no reasons'}); nothing written")
    write_rows(accepted, DATA_DIR / "curated.parquet", schema=_schema_of(DATA_DIR / "judged.parquet"))
    write_rows(decisions, DATA_DIR / "curation.parquet")
    metrics.write()


def _schema_of(path):
    import polars as pl

    return pl.read_parquet_schema(path)


if __name__ == "__main__":
    run_stage("curate", main)
