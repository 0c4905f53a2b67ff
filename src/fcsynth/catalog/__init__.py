"""The tool catalog: importers (OpenAPI, MCP, OpenAI, Funcdex), normalization, the merged
catalog and toolkit selections. See README "Tool catalog and importers"."""

from fcsynth.catalog.build import CatalogBuild, build_catalog, catalog_metrics, import_records, import_source
from fcsynth.catalog.result import ImportResult
from fcsynth.catalog.selection import select, selection_name

__all__ = [
    "CatalogBuild",
    "ImportResult",
    "build_catalog",
    "catalog_metrics",
    "import_records",
    "import_source",
    "select",
    "selection_name",
]
