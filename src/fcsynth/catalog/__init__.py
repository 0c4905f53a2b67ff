"""The tool catalog: importers (OpenAPI, MCP, OpenAI, Funcdex, BFCL), normalization, the
merged catalog (`build`) and toolkit selections (`selection`). See docs/guides/tool-catalog.md.
Nothing is imported here, so a stage that only selects tools does not depend on every importer."""
