"""What every stage's rows share: the status vocabulary and the rubric dimensions.

A light module (no vLLM, outlines or polars), so curate, export, report and metrics can
use the same names as the LLM stages without importing the LLM layer.

Every row of an LLM stage has a `status` (judge rows: `judge_status`) from STATUSES and
a `reason` (judge: `judge_reason`) saying why when it is not OK.
"""

from __future__ import annotations

OK = "ok"
TRUNCATED = "truncated"  # max_tokens reached before the answer ended
UNPARSEABLE = "unparseable"  # the answer finished but is not a valid answer
ENGINE_ERROR = "engine_error"  # the engine refused the request (reason: its message)
GRAMMAR_ERROR = "grammar_error"  # the request's grammar could not be built
PROMPT_TOO_LONG = "prompt_too_long"  # the prompt does not fit, nothing was sent
UPSTREAM_FAILED = "upstream_failed"  # the input row was not OK (reason: its status and reason)

# What the one parse step (fcsynth.runner.parse_completion) can return besides OK.
PARSE_FAILURES: tuple[str, ...] = (TRUNCATED, UNPARSEABLE, ENGINE_ERROR)
STATUSES: tuple[str, ...] = (OK, *PARSE_FAILURES, GRAMMAR_ERROR, PROMPT_TOO_LONG, UPSTREAM_FAILED)
# Why a conversation row is not OK (curate counts them as upstream_<status>).
CONVERSATION_FAILURES: tuple[str, ...] = (*PARSE_FAILURES, GRAMMAR_ERROR)
# Why a judge row of an OK conversation is not OK (curate counts them as judge_<status>).
JUDGE_FAILURES: tuple[str, ...] = (*PARSE_FAILURES, PROMPT_TOO_LONG)

# The judge's rubric: one integer score 1-5 per dimension, in this order.
DIMENSIONS: tuple[str, ...] = (
    "user_query_clarity",
    "tool_use_quality",
    "argument_grounding",
    "task_completion",
    "naturalness",
)


def upstream_reason(row: dict, status_key: str = "status", reason_key: str = "reason") -> str:
    """The reason carried by an upstream_failed row: the input's status and reason."""
    reason = row.get(reason_key)
    return f"{row.get(status_key)}: {reason}" if reason else str(row.get(status_key))
