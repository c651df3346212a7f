"""Credit scores: bounds, monotonicity where it must hold, and discounting of manipulation."""

from __future__ import annotations

import numpy as np

from config.settings import load
from credence.contract import DAY_MS, Order, Record, Review
from credence.engine import Engine
from credence.features import SELLER_METRICS, SellerFeatures
from credence.fusion import PRIOR_CAP
from credence.ledger import Contribution
from credence.scoring import MAX_SCORE, MIN_SCORE, compute
from credence.sequencer import Sequencer
from detectors.base import Detector, Finding

T0 = 1_790_000_000_000 - 1_790_000_000_000 % DAY_MS
_IDX = {m: i for i, m in enumerate(SELLER_METRICS)}


def _features(court: int = 0, ipr: int = 0, refunds: int = 0, gmv: int = 5_000_000,
              orders: int = 500) -> SellerFeatures:
    f = SellerFeatures("s", T0 + 200 * DAY_MS)
    base = {"orders": orders, "gmv_fen": gmv, "repeat": orders // 4, "refunds": refunds,
            "reviews": 100, "rating_sum": 440, "invoice_fen": gmv, "invoice": 90}
    f.windows = {"30d": dict(base), "90d": dict(base),
                 "lifetime": {**base, "court": court, "ipr": ipr}}
    f.distinct_buyers = {"90d": 300}
    daily = np.zeros((90, len(SELLER_METRICS)), dtype=np.int64)
    daily[:, _IDX["gmv_fen"]] = gmv // 90
    f.daily = daily
    return f


def _score(**kw) -> int:
    return compute(_features(**kw), Contribution(), 0.0, T0, 0, None).score


def test_bounds_and_reasons():
    for kw in ({}, {"court": 50, "refunds": 500, "gmv": 0, "orders": 0}):
        card = compute(_features(**kw), Contribution(), 1.0, T0, 9, "inspector")
        assert MIN_SCORE <= card.score <= MAX_SCORE
        assert len(card.reasons) <= 4
    assert compute(_features(), Contribution(), 0.0, T0, 0, "inspector").score <= 450


def test_another_court_judgment_never_raises_a_score():
    scores = [_score(court=n) for n in range(8)]
    assert all(b <= a for a, b in zip(scores, scores[1:], strict=False))
    assert scores[1] < scores[0]
    assert all(_score(ipr=n + 1) <= _score(ipr=n) for n in range(6))


def test_more_refunds_never_raise_a_score():
    scores = [_score(refunds=n) for n in range(0, 300, 25)]
    assert all(b <= a for a, b in zip(scores, scores[1:], strict=False))


def test_own_suspicion_never_raises_a_score():
    f = _features()
    scores = [compute(f, Contribution(), s / 20, T0, 0, None).score for s in range(21)]
    assert all(b <= a for a, b in zip(scores, scores[1:], strict=False))
    assert scores[-1] < scores[0] - 200
    # What the anomaly prior reaches on its own is not yet manipulation (a prior is never
    # alone a reason).
    assert compute(f, Contribution(), PRIOR_CAP, T0, 0, None).score == scores[0]


def _with_ratings(reviews: int, low: int) -> dict[str, float]:
    f = _features()
    f.windows["lifetime"].update(reviews=reviews, low=low,
                                 rating_sum=5 * (reviews - low) + low)
    return compute(f, Contribution(), 0.0, T0, 0, None).components


def test_complaints_weigh_a_short_bad_record_but_not_one_bad_rating():
    assert _with_ratings(2, 1)["complaints"] > -20
    # Six bad ratings of eight (as the fraudulent users of Bitcoin-Alpha typically have) count.
    short_bad = _with_ratings(8, 6)
    assert short_bad["complaints"] < -60
    assert short_bad["sales_scale"] < _with_ratings(8, 0)["sales_scale"] / 2
    assert _with_ratings(1000, 100)["complaints"] == 0


class _FlagAccounts(Detector):
    """A test double: flags a fixed set of accounts once they have bought (a detection)."""

    name = "flag"
    observes = frozenset({"order"})

    def __init__(self, accounts: set[str]):
        self.accounts, self.done, self.seen = accounts, False, False

    def observe(self, event):
        self.seen = self.seen or event.buyer_id in self.accounts

    def evaluate(self, now):
        if self.done or not self.seen:
            return []
        self.done = True
        return [Finding(detector="flag", seller_id="shop", score=0.5, ts=now - 1,
                        summary="Flagged.", accounts={a: 0.95 for a in self.accounts})]

    def state_size(self):
        return 0


def _final_score(with_ring: bool, detected: bool = True) -> int:
    s = load(score_every_seconds=0)
    puppets = {f"p{i}" for i in range(30)} if with_ring and detected else set()
    eng = Engine(s, detectors=[_FlagAccounts(puppets)])
    seq = Sequencer(60_000, 0)
    n = 0
    for d in range(60):  # honest trade: two months of steady orders and good reviews
        for k in range(5):
            ts = T0 + d * DAY_MS + k * 3_600_000
            seq.push(Order(order_id=f"o{n}", seller_id="shop", buyer_id=f"b{n % 40}",
                           amount=80.0, ts=ts, tracking_no="t"), n)
            seq.push(Review(review_id=f"r{n}", seller_id="shop", reviewer_id=f"b{n % 40}",
                            rating=4, ts=ts + 1, order_id=f"o{n}"), n)
            n += 1
        seq.push(Record(record_id=f"inv{d}", seller_id="shop", source="invoice", kind="vat",
                        amount=400.0, ts=T0 + d * DAY_MS + 80_000_000), n)
    if with_ring:  # a wash ring: big fake orders and 5-star reviews from 30 puppets, with
        # invoices padded to match (a careful fraudster keeps the records consistent)
        for i in range(300):
            ts = T0 + 50 * DAY_MS + i * 3 * 60_000
            seq.push(Order(order_id=f"w{i}", seller_id="shop", buyer_id=f"p{i % 30}",
                           amount=900.0, ts=ts), 10_000 + i)
            seq.push(Review(review_id=f"wr{i}", seller_id="shop", reviewer_id=f"p{i % 30}",
                            rating=5, ts=ts + 1), 10_000 + i)
            seq.push(Record(record_id=f"winv{i}", seller_id="shop", source="invoice",
                            kind="vat", amount=900.0, ts=ts + 2), 10_000 + i)
    last = None
    for tick in seq.flush():
        for sc in eng.process_tick(tick, 0).scores:
            last = sc.score
    return eng.scorer.cards["shop"].score if "shop" in eng.scorer.cards else last


def test_a_wash_rings_fake_volume_does_not_raise_the_score():
    honest = _final_score(with_ring=False)
    undetected = _final_score(with_ring=True, detected=False)
    detected = _final_score(with_ring=True)
    assert undetected > honest + 10, "the ring should inflate an undiscounted score"
    assert detected <= honest, (honest, detected, undetected)


def test_another_one_star_rating_never_raises_a_score():
    scores = []
    for k in range(0, 60, 3):
        f = _features()
        life = f.windows["lifetime"]
        life["reviews"] = 100 + k
        life["rating_sum"] = 440 + k
        life["low"] = 5 + k
        scores.append(compute(f, Contribution(), 0.0, T0, 0, None).score)
    assert all(b <= a for a, b in zip(scores, scores[1:], strict=False))
    assert scores[-1] < scores[0]


def test_a_forced_rescore_leaves_no_stale_due_entry():
    from credence.features import FeatureModel
    from credence.scoring import Scorer
    from credence.store.memory import MemoryStore

    s = load()
    sc = Scorer(s, MemoryStore(), FeatureModel(s.key_prefix))
    every = sc.every_ms
    sc.touch("A", T0)
    assert sc.due(T0 + 1, set()) == [("A", T0)]  # first events: scored at once
    sc.computed_at["A"] = T0 + 1  # what update() records
    sc.touch("A", T0 + 2)  # due at T0 + 1 + every
    assert sc.due(T0 + 3, {"A"}) == [("A", T0 + 2)]  # forced early (its suspicion moved)
    sc.computed_at["A"] = T0 + 3
    assert sc.due(T0 + 1 + every, set()) == []  # no events since: nothing to rescore
    sc.touch("A", T0 + 4)
    assert sc.due(T0 + 2 + every, set()) == []  # the rate limit counts from the forced score
    assert sc.due(T0 + 3 + every, set()) == [("A", T0 + 4)]
