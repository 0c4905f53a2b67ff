"""The `evaluate` stage's library: score a model's tool calls against the test split.

- `parse`: read tool calls (Hermes `<tool_call>` JSON) or text out of a completion.
- `metrics`: exact match, Function Call Match, name accuracy, argument P/R/F1, no-call accuracy.
- `run`: build every request, generate in one batch with checkpoints, score.
- `compare`: base against tuned, the card and the plots.
Steps and prompts come from `fcsynth.chat`, shared with the train stage.
"""
