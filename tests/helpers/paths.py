"""Where the tests find the repository and the shared real-world specs beside it."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The shared specs sit beside the repository (CI, /work/main); a worktree elsewhere names them.
SHARED_OPENAPI = Path(os.environ.get("FCSYNTH_SHARED_OPENAPI") or REPO.parent / "shared" / "openapi")
