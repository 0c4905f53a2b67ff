"""BFCL (the Berkeley Function Calling Leaderboard): a benchmark in `evaluate`, and a tool source.

Entries come from the `bfcl-eval` wheel (`suite`), answers are turned into BFCL's formats
(`decode`), generated and scored per category (`run`, `evaluate`) by BFCL's own checkers
(`checkers`). The multi-turn APIs' docs are a catalog source (`fcsynth.catalog.bfcl`) and
their Python classes the simulation's executable tool environment (`apis`).
"""
