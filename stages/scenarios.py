"""DVC stage `scenarios`: a deduplicated user scenario per conversation slot."""

from pathlib import Path

from fcsynth.catalog.graph import graph_schema, neighbours, rows_edges
from fcsynth.catalog.selection import select
from fcsynth.config import load_params
from fcsynth.generation.scenarios import ScenarioTask
from fcsynth.llm.context import stage_context
from fcsynth.paths import PROMPTS_DIR, ROOT
from fcsynth.stage import run_stage
from fcsynth.tables import read_rows, write_rows
from fcsynth.tools import read_catalog


def main(tools: Path, graph: Path, out: Path) -> None:
    cfg = load_params()
    selections = select(read_catalog(tools), cfg.toolkits)
    # persist: true in dvc.yaml keeps the previous output so its scenarios are reused
    # (its rows are written again, so they need every column but `active`: absent means active)
    previous = read_rows(out, columns=ScenarioTask.inputs, fix="remove it to generate the scenarios afresh") if out.exists() else []
    adjacent = neighbours(rows_edges(read_rows(graph, "catalog", columns=graph_schema())))
    task = ScenarioTask(selections, tools, adjacent, PROMPTS_DIR)
    with stage_context(cfg, ROOT) as ctx:
        rows, metrics = task.run(ctx, previous)
    write_rows(rows, out, task.schema())
    metrics.write()


if __name__ == "__main__":
    run_stage("scenarios", main, {
        "tools": "the tool catalog (Parquet)",
        "graph": "the tool graph (Parquet)",
        "out": "the scenarios (Parquet; the previous ones are reused)",
    })
