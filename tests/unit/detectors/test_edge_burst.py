"""`detectors.edge_burst.EdgeBurst`: MIDAS-R scores, a ring bursting through shared devices, and
the bursts that are not manipulation (a flash sale, an eager repeat customer)."""

from __future__ import annotations

import random

import pytest

from credence.contract import Order
from detectors.edge_burst import EdgeBurst, midas_score
from tests.unit.detectors.support import run, snapshot_copy

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_790_000_000_000
HONEST = [f"s{i:02d}" for i in range(30)]


class World:
    """Honest buyers in households (shared address), each with its own device."""

    def __init__(self, seed: int = 2, households: int = 300, days: int = 6) -> None:
        self.rng = random.Random(seed)
        self.days = days
        self.events: list[Order] = []
        for h in range(households):
            for m in range(self.rng.choice((1, 1, 2, 3, 4))):
                b = f"u{h}_{m}"
                fav = self.rng.choice(HONEST)
                for _ in range(self.rng.randint(1, 5)):
                    s = fav if self.rng.random() < 0.5 else self.rng.choice(HONEST)
                    self.order(s, b, T0 + self.rng.randrange(days * DAY), device=f"d_{b}",
                               address=f"a_h{h}")

    def order(self, seller: str, buyer: str, ts: int, *, device: str, address: str) -> str:
        oid = f"o{len(self.events):06d}"
        self.events.append(Order(order_id=oid, seller_id=seller, buyer_id=buyer,
                                 amount=round(self.rng.uniform(20, 200), 2), ts=ts,
                                 device_id=device, address_id=address, tracking_no=f"T{oid}",
                                 buyer_registered=T0 - 700 * DAY))
        return oid

    def ring(self, client: str, puppets: int = 20, per_day: int = 14, days: int = 3,
             start: int = T0 + 2 * DAY) -> list[str]:
        """Puppets on four shared phones and two addresses, ordering in office hours."""
        names = [f"pup{i}" for i in range(puppets)]
        for d in range(days):
            for _ in range(per_day):
                i = self.rng.randrange(puppets)
                ts = start + d * DAY + self.rng.randrange(9 * HOUR)
                self.order(client, names[i], ts, device=f"d_crew{i % 4}",
                           address=f"a_crew{i % 2}")
        return names

    def sorted(self) -> list[Order]:
        return sorted(self.events, key=lambda e: (e.ts, e.seller_id, e.order_id))


def test_midas_score_is_high_for_a_new_burst_and_low_for_a_steady_edge():
    assert midas_score(3.0, 3.0, 100.0) == pytest.approx((3 - 0.03) ** 2 * 1e4 / (3 * 99))
    assert midas_score(3.0, 3.0, 100.0) > 250
    assert midas_score(2.0, 200.0, 100.0) < 1
    assert midas_score(1.0, 0.0, 100.0) == 0.0 and midas_score(1.0, 1.0, 1.0) == 0.0


def test_sketch_rows_are_stable_across_instances():
    a, b = EdgeBurst(), EdgeBurst()
    assert a._rows("device|d1|s1") == b._rows("device|d1|s1")
    assert a._rows("device|d1|s1") != a._rows("device|d1|s2")


def test_ring_on_shared_devices_fires_with_the_puppets():
    w = World()
    puppets = w.ring("s_client")
    fs = run(EdgeBurst(), w.sorted())
    assert {f.seller_id for f in fs} == {"s_client"}
    f = max(fs, key=lambda f: f.score)
    assert f.score >= 0.6
    assert len(f.evidence["shared_devices"]) >= 2
    assert len(f.accounts) >= 5 and set(f.accounts) <= set(puppets)


def test_flash_sale_and_eager_customer_stay_quiet():
    w = World(seed=3)
    t0 = T0 + 3 * DAY + 20 * HOUR
    buyers = sorted({e.buyer_id: e for e in w.events}.values(), key=lambda e: e.buyer_id)
    for e in buyers[:250]:  # many ordinary buyers, each once, households included
        w.order("s_flash", e.buyer_id, t0 + w.rng.randrange(2 * HOUR), device=e.device_id,
                address=e.address_id)
    for j in range(12):  # one customer ordering again and again in an afternoon
        w.order("s_eager", "u_eager", T0 + 2 * DAY + 14 * HOUR + j * 10 * MIN,
                device="d_eager", address="a_eager")
    assert run(EdgeBurst(), w.sorted()) == []


def test_sketches_are_fixed_and_aggregates_expire():
    w = World(households=100)
    w.ring("s_client")
    det = EdgeBurst()
    shapes = [x.shape for x in (det._cur, det._tot, det._pairs, det._distinct)]
    run(det, w.sorted())
    assert [x.shape for x in (det._cur, det._tot, det._pairs, det._distinct)] == shapes
    assert det.state_size() > 0
    det.evaluate(T0 + 20 * DAY)
    assert det.state_size() == 0 and det._hot == {} and det._recent == {}
    assert float(det._cur.max()) < 1e-6  # current counts decayed away


def test_state_survives_a_snapshot_midway():
    w = World(households=150)
    w.ring("s_client")
    ev = w.sorted()
    half = len(ev) // 2
    a = EdgeBurst()
    run(a, ev[:half])
    b = snapshot_copy(a)
    assert [vars(f) for f in run(a, ev[half:])] == [vars(f) for f in run(b, ev[half:])]
