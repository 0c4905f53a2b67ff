"""Rule-based quality measures of a conversation: placeholders, repeated calls, grounding, degenerate text.

Curate rejects records on them (`fcsynth.curate.checks`) and the simulation checks every new
turn with them (`fcsynth.simulation.turn_checks`), so they sit below both stages.
"""
