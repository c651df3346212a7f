"""`detectors.records.ConjuredRecords`: padded invoices, invoices without sales, customs."""

from __future__ import annotations

import random

from credence.contract import Order, Record, Refund
from detectors.base import Finding
from detectors.records import ConjuredRecords
from tests.unit.detectors import support
from tests.unit.detectors.support import snapshot_copy

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_790_000_000_000 - 1_790_000_000_000 % DAY - 8 * HOUR  # a local (UTC+8) midnight


class Shop:
    """One seller's orders, refunds and the paperwork that goes with them."""

    def __init__(self, seller: str, seed: int = 1) -> None:
        self.seller = seller
        self.rng = random.Random(seed)
        self.events: list = []
        self.daily: dict[int, float] = {}

    def sales(self, day: int, n: int, lo: float = 30.0, hi: float = 200.0,
              refund_share: float = 0.0) -> None:
        for _ in range(n):
            ts = T0 + day * DAY + self.rng.randrange(DAY)
            amount = round(self.rng.uniform(lo, hi), 2)
            oid = f"{self.seller}-o{len(self.events)}"
            self.events.append(Order(order_id=oid, seller_id=self.seller,
                                     buyer_id=f"u{self.rng.randrange(999)}", amount=amount,
                                     ts=ts, tracking_no="t"))
            self.daily[day] = self.daily.get(day, 0.0) + amount
            if self.rng.random() < refund_share:
                self.events.append(Refund(order_id=oid, seller_id=self.seller, amount=amount,
                                          ts=ts + self.rng.randrange(2, 10) * DAY))

    def record(self, ts: int, amount: float, source: str = "invoice") -> None:
        self.events.append(Record(record_id=f"{self.seller}-x{len(self.events)}",
                                  seller_id=self.seller, source=source, kind="daily_sales",
                                  amount=round(amount, 2), ts=ts))

    def invoice_day(self, day: int, factor: float = 1.0, extra: float = 0.0) -> None:
        """The invoice of one local day's sales, issued in the small hours of the next day."""
        sales = self.daily.get(day, 0.0)
        if sales or extra:
            ts = T0 + (day + 1) * DAY + self.rng.randrange(20, 180) * MIN
            self.record(ts, sales * self.rng.uniform(0.985, 1.0) * factor + extra)


def run(det: ConjuredRecords, events: list, tick: int = MIN) -> list[Finding]:
    # Records of a day and its orders arrive in any order; the engine sorts by time then type.
    return support.run(det, sorted(events, key=lambda e: (e.ts, e.type)), tick)


def honest(seller: str, days: int, seed: int = 1, per_day: int = 8) -> Shop:
    s = Shop(seller, seed)
    for d in range(days):
        s.sales(d, s.rng.randrange(1, per_day), refund_share=0.1)
        s.invoice_day(d)
    return s


def test_honest_invoices_with_refunds_and_a_flash_sale_stay_quiet():
    shops = [honest(f"h{i}", 25, seed=i) for i in range(10)]
    flash = Shop("flash", 99)
    for d in range(25):
        flash.sales(d, 5 if d != 9 else 400, lo=40, hi=60, refund_share=0.05)
        flash.invoice_day(d)
    events = [e for s in [*shops, flash] for e in s.events]
    assert run(ConjuredRecords(), events) == []


def test_padded_invoices_fire_at_the_first_and_grow():
    s = Shop("pad", 3)
    for d in range(20):
        s.sales(d, 6, lo=100, hi=300)
        s.invoice_day(d, factor=4.0 if 8 <= d < 15 else 1.0)
    found = run(ConjuredRecords(), s.events)
    assert found and {f.seller_id for f in found} == {"pad"}
    first = found[0]
    assert first.ts >= T0 + 9 * DAY and first.ts < T0 + 10 * DAY  # the first padded invoice
    assert 0.4 <= first.score < 0.8
    assert max(f.score for f in found) >= 0.8
    assert all(f.reasons == ("invoice_padding",) for f in found)
    last = found[-1]
    assert 3.0 < last.evidence["ratio"] < 5.0
    assert last.evidence["padded_invoices"] == 7
    assert len(last.evidence["record_ids"]) == 7
    assert len(found) == 7  # one finding per new padded invoice, not per tick


def test_invoices_without_sales():
    s = Shop("shell", 5)
    for d in range(3, 12):
        s.record(T0 + d * DAY + 17 * HOUR, 30000 * s.rng.uniform(0.8, 1.2))
    s.sales(5, 1, lo=20, hi=40)
    found = run(ConjuredRecords(), s.events)
    assert found[0].reasons == ("invoice_without_sales",)
    assert found[0].score < 0.8 <= found[1].score
    assert found[-1].evidence["orders_30d"] == 1


def test_late_and_weekly_invoices_reconcile():
    s = Shop("weekly", 7)
    for d in range(28):
        s.sales(d, 5)
        if d % 7 == 6:  # one invoice for the whole week, two days late
            week = sum(s.daily.get(x, 0.0) for x in range(d - 6, d + 1))
            s.record(T0 + (d + 2) * DAY + 10 * HOUR, week)
    assert run(ConjuredRecords(), s.events) == []


def test_records_in_the_warm_up_are_not_judged():
    s = Shop("early", 2)
    s.record(T0 + 2 * HOUR, 50000.0)  # sales before the stream are unknown
    s.sales(0, 5)
    assert run(ConjuredRecords(), s.events) == []


def test_customs_far_above_sales_after_the_lag():
    exporter = Shop("exp", 11)
    inflated = Shop("fake", 12)
    for shop, share in ((exporter, 0.5), (inflated, 12.0)):
        for d in range(35):
            shop.sales(d, 4)
            shop.invoice_day(d)
            if d % 7 == 3 and d >= 7:
                week = sum(shop.daily.get(x, 0.0) for x in range(d - 6, d + 1))
                shop.record(T0 + d * DAY + 11 * HOUR, week * share, source="customs")
    found = run(ConjuredRecords(), exporter.events + inflated.events)
    assert {f.seller_id for f in found} == {"fake"}
    assert all("customs_inflation" in f.reasons for f in found)
    # judged once the sales around the declaration are known
    assert min(f.ts for f in found) >= T0 + 17 * DAY


def test_state_expires_and_old_padding_is_not_reported_again():
    s = Shop("pad", 3)
    for d in range(60):
        s.sales(d, 4, lo=100, hi=300)
        s.invoice_day(d, factor=5.0 if 5 <= d < 8 else 1.0)
    det = ConjuredRecords()
    found = run(det, s.events)
    assert len(found) == 3 and max(f.ts for f in found) < T0 + 10 * DAY
    st = det._sellers["pad"]
    assert len(st.invoices) <= det.window_days + 1 and len(st.pool) <= det.pool_days + 1
    assert len(st.days) <= det.window_days + 2 * det.customs_lag_days + 1
    det.evaluate(T0 + 200 * DAY)
    assert det.state_size() == 0


def test_snapshot_gives_the_same_findings():
    s = Shop("pad", 4)
    for d in range(16):
        s.sales(d, 6, lo=100, hi=300)
        s.invoice_day(d, factor=6.0 if d >= 6 else 1.0)
    events = sorted(s.events, key=lambda e: (e.ts, e.type))
    cut = next(i for i, e in enumerate(events) if e.ts >= T0 + 8 * DAY)
    det = ConjuredRecords()
    run(det, events[:cut])
    clone = snapshot_copy(det)
    a = [vars(f) for f in run(det, events[cut:])]
    assert a and a == [vars(f) for f in run(clone, events[cut:])]


def test_a_refunded_order_at_a_small_shop_does_not_make_its_invoices_padded():
    s = Shop("tiny", 8)
    s.sales(0, 1, lo=20, hi=30)
    s.invoice_day(0)
    s.sales(2, 1, lo=640, hi=650)  # the shop's one big order of the month ...
    s.invoice_day(2)
    big = [e for e in s.events if e.type == "order"][-1]
    s.events.append(Refund(order_id=big.order_id, seller_id="tiny", amount=big.amount,
                           ts=T0 + 4 * DAY))  # ... comes back
    for d in (5, 8):
        s.sales(d, 1, lo=170, hi=190)
        s.invoice_day(d)
    assert run(ConjuredRecords(), s.events) == []
