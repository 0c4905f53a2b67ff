"""The `curate` stage: acceptance (judge thresholds, independent validation, rule-based
quality checks) and conversation-level near-duplicate removal.

- `decide`: one decision per judged row and the stage metrics;
- `checks`: placeholders, repeated calls, argument grounding, degenerate text (`CHECKS`, the registry);
- `near_duplicates`: MinHash/LSH over the conversation text;
- `stats`: quality rates before/after curation, grounding histogram, judge agreement.
"""

from fcsynth.curate.checks import CHECKS, QUALITY_COLUMNS, QUALITY_REASONS, Check, Measured, Quality, assess, registry
from fcsynth.curate.decide import STAGE, curate, default_validator, first_failure, reason_keys
from fcsynth.curate.near_duplicates import NearDuplicates, conversation_text, minhash
from fcsynth.curate.stats import grounding_histogram, judge_agreement, summarize

__all__ = [
    "CHECKS", "QUALITY_COLUMNS", "QUALITY_REASONS", "STAGE", "Check", "Measured", "NearDuplicates", "Quality",
    "assess", "conversation_text", "curate", "default_validator", "first_failure", "grounding_histogram",
    "judge_agreement", "minhash", "reason_keys", "registry", "summarize",
]
