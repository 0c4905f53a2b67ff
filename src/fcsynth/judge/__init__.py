"""LLM-as-judge: rubric, constrained answer, and the stage's task (JudgeTask)."""

from fcsynth.judge.rubric import DIMENSIONS, JudgeAnswer, Scores, answer_schema, parse_answer
from fcsynth.judge.run import JUDGE_COLUMNS, JudgeTask, render_prompt, score_metrics

__all__ = [
    "DIMENSIONS", "JUDGE_COLUMNS", "JudgeAnswer", "JudgeTask", "Scores", "answer_schema", "parse_answer",
    "render_prompt", "score_metrics",
]
