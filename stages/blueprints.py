"""DVC stage `blueprints`: persona, outline, tools and planned features per scenario."""

from pathlib import Path

from fcsynth.catalog.selection import select
from fcsynth.config import load_params
from fcsynth.generation import blueprints, scenarios
from fcsynth.llm.context import stage_context
from fcsynth.paths import ROOT
from fcsynth.stage import run_stage
from fcsynth.tables import read_rows, write_rows
from fcsynth.tools import read_catalog


def main(scenarios_table: Path, tools: Path, out: Path) -> None:
    cfg = load_params()
    selections = select(read_catalog(tools), cfg.toolkits)
    scenario_rows = scenarios.active_rows(read_rows(scenarios_table, "scenarios", blueprints.SCENARIO_COLUMNS))
    with stage_context(cfg, ROOT) as ctx:
        rows, metrics = blueprints.run(ctx, scenario_rows, selections)
    write_rows(rows, out, blueprints.schema())
    metrics.write()


if __name__ == "__main__":
    run_stage("blueprints", main, {
        "scenarios_table": "the scenarios (Parquet)",
        "tools": "the tool catalog (Parquet)",
        "out": "the blueprints (Parquet)",
    })
