"""The simulator: background, hard negatives and patterns assembled into one time-ordered file.

Order of work: population; hard negatives that reshape it (digital sellers, a campus); organic
trade; patterns; the remaining hard negatives; paperwork (invoices need every sale); then the
ledger is sorted and ids assigned. Every component draws from its own random stream derived
from the seed and its name, so the same seed and scenario give byte-identical output.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from numpy.random import PCG64, Generator, SeedSequence

from producers import bitcoin_alpha
from producers.base import NEGATIVE_NAMES, PATTERN_NAMES, HardNegative, Instance, Pattern
from producers.clock import Clock
from producers.identities import Minters
from producers.ledger import Finalized, Ledger, synthetic_ids
from producers.marketplace import Marketplace, World, issue_invoices
from producers.negatives import NEGATIVES
from producers.patterns import PATTERNS
from producers.scenario import Scenario
from producers.truth import Truth, build_truth, write_truth

__all__ = ["Simulation", "simulate", "write", "stream", "EVENTS_FILE", "TRUTH_FILE"]

EVENTS_FILE = "events.jsonl"
TRUTH_FILE = "truth.json"


def stream(seed: int, name: str) -> Generator:
    """The random stream of one component: PCG64 seeded by (seed, a stable hash of name)."""
    return Generator(PCG64(SeedSequence([seed, zlib.crc32(name.encode())])))


@dataclass
class Simulation:
    scenario: Scenario
    events: Finalized
    truth: Truth
    seconds: float  # generation time, wall clock (reported, never written to files)


def _components(scenario: Scenario, allowed_negatives: tuple[str, ...] = NEGATIVE_NAMES
                ) -> tuple[list[Pattern], list[HardNegative]]:
    patterns = [PATTERNS[n](scenario.count(scenario.patterns[n]),
                            scenario.patterns[n].intensity)
                for n in PATTERN_NAMES if n in scenario.patterns]
    negatives = [NEGATIVES[n](scenario.count(scenario.negatives[n]) if n in allowed_negatives
                              else 0, scenario.negatives[n].intensity)
                 for n in NEGATIVE_NAMES if n in scenario.negatives]
    return patterns, negatives


def simulate(scenario: Scenario, *, dataset: Path | None = None) -> Simulation:
    """Generate the scenario's events and truth in memory."""
    t0 = time.perf_counter()
    seed = scenario.seed
    labels: dict[str, str] = {}
    if scenario.background == "synthetic":
        clock = Clock(scenario.start, scenario.days)
        world = World(clock, Ledger(clock.start_ms, clock.end_ms), Minters(stream(seed, "ids")))
        world.random_adversary = scenario.adversary == "random"
        market = Marketplace(scenario.population())
        market.populate(world, stream(seed, "population"))
        patterns, negatives = _components(scenario)
        for neg in negatives:
            neg.prepare(world, stream(seed, f"prepare:{neg.name}"))
        market.trade(world, stream(seed, "trade"))
        first = 1
        ids = synthetic_ids()
    else:
        world, labels, first = bitcoin_alpha.build_world(
            bitcoin_alpha.dataset_dir(dataset), stream(seed, "bitcoin-alpha"),
            stream(seed, "ids"), days=scenario.days, inject_start=scenario.inject_start,
            spread=scenario.spread)
        world.random_adversary = scenario.adversary == "random"
        patterns, negatives = _components(scenario, bitcoin_alpha.INJECTABLE_NEGATIVES)
        market = None
        ids = bitcoin_alpha.ids()
    p_inst: list[Instance] = []
    n_inst: list[Instance] = []
    for pat in patterns:
        p_inst.extend(pat.inject(world, stream(seed, pat.name)))
    for neg in negatives:
        n_inst.extend(neg.inject(world, stream(seed, neg.name)))
    if market is not None:
        market.paperwork(world, stream(seed, "paperwork"))
    else:
        # Spread over years, the real background's sellers do not all invoice every sale day.
        issue_invoices(world, stream(seed, "paperwork"), share=0.1 if scenario.spread else 1.0)
    ledger = world.ledger
    out = ledger.finalize(stream(seed, "finalize"), ids, first=first,
                          strip=scenario.stripped_fields())
    period = ((ledger.lo_ms, ledger.hi_ms) if scenario.background != "synthetic"
              else (world.clock.start_ms, world.clock.end_ms))
    truth = build_truth(seed=seed, scale=scenario.scale, background=scenario.background,
                        period=period, ledger=ledger, out=out, patterns=p_inst,
                        negatives=n_inst, labels=labels,  # type: ignore[arg-type]
                        world=_world_summary(scenario))
    return Simulation(scenario, out, truth, time.perf_counter() - t0)


def _world_summary(scenario: Scenario) -> dict[str, object]:
    """What the truth says of the world the events come from (drawn knobs included)."""
    return {"world": scenario.world, "adversary": scenario.adversary,
            "sellers": scenario.population().sellers, "buyers": scenario.population().buyers,
            "days": scenario.days, "orders_per_buyer": scenario.orders_per_buyer,
            "review_rate": scenario.review_rate, "market": scenario.market.model_dump()}


def write(sim: Simulation, out_dir: Path) -> tuple[Path, Path]:
    """Write ``events.jsonl`` (one compact JSON event per line) and ``truth.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    events = out_dir / EVENTS_FILE
    with events.open("wb") as f:
        for line in sim.events.lines:
            f.write(line)
            f.write(b"\n")
    truth = out_dir / TRUTH_FILE
    write_truth(sim.truth, truth)
    return events, truth
