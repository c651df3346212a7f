"""`detectors.anomaly.FeatureAnomaly`: an Isolation Forest prior over the feature store."""

from __future__ import annotations

import random

import numpy as np

from credence.contract import Order, Record, Review
from credence.features import FeatureModel
from credence.store.memory import MemoryStore
from detectors.anomaly import FeatureAnomaly
from detectors.base import Finding
from tests.unit.detectors import support
from tests.unit.detectors.support import snapshot_copy

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_790_000_000_000


def market(days: int = 8, sellers: int = 80, seed: int = 3) -> list:
    """Ordinary sellers, and one seller ``odd`` whose every trait is off: nothing shipped, brand
    new buyers, unlinked 5-star reviews on nearly every order, invoices far above sales."""
    rng = random.Random(seed)
    ev: list = []
    for i in range(sellers):
        s = f"s{i:03d}"
        price = rng.uniform(30, 200)
        for _ in range(days * rng.randrange(3, 12)):
            ts = T0 + rng.randrange(days * DAY)
            oid = f"{s}-o{len(ev)}"
            ev.append(Order(order_id=oid, seller_id=s, buyer_id=f"u{rng.randrange(3000)}",
                            amount=round(price * rng.uniform(0.7, 1.4), 2), ts=ts,
                            tracking_no="t" if rng.random() > 0.02 else None,
                            buyer_registered=T0 - rng.randrange(40, 2000) * DAY))
            if rng.random() < 0.25:
                ev.append(Review(review_id=f"{s}-r{len(ev)}", seller_id=s,
                                 reviewer_id=f"u{rng.randrange(3000)}", order_id=oid,
                                 rating=rng.choice((5, 5, 5, 4, 4, 3, 1)), ts=ts + DAY))
        for d in range(days):
            ev.append(Record(record_id=f"{s}-x{d}", seller_id=s, source="invoice", kind="k",
                             amount=price * 5, ts=T0 + d * DAY + 17 * HOUR))
    for k in range(days * 8):
        ts = T0 + rng.randrange(days * DAY)
        ev.append(Order(order_id=f"odd-o{k}", seller_id="odd", buyer_id=f"new{k}", amount=60.0,
                        ts=ts, buyer_registered=ts - 5 * HOUR))
        ev.append(Review(review_id=f"odd-r{k}", seller_id="odd", reviewer_id=f"rv{k}", rating=5,
                         ts=ts + HOUR))
    for d in range(days):
        ev.append(Record(record_id=f"odd-x{d}", seller_id="odd", source="invoice", kind="k",
                         amount=20_000.0, ts=T0 + d * DAY + 17 * HOUR))
    return sorted(ev, key=lambda e: (e.ts, e.type, e.seller_id))


def run(det: FeatureAnomaly, events: list, store: MemoryStore | None, model: FeatureModel,
        tick: int = 10 * MIN) -> list[Finding]:
    def write(e) -> None:
        if store is not None:
            store.apply([model.ops(e)])
    return support.run(det, events, tick, before_observe=write)


def bound(**kw) -> tuple[FeatureAnomaly, MemoryStore, FeatureModel]:
    det = FeatureAnomaly(**kw)
    store, model = MemoryStore(), FeatureModel(scope="core")
    det.bind(store, model)
    return det, store, model


def test_the_odd_seller_is_the_most_anomalous_and_stays_a_modest_prior():
    det, store, model = bound()
    found = run(det, market(), store, model)
    assert FeatureAnomaly.prior_only
    assert found and all(f.score <= 0.6 for f in found)
    assert all(f.ts >= T0 + 3 * DAY for f in found)  # nothing before the warm-up fit
    odd = [f for f in found if f.seller_id == "odd"]
    assert odd and max(f.score for f in odd) == max(f.score for f in found)
    standout = set(odd[-1].evidence["features"])
    assert standout & {"shipped_share", "new_account_share", "log_invoice_to_sales",
                       "claimed_review_share", "reviews_per_order"}
    assert odd[-1].summary.endswith(".")
    # a prior for a few sellers, not a verdict on many
    assert len({f.seller_id for f in found}) <= 8


def test_without_a_store_it_is_silent():
    det = FeatureAnomaly()
    assert run(det, market(days=5, sellers=30), None, FeatureModel(scope="core")) == []


def test_refit_is_bounded_and_deterministic():
    a, sa, ma = bound(max_fit=40, min_fit=20, n_estimators=25)
    b, sb, mb = bound(max_fit=40, min_fit=20, n_estimators=25)
    events = market(days=6, sellers=60)
    fa = run(a, events, sa, ma)
    fb = run(b, events, sb, mb)
    assert [vars(f) for f in fa] == [vars(f) for f in fb]
    assert a._fitted_n <= 40


def test_fitted_model_survives_pickling():
    det, store, model = bound(n_estimators=25)
    events = market(days=6)
    cut = next(i for i, e in enumerate(events) if e.ts >= T0 + 4 * DAY)
    run(det, events[:cut], store, model)
    assert det._forest is not None
    # The detection stage snapshots the whole engine, the store with it.
    clone_det, clone_store = snapshot_copy((det, store))
    assert clone_det._store is clone_store
    x = np.zeros((1, len(det._median)))
    assert np.array_equal(det._forest.score_samples(x), clone_det._forest.score_samples(x))
    a = run(det, events[cut:], store, model)
    b = run(clone_det, events[cut:], clone_store, model)
    assert [vars(f) for f in a] == [vars(f) for f in b]


def test_inactive_sellers_are_forgotten():
    det, store, model = bound()
    run(det, market(days=4, sellers=30), store, model)
    assert det.state_size() > 0
    det.evaluate(T0 + 30 * DAY)
    assert det.state_size() == 0
