"""`detectors.dense_block.DenseBlock`: FRAUDAR peeling, a ring without shared identities found as
a dense block, and flash sales, B2B bulk buyers and loyal customers left alone."""

from __future__ import annotations

import random

import pytest

from credence.contract import Order
from detectors.dense_block import DenseBlock, peel
from tests.unit.detectors.support import run, snapshot_copy

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_790_000_000_000
HONEST = [f"s{i:02d}" for i in range(40)]


class World:
    """Old honest buyers with one or two favourite shops, each with its own identity."""

    def __init__(self, seed: int = 4, buyers: int = 1500, days: int = 10) -> None:
        self.rng = random.Random(seed)
        self.days = days
        self.events: list[Order] = []
        for i in range(buyers):
            b = f"u{i}"
            favs = self.rng.sample(HONEST, 2)
            for _ in range(self.rng.choice((1, 1, 2, 2, 3, 4, 6))):
                s = self.rng.choice(favs) if self.rng.random() < 0.5 else self.rng.choice(HONEST)
                self.order(s, b, T0 + self.rng.randrange(days * DAY))

    def order(self, seller: str, buyer: str, ts: int, *, registered: int = T0 - 900 * DAY,
              amount: float | None = None, quantity: int = 1) -> str:
        oid = f"o{len(self.events):06d}"
        self.events.append(Order(
            order_id=oid, seller_id=seller, buyer_id=buyer, quantity=quantity,
            amount=amount if amount is not None else round(self.rng.uniform(20, 200), 2),
            ts=ts, device_id=f"d_{buyer}", payment_id=f"p_{buyer}", address_id=f"a_{buyer}",
            tracking_no=f"T{oid}", buyer_registered=registered))
        return oid

    def ring(self, client: str, puppets: int = 20, per: int = 4, start: int = T0 + 2 * DAY,
             days: float = 5) -> list[str]:
        """Puppets with their own (fresh) identities, each buying ``per`` times at the client
        and once at a popular honest shop."""
        names = [f"pup{i}" for i in range(puppets)]
        for i, p in enumerate(names):
            reg = start - self.rng.randrange(1, 10) * DAY if i % 5 < 3 else T0 - 2000 * DAY
            for _ in range(per):
                self.order(client, p, start + self.rng.randrange(int(days * DAY)), registered=reg)
            self.order(self.rng.choice(HONEST[:3]), p, start + self.rng.randrange(int(days * DAY)),
                       registered=reg)
        return names

    def flash_sale(self, seller: str, n: int = 300) -> None:
        t0 = T0 + 4 * DAY + 20 * HOUR
        for i in range(n):
            self.order(seller, f"u{i}", t0 + self.rng.randrange(2 * HOUR))

    def b2b(self, seller: str) -> None:
        for k in range(3):
            for j in range(8):
                self.order(seller, f"biz{k}", T0 + j * DAY + k * HOUR, quantity=150,
                           amount=150 * 40.0, registered=T0 - 3000 * DAY)

    def loyal(self, seller: str, n: int = 15) -> None:
        """Old customers re-buying every two to three days, who shop elsewhere too."""
        for k in range(n):
            b = f"u{100 + k}"
            t = T0 + self.rng.randrange(DAY)
            while t < T0 + self.days * DAY:
                self.order(seller, b, t)
                self.order(self.rng.choice(HONEST), b, t + self.rng.randrange(DAY))
                t += self.rng.randrange(2, 4) * DAY

    def sorted(self) -> list[Order]:
        return sorted(self.events, key=lambda e: (e.ts, e.seller_id, e.order_id))


def test_peel_finds_the_planted_block():
    rng = random.Random(1)
    edges = {(f"r{i}", f"c{j}"): 1.0 for i in range(6) for j in range(2)}
    for i in range(40):  # camouflage-like sparse edges into many columns
        edges[(f"n{i}", f"c{rng.randrange(2, 30)}")] = 0.3
        edges[(f"r{i % 6}", f"c{rng.randrange(2, 30)}")] = 0.1
    density, rows, cols = peel(edges, min_rows=3)
    assert rows == [f"r{i}" for i in range(6)]
    assert cols == ["c0", "c1"]
    assert density == pytest.approx(12 / 8)


def test_peel_keeps_the_minimum_block_size():
    edges = {("a", "x"): 5.0, ("b", "x"): 5.0, ("c", "x"): 0.5, ("d", "x"): 0.5}
    d2, rows2, _ = peel(edges, min_rows=2)
    d4, rows4, _ = peel(edges, min_rows=4)
    assert rows2 == ["a", "b"] and d2 == pytest.approx(10 / 3)
    assert len(rows4) == 4 and d4 == pytest.approx(11 / 5)
    assert peel(edges, min_rows=5) == (0.0, [], [])


def test_ring_forms_a_dense_block_at_its_client():
    w = World()
    puppets = w.ring("s05")  # an established shop with its own honest customers
    fs = run(DenseBlock(), w.sorted())
    assert {f.seller_id for f in fs} == {"s05"}
    f = max(fs, key=lambda f: f.score)
    assert f.score >= 0.4
    assert len(f.accounts) >= 8
    # the block's heavier half carries the score; lighter members stay under the release level
    strong = {a for a, s in f.accounts.items() if s > det_cap()}
    assert len(strong) >= 4 and strong <= set(puppets)
    assert f.evidence["density_ratio"] >= 1.35
    assert f.sellers == {}


def det_cap() -> float:
    return DenseBlock().member_cap


def test_flash_sale_b2b_and_loyal_customers_stay_quiet():
    w = World(seed=6)
    w.flash_sale("s07")
    w.b2b("s_b2b")
    w.loyal("s08")
    assert run(DenseBlock(), w.sorted()) == []


def test_edges_expire_with_the_window():
    w = World(buyers=300)
    w.ring("s_client")
    det = DenseBlock()
    run(det, w.sorted())
    assert det.state_size() > 0
    det.evaluate(T0 + 30 * DAY)
    assert det.state_size() == 0
    assert det._bs == {} and det._sb == {} and det._posb == {} and det._out == {}


def test_typical_density_falls_back_to_the_cold_floor_on_a_small_graph():
    w = World(buyers=200)
    det = DenseBlock()
    run(det, w.sorted())
    assert det._typical == det.cold_floor


def test_state_survives_a_snapshot_midway():
    w = World(buyers=600)
    w.ring("s_client")
    ev = w.sorted()
    half = len(ev) * 2 // 3
    a = DenseBlock()
    run(a, ev[:half])
    b = snapshot_copy(a)
    assert [vars(f) for f in run(a, ev[half:])] == [vars(f) for f in run(b, ev[half:])]
