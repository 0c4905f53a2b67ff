"""DVC stage `blueprints`: persona, outline, tools and planned features per scenario."""

from pathlib import Path

from fcsynth.catalog.selection import select
from fcsynth.config import load_params
from fcsynth.generation.blueprints import BlueprintTask
from fcsynth.generation.scenarios import active_rows
from fcsynth.llm.context import stage_context
from fcsynth.paths import ROOT
from fcsynth.stage import run_stage
from fcsynth.tables import read_rows, write_rows
from fcsynth.tools import read_catalog


def main(scenarios_table: Path, tools: Path, out: Path) -> None:
    cfg = load_params()
    selections = select(read_catalog(tools), cfg.toolkits)
    scenario_rows = active_rows(read_rows(scenarios_table, "scenarios", BlueprintTask.inputs))
    task = BlueprintTask(selections)
    with stage_context(cfg, ROOT) as ctx:
        rows, metrics = task.run(ctx, scenario_rows)
    write_rows(rows, out, task.schema())
    metrics.write()


if __name__ == "__main__":
    run_stage("blueprints", main, {
        "scenarios_table": "the scenarios (Parquet)",
        "tools": "the tool catalog (Parquet)",
        "out": "the blueprints (Parquet)",
    })
