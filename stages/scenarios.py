"""DVC stage `scenarios`: a deduplicated user scenario per conversation slot."""

from fcsynth.catalog.graph import graph_schema, neighbours, rows_edges
from fcsynth.catalog.selection import select
from fcsynth.config import load_params
from fcsynth.generation import scenarios
from fcsynth.llm.context import stage_context
from fcsynth.paths import DATA_DIR, PROMPTS_DIR, ROOT
from fcsynth.stage import run_stage
from fcsynth.tables import read_rows, write_rows
from fcsynth.tools import read_catalog

CATALOG = DATA_DIR / "catalog" / "tools.parquet"
GRAPH = DATA_DIR / "catalog" / "graph.parquet"
OUT = DATA_DIR / "scenarios.parquet"


def main() -> None:
    cfg = load_params()
    selections = select(read_catalog(CATALOG), cfg.toolkits)
    # persist: true in dvc.yaml keeps the previous output so its scenarios are reused
    # (its rows are written again, so they need every column but `active`: absent means active)
    stored = [c for c in scenarios.schema() if c != "active"]
    previous = read_rows(OUT, columns=stored, fix="remove it to generate the scenarios afresh") if OUT.exists() else []
    adjacent = neighbours(rows_edges(read_rows(GRAPH, "catalog", columns=graph_schema())))
    with stage_context(cfg, ROOT) as ctx:
        rows, metrics = scenarios.run(ctx, selections, CATALOG, previous, PROMPTS_DIR, adjacent)
    write_rows(rows, OUT, scenarios.schema())
    metrics.write()


if __name__ == "__main__":
    run_stage("scenarios", main)
