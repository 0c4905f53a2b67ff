"""DVC stage `conversations`: grammar-constrained DML generation, one grammar per conversation."""

from pathlib import Path

from fcsynth.catalog.selection import select
from fcsynth.config import load_params
from fcsynth.generation import conversations
from fcsynth.llm.context import stage_context
from fcsynth.paths import ROOT
from fcsynth.stage import run_stage
from fcsynth.tables import read_rows, write_rows
from fcsynth.tools import read_catalog


def main(blueprints: Path, tools: Path, out: Path) -> None:
    cfg = load_params()
    selections = select(read_catalog(tools), cfg.toolkits)
    blueprint_rows = read_rows(blueprints, "blueprints", conversations.BLUEPRINT_COLUMNS)
    with stage_context(cfg, ROOT) as ctx:
        rows, metrics = conversations.run(ctx, blueprint_rows, selections)
    write_rows(rows, out, conversations.schema())
    metrics.write()


if __name__ == "__main__":
    run_stage("conversations", main, {
        "blueprints": "the blueprints (Parquet)",
        "tools": "the tool catalog (Parquet)",
        "out": "the conversations (Parquet)",
    })
