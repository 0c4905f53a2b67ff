"""LLM-as-judge: rubric, constrained answer, and the stage's library code."""

from fcsynth.judge.rubric import DIMENSIONS, JudgeAnswer, Scores, answer_schema, parse_answer
from fcsynth.judge.run import JUDGE_COLUMNS, build_request, judge_conversations, render_prompt, score_metrics

__all__ = [
    "DIMENSIONS", "JUDGE_COLUMNS", "JudgeAnswer", "Scores", "answer_schema", "build_request",
    "judge_conversations", "parse_answer", "render_prompt", "score_metrics",
]
