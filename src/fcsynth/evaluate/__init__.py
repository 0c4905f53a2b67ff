"""The `evaluate` stage's library: score a model's tool calls against the test split.

- `steps`: cut test conversations into steps (gold history + gold answer).
- `prompting`: render a step for the model (its chat template with tools, else Hermes default).
- `parse`: read tool calls (Hermes `<tool_call>` JSON) or text out of a completion.
- `metrics`: exact match, Function Call Match, name accuracy, argument P/R/F1, no-call accuracy.
- `run`: build every request, generate in one batch with checkpoints, score.
"""

from fcsynth.evaluate.metrics import Call, aggregate, score_step
from fcsynth.evaluate.parse import parse_completion
from fcsynth.evaluate.prompting import PromptBuilder
from fcsynth.evaluate.run import evaluate, read_split
from fcsynth.evaluate.steps import Step, cut_steps

__all__ = [
    "Call",
    "PromptBuilder",
    "Step",
    "aggregate",
    "cut_steps",
    "evaluate",
    "parse_completion",
    "read_split",
    "score_step",
]
