"""Fixtures of the integration tests (helpers live in tests/integration/support.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from config.settings import Settings
from tests.integration.support import Worker


@pytest.fixture
def worker_factory(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    made: list[Worker] = []

    def make(s: Settings, role: str = "all") -> Worker:
        w = Worker(s, tmp_path / f"worker-{len(made)}.log", role=role)
        made.append(w)
        return w.start()

    yield make
    for w in made:
        w.stop()
