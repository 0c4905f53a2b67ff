"""Turn outlines output types into vLLM structured-output arguments."""

from __future__ import annotations

from typing import Any

from outlines.models.vllm_offline import VLLMOfflineTypeAdapter
from outlines.types import CFG, JsonSchema, Regex

__all__ = ["CFG", "JsonSchema", "Regex", "structured_output_kwargs"]

_ADAPTER = VLLMOfflineTypeAdapter()


def structured_output_kwargs(constraint: Any) -> dict[str, Any]:
    """kwargs for `vllm.sampling_params.StructuredOutputsParams` ({} for no constraint)."""
    if constraint is None:
        return {}
    return _ADAPTER.format_output_type(constraint)
