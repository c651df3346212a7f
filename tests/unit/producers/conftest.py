"""A small simulation shared by the producers' unit tests (generated once per session)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from producers.scenario import Scenario
from producers.simulator import Simulation, simulate, write
from producers.truth import Truth

SMALL_SCALE = 0.06


@dataclass
class Small:
    sim: Simulation
    dir: Path
    events: list[dict]
    truth: Truth

    def by_id(self, field: str) -> dict[str, dict]:
        return {e[field]: e for e in self.events if field in e and e["type"] in
                {"order_id": ("order",), "review_id": ("review",),
                 "record_id": ("record",)}[field]}


@pytest.fixture(scope="session")
def small(tmp_path_factory: pytest.TempPathFactory) -> Small:
    sim = simulate(Scenario(scale=SMALL_SCALE))
    d = tmp_path_factory.mktemp("small")
    write(sim, d)
    events = [orjson.loads(line) for line in (d / "events.jsonl").read_bytes().splitlines()]
    return Small(sim, d, events, sim.truth)
