"""The `report` stage: DVC plot data and a self-contained page to read conversations."""

from fcsynth.report.page import page_data, render_page
from fcsynth.report.plots import PLOT_FILES, write_plots

__all__ = ["PLOT_FILES", "page_data", "render_page", "write_plots"]
