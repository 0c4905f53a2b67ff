"""DVC stage `catalog`: built-in toolkits + configured sources -> data/catalog/tools.parquet."""

from pathlib import Path

from fcsynth.catalog.build import build_catalog, catalog_metrics
from fcsynth.catalog.graph import catalog_edges, edge_rows, graph_metrics, graph_schema
from fcsynth.catalog.selection import select
from fcsynth.config import load_params
from fcsynth.metrics import StageMetrics
from fcsynth.paths import ROOT
from fcsynth.stage import run_stage
from fcsynth.tables import write_rows
from fcsynth.tools import write_catalog


def main(tools: Path, graph: Path, root: Path = ROOT) -> None:
    cfg = load_params(root / "params.yaml")
    metrics = StageMetrics("catalog")
    build = build_catalog(cfg.catalog, root)
    selections = select(build.result.tools, cfg.toolkits)  # an unknown toolkit name fails here
    write_catalog(build.result.tools, tools)
    edges = catalog_edges(build.result.tools, cfg.toolkits.bundles)
    write_rows(edge_rows(edges), graph, graph_schema(), allow_empty=True)
    metrics.records_in = build.result.entries
    metrics.records_out = len(build.result.tools)
    metrics.reasons.update(build.result.skipped)
    metrics.extra.update(catalog_metrics(build))
    metrics.extra["selections"] = {name: len(chosen) for name, chosen in selections.items()}
    metrics.extra["graph"] = graph_metrics(build.result.tools, edges)
    metrics.write(root / "metrics")
    for path in build.untracked:
        print(f"fcsynth catalog: warning: {path} is outside data/sources/: DVC will not rerun the stage when it changes")


if __name__ == "__main__":
    run_stage("catalog", main, {
        "tools": "the tool catalog (Parquet)",
        "graph": "the tool graph (Parquet)",
    })
