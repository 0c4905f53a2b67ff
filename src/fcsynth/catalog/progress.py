"""Progress on stderr for imports that take a while (nothing is shown for quick ones)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

SHOW_AFTER_S = 2.0


@contextmanager
def progress(total: int, desc: str) -> Iterator[Any]:
    """A tqdm bar (`done/total`, rate) on stderr that appears only after SHOW_AFTER_S seconds."""
    bar = tqdm(total=total, desc=desc, unit="op", file=sys.stderr, delay=SHOW_AFTER_S, leave=False, dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()
