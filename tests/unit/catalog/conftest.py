"""Fixtures of the catalog's bad-input tests: an earlier import's output, a local HTTP site."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.catalog_import import Site, local_site, old_out_file


@pytest.fixture
def old_out(tmp_path: Path) -> Path:
    return old_out_file(tmp_path)


@pytest.fixture
def site() -> Iterator[Site]:
    with local_site() as served:
        yield served
