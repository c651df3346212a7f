"""`detectors.brushing.Brushing`: token unshipped orders with praise, and digital goods."""

from __future__ import annotations

import random

from credence.contract import Order, Review
from detectors.brushing import Brushing
from tests.unit.detectors.support import run, snapshot_copy

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_790_000_000_000


class Stream:
    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.events: list = []

    def order(self, seller: str, buyer: str, amount: float, ts: int, shipped: bool = True,
              registered: int | None = None) -> str:
        oid = f"o{len(self.events):06d}"
        self.events.append(Order(order_id=oid, seller_id=seller, buyer_id=buyer, amount=amount,
                                 ts=ts, tracking_no="SF1" if shipped else None,
                                 buyer_registered=registered))
        return oid

    def review(self, seller: str, reviewer: str, rating: int, ts: int,
               order_id: str | None = None) -> None:
        self.events.append(Review(review_id=f"r{len(self.events):06d}", seller_id=seller,
                                  reviewer_id=reviewer, rating=rating, ts=ts,
                                  order_id=order_id))

    def shop(self, seller: str, days: int, per_day: int, lo: float, hi: float,
             shipped: bool = True, review_rate: float = 0.3) -> None:
        """Ordinary customers (old accounts) with a J-shaped rating spread."""
        for _ in range(days * per_day):
            ts = T0 + self.rng.randrange(days * DAY)
            buyer = f"u{self.rng.randrange(2000)}"
            oid = self.order(seller, buyer, round(self.rng.uniform(lo, hi), 2), ts, shipped,
                             registered=T0 - 400 * DAY)
            if self.rng.random() < review_rate:
                rating = self.rng.choice((5, 5, 5, 4, 4, 3, 1))
                self.review(seller, buyer, rating, ts + self.rng.randrange(1, 3) * DAY, oid)

    def brush(self, seller: str, start: int, n: int, prefix: str = "b",
              fresh: bool = True, review: bool = True) -> list[str]:
        accounts = []
        t = start
        for i in range(n):
            a = f"{prefix}{i}"
            accounts.append(a)
            reg = t - self.rng.randrange(2, 60) * HOUR if fresh else T0 - 900 * DAY
            oid = self.order(seller, a, round(self.rng.uniform(0.5, 3.0), 2), t, shipped=False,
                             registered=reg)
            if review:
                self.review(seller, a, 5, t + self.rng.randrange(12, 40) * HOUR, oid)
            t += self.rng.randrange(20, 90) * MIN
        return accounts

    def sorted(self) -> list:
        return sorted(self.events, key=lambda e: (e.ts, e.type, getattr(e, "order_id", "")))


def test_brushing_seller_and_accounts_found():
    s = Stream()
    s.shop("victim_of_nothing", 10, 10, 40, 120)
    s.shop("brush", 10, 6, 50, 150)
    brushers = s.brush("brush", T0 + 4 * DAY, 15)
    found = run(Brushing(), s.sorted())
    assert {f.seller_id for f in found} == {"brush"}
    assert max(f.score for f in found) >= 0.8
    named = {a: v for f in found for a, v in f.accounts.items()}
    assert set(named) == set(brushers)
    assert sum(v >= 0.8 for v in named.values()) >= 12
    f = found[-1]
    assert f.evidence["tiny_unshipped_orders"] == 15 and f.evidence["five_star_reviews"] >= 12
    assert "fresh_accounts" in f.reasons and "five_star_followup" in f.reasons
    assert len(f.evidence["order_ids"]) <= 20


def test_first_brushing_order_gives_an_early_low_alert():
    s = Stream()
    s.shop("brush", 6, 6, 50, 150)
    s.brush("brush", T0 + 4 * DAY, 1)
    found = run(Brushing(), s.sorted())
    assert len(found) == 1 and 0.4 <= found[0].score < 0.6
    assert found[0].ts == T0 + 4 * DAY


def test_digital_goods_never_ship_and_do_not_fire():
    s = Stream()
    s.shop("cards", 14, 15, 10, 60, shipped=False, review_rate=0.5)
    s.shop("keys", 14, 5, 80, 300, shipped=False, review_rate=0.5)
    for i in range(30):  # new accounts buy digital goods too, at normal prices
        s.order("cards", f"n{i}", 30.0, T0 + i * 8 * HOUR, shipped=False,
                registered=T0 + i * 8 * HOUR - 3 * HOUR)
    assert run(Brushing(), s.sorted()) == []


def test_price_top_ups_from_regular_customers_stay_quiet():
    s = Stream()
    s.shop("shop", 14, 20, 50, 200)
    s.brush("shop", T0 + 2 * DAY, 25, prefix="u", fresh=False, review=False)
    assert run(Brushing(), s.sorted()) == []


def test_disappointed_reviews_cancel_the_weight():
    s = Stream()
    s.shop("shop", 8, 8, 50, 150)
    t = T0 + 3 * DAY
    for i in range(6):  # old customers buy a cheap sample, nothing ships, and they complain
        oid = s.order("shop", f"old{i}", 1.5, t + i * HOUR, shipped=False,
                      registered=T0 - 500 * DAY)
        s.review("shop", f"old{i}", 1, t + DAY + i * HOUR, oid)
    assert run(Brushing(), s.sorted()) == []


def test_candidates_expire_after_the_window():
    s = Stream()
    s.shop("brush", 30, 4, 50, 150)
    s.brush("brush", T0 + 3 * DAY, 10)
    det = Brushing()
    found = run(det, s.sorted())
    assert found and max(f.ts for f in found) < T0 + 6 * DAY
    assert not det._cands and not det._by_seller and not det._by_buyer
    assert det.state_size() <= det.ref_size


def test_a_burst_of_brushing_cannot_become_the_sellers_typical_order():
    s = Stream()
    s.shop("small", 10, 1, 60, 120)
    s.brush("small", T0 + 5 * DAY, 80)  # far more brushing than real sales
    found = run(Brushing(), s.sorted())
    assert max(f.score for f in found) >= 0.8
    assert max(f.evidence["tiny_unshipped_orders"] for f in found) == 80


def test_snapshot_gives_the_same_findings():
    s = Stream()
    s.shop("brush", 8, 6, 50, 150)
    s.brush("brush", T0 + 4 * DAY, 12)
    events = s.sorted()
    cut = next(i for i, e in enumerate(events) if e.ts >= T0 + 4 * DAY + 3 * HOUR)
    det = Brushing()
    run(det, events[:cut])
    clone = snapshot_copy(det)
    a = [vars(f) for f in run(det, events[cut:])]
    assert a and a == [vars(f) for f in run(clone, events[cut:])]
