"""DVC stage `blueprints`: persona, outline, tools and planned features per scenario."""

from fcsynth.catalog.selection import select
from fcsynth.config import load_params
from fcsynth.generation import blueprints, scenarios
from fcsynth.llm.context import stage_context
from fcsynth.paths import DATA_DIR, ROOT
from fcsynth.stage import run_stage
from fcsynth.tables import read_rows, write_rows
from fcsynth.tools import read_catalog

OUT = DATA_DIR / "blueprints.parquet"


def main() -> None:
    cfg = load_params()
    selections = select(read_catalog(DATA_DIR / "catalog" / "tools.parquet"), cfg.toolkits)
    scenario_rows = scenarios.active_rows(read_rows(DATA_DIR / "scenarios.parquet", "scenarios", blueprints.SCENARIO_COLUMNS))
    with stage_context(cfg, ROOT) as ctx:
        rows, metrics = blueprints.run(ctx, scenario_rows, selections)
    write_rows(rows, OUT, blueprints.schema())
    metrics.write()


if __name__ == "__main__":
    run_stage("blueprints", main)
