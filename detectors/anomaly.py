"""Feature anomaly prior: an Isolation Forest over per-seller features, refit on a schedule.

Method. Liu, Ting and Zhou ("Isolation Forest", ICDM 2008): anomalies are few and different, so
random axis-parallel splits isolate them in fewer steps; the expected path length over an
ensemble of random trees built on small subsamples gives an anomaly score without any density
model. It needs no labels, which suits a prior over sellers whose manipulation is unknown.

Adaptation to the stream. The detector reads the engine's feature store (bound by the engine
through `bind`), never events directly: `observe` only notes which sellers were active and when.

* **Refit on a schedule.** Every ``refit_hours`` of event time (first after ``warmup_hours``), it
  reads the 30-day features of the active sellers (seen within ``active_days``) — at most
  ``max_fit`` of them, a deterministic sample (the smallest BLAKE2b hashes of their ids) — and
  fits scikit-learn's ``IsolationForest`` with a fixed ``random_state``. The fitted model, the
  sample's pooled rates (the shrinkage targets below), per-feature medians and MADs (for the
  evidence) and score quantiles are kept; all of it goes into the detection snapshot (the
  forest's trees as their own arrays). Sellers with fewer than ``min_orders`` orders in 30 days
  and no invoices or customs are left out.
* **Score between refits.** Every ``score_hours``, the sellers active since the last scoring are
  read and scored. Those beyond the ``1 − top_share`` quantile of the fitted sample's scores get
  a finding whose score rises linearly from ``min_score`` at that quantile to ``max_score`` at
  the sample's maximum, with the features that stand out most (robust z-scores against the
  sample's median and MAD) as evidence.

Features (30-day window unless noted): log orders, log average order value, log quantity per
order, distinct buyers (90 days) per order, repeat-buyer share, new-account share, shipped
share, refund rate, reviews per order, rating mean and spread, low-rating and 5-star shares,
share of reviews naming an order (the engine's core-scope store has no verified-review share:
`read_seller(..., hourly=False)` skips it), invoice-to-sales and customs-to-sales ratios (log), and the
last week's daily orders against the three weeks before (log growth). Rates are shrunk towards
the fitted sample's pooled rate with ``shrink`` pseudo-counts (empirical Bayes), so a seller is
not an outlier merely for having two reviews, both of one star.

It is a prior (``prior_only``): fusion lets it amplify other detectors' evidence and caps it on
its own, so it never alone alerts or blacklists; scores stay at most ``max_score`` (0.6).

Cost: `observe` O(1); a refit reads at most ``max_fit`` sellers (one bounded store read each) and
fits ``n_estimators`` trees on ``max_samples`` rows; a scoring pass reads and scores only the
sellers active since the last one. State: the active sellers of ``active_days`` and the model.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, ClassVar

import numpy as np

from credence.contract import DAY_MS, HOUR_MS, Event, EventType
from credence.features import SellerFeatures
from detectors.base import Detector, Finding

__all__ = ["FeatureAnomaly", "FEATURES", "COUNTS", "seller_counts", "pooled_rates", "vectorize"]


FEATURES: tuple[str, ...] = (
    "log_orders", "log_order_value", "log_qty_per_order", "buyers_per_order", "repeat_share",
    "new_account_share", "shipped_share", "refund_rate", "reviews_per_order", "rating_mean",
    "rating_std", "low_share", "five_share", "claimed_review_share", "log_invoice_to_sales",
    "log_customs_to_sales", "log_growth",
)


# Raw 30-day counts a feature vector is built from (rates are shrunk towards the pooled rate of
# the fitted sample, so a seller with two reviews is not an outlier for its rating alone).
COUNTS: tuple[str, ...] = (
    "orders", "gmv", "qty", "repeat", "new_buyer", "shipped", "refunds", "reviews", "rating_sum",
    "rating_sq", "low", "five", "claimed", "invoice", "customs", "orders_90d", "buyers_90d",
    "last7", "before23",
)
_C = {c: i for i, c in enumerate(COUNTS)}
# (feature, numerator, denominator) of the shrunk rates
_RATES: tuple[tuple[str, str, str], ...] = (
    ("repeat_share", "repeat", "orders"), ("new_account_share", "new_buyer", "orders"),
    ("shipped_share", "shipped", "orders"), ("refund_rate", "refunds", "orders"),
    ("reviews_per_order", "reviews", "orders"), ("rating_mean", "rating_sum", "reviews"),
    ("low_share", "low", "reviews"), ("five_share", "five", "reviews"),
    ("claimed_review_share", "claimed", "reviews"),
)


def seller_counts(f: SellerFeatures) -> np.ndarray:
    """The raw 30-day counts of one seller that `vectorize` turns into features."""
    w = f.windows.get("30d", {})
    daily = f.series("orders") if f.daily is not None else np.zeros(30, dtype=np.int64)
    row = [w.get("orders", 0), w.get("gmv_fen", 0) / 100, w.get("qty", 0), w.get("repeat", 0),
           w.get("new_buyer", 0), w.get("shipped", 0), w.get("refunds", 0), w.get("reviews", 0),
           w.get("rating_sum", 0), w.get("rating_sq", 0), w.get("low", 0), w.get("five", 0),
           w.get("claimed", 0), w.get("invoice_fen", 0) / 100, w.get("customs_fen", 0) / 100,
           f.windows.get("90d", {}).get("orders", 0), f.distinct_buyers.get("90d", 0),
           float(daily[-7:].sum()), float(daily[-30:-7].sum())]
    return np.asarray(row, dtype=np.float64)


def pooled_rates(counts: np.ndarray) -> np.ndarray:
    """Pooled rate of each shrunk feature over a sample (rows of `seller_counts`), and the pooled
    mean square rating (for the rating spread)."""
    tot = counts.sum(axis=0)
    out = [tot[_C[n]] / tot[_C[d]] if tot[_C[d]] else 0.0 for _, n, d in _RATES]
    out.append(tot[_C["rating_sq"]] / tot[_C["reviews"]] if tot[_C["reviews"]] else 0.0)
    return np.asarray(out, dtype=np.float64)


def vectorize(counts: np.ndarray, prior: np.ndarray, k: float) -> np.ndarray:
    """Feature rows (see `FEATURES`) from count rows; rates shrunk with ``k`` pseudo-counts."""
    c = counts.T
    orders = c[_C["orders"]]
    safe = np.maximum(orders, 1.0)
    rates = {}
    for i, (name, num, den) in enumerate(_RATES):
        rates[name] = (c[_C[num]] + k * prior[i]) / (c[_C[den]] + k)
    sq = (c[_C["rating_sq"]] + k * prior[-1]) / (c[_C["reviews"]] + k)
    # Sales of at least 1 CNY in the denominator keep a shell's ratio finite but extreme.
    sales = np.maximum(c[_C["gmv"]], 1.0)
    cols = {
        "log_orders": np.log1p(orders),
        "log_order_value": np.log1p(c[_C["gmv"]] / safe),
        "log_qty_per_order": np.log(np.maximum(c[_C["qty"]], 1.0) / safe),
        "buyers_per_order": c[_C["buyers_90d"]] / np.maximum(c[_C["orders_90d"]], 1.0),
        **rates,
        "rating_std": np.sqrt(np.maximum(sq - rates["rating_mean"] ** 2, 0.0)),
        "log_invoice_to_sales": np.log1p(np.minimum(c[_C["invoice"]] / sales, 100.0)),
        "log_customs_to_sales": np.log1p(np.minimum(c[_C["customs"]] / sales, 100.0)),
        "log_growth": np.log((c[_C["last7"]] / 7 + 0.5) / (c[_C["before23"]] / 23 + 0.5)),
    }
    return np.column_stack([cols[name] for name in FEATURES])


def _stable_rank(seller: str) -> bytes:
    return hashlib.blake2b(seller.encode(), digest_size=8).digest()


class FeatureAnomaly(Detector):
    """Isolation Forest over per-seller feature vectors from the feature store (a prior)."""

    name: ClassVar[str] = "anomaly"
    observes: ClassVar[frozenset[EventType]] = frozenset({"order", "refund", "review", "record"})
    prior_only: ClassVar[bool] = True

    def __init__(self, *, refit_hours: float = 24.0, warmup_hours: float = 72.0,
                 score_hours: float = 6.0, active_days: float = 7.0, max_fit: int = 5000,
                 min_fit: int = 50, min_orders: int = 5, n_estimators: int = 100,
                 max_samples: int = 256, random_state: int = 7, top_share: float = 0.02,
                 min_score: float = 0.3, max_score: float = 0.6, shrink: float = 5.0,
                 evidence_features: int = 3, refit_min_events: int = 2000,
                 score_min_batch: int = 25) -> None:
        """
        refit_hours: event time between refits (24).
        warmup_hours: event time before the first fit, so 30-day features fill a little (72).
        score_hours: event time between scoring passes over the recently active sellers (6).
        active_days: a seller is active this long after its last event (7).
        max_fit: most sellers read for a fit, a deterministic sample (5,000).
        min_fit: fewer active sellers than this and no model is fitted (50).
        min_orders: sellers with fewer 30-day orders and no invoices are not fitted or scored (5).
        n_estimators, max_samples, random_state: the Isolation Forest's (100, 256, 7).
        top_share: the share of the fitted sample's highest scores that yields findings (0.02).
        min_score: finding score at the threshold quantile (0.3) ...
        max_score: ... rising to this at the sample's highest score (0.6).
        shrink: pseudo-counts pulling a seller's rates towards the pooled rate (5).
        evidence_features: standing-out features named in the evidence (3).
        refit_min_events: a refit also waits for this many events since the last one, or a
            week and a tenth of them (2,000).
        score_min_batch: a scoring pass also waits for this many active sellers, or a week (25).
        """
        self.refit_hours = refit_hours
        self.warmup_hours = warmup_hours
        self.score_hours = score_hours
        self.active_days = active_days
        self.max_fit = max_fit
        self.min_fit = min_fit
        self.min_orders = min_orders
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.random_state = random_state
        self.top_share = top_share
        self.min_score = min_score
        self.max_score = max_score
        self.shrink = shrink
        self.evidence_features = evidence_features
        self.refit_min_events = refit_min_events
        self.score_min_batch = score_min_batch
        self._events_since_fit = 0
        self._scored_at = 0
        self._store: Any = None
        self._fmodel: Any = None
        self._active: dict[str, int] = {}  # seller → last event time
        self._dirty: set[str] = set()  # active since the last scoring pass
        self._t0: int | None = None
        self._next_fit: int | None = None
        self._next_score = 0
        self._next_sweep = 0
        self._forest: Any = None  # the fitted IsolationForest
        self._prior: np.ndarray | None = None  # pooled rates of the fitted sample
        self._median: np.ndarray | None = None  # per-feature medians of the fitted sample
        self._scale: np.ndarray | None = None  # per-feature MAD · 1.4826 (robust z-scores)
        self._threshold = math.inf
        self._top = math.inf
        self._fitted_at: int | None = None
        self._fitted_n = 0
        self._reported: dict[str, tuple[float, int]] = {}  # seller → (score, ts)

    def bind(self, store: Any, model: Any) -> None:
        """Called by the engine: the feature store (`credence.store.base.FeatureStore`) and the
        `credence.features.FeatureModel` to read it with."""
        self._store = store
        self._fmodel = model

    # ------------------------------------------------------------------ observe

    def observe(self, event: Event) -> None:
        if self._t0 is None:
            self._t0 = event.ts
            self._next_fit = event.ts + int(self.warmup_hours * HOUR_MS)
        self._events_since_fit += 1
        sid = event.seller_id
        if event.ts > self._active.get(sid, -1):
            self._active[sid] = event.ts
        self._dirty.add(sid)

    # ------------------------------------------------------------------ model

    def _read(self, sellers: list[str], now: int) -> tuple[list[str], np.ndarray]:
        keep, rows = [], []
        for sid in sellers:
            f = self._store.read_seller(self._fmodel, sid, now, hourly=False)
            w = f.windows.get("30d", {})
            if w.get("orders", 0) < self.min_orders and not w.get("invoice_fen", 0) \
                    and not w.get("customs_fen", 0):
                continue
            keep.append(sid)
            rows.append(seller_counts(f))
        return keep, np.vstack(rows) if rows else np.zeros((0, len(COUNTS)))

    def _fit(self, now: int) -> None:
        from sklearn.ensemble import IsolationForest

        sample = sorted(self._active, key=lambda s: (_stable_rank(s), s))[:self.max_fit]
        ids, counts = self._read(sorted(sample), now)
        if len(ids) < self.min_fit:
            return
        self._prior = pooled_rates(counts)
        xf = vectorize(counts, self._prior, self.shrink)
        med = np.median(xf, axis=0)
        self._median = med
        mad = np.median(np.abs(xf - med), axis=0) * 1.4826
        self._scale = np.where(mad > 1e-9, mad, np.maximum(np.std(xf, axis=0), 1e-3))
        forest = IsolationForest(n_estimators=self.n_estimators,
                                 max_samples=min(self.max_samples, len(ids)),
                                 random_state=self.random_state)
        forest.fit(xf)
        train = -forest.score_samples(xf)
        self._forest = forest
        self._threshold = float(np.quantile(train, 1.0 - self.top_share))
        self._top = float(train.max())
        self._fitted_at = now
        self._fitted_n = len(ids)

    # ------------------------------------------------------------------ evaluate

    def evaluate(self, now: int) -> list[Finding]:
        if now >= self._next_sweep:
            lo = now - int(self.active_days * DAY_MS)
            for sid in [s for s, ts in self._active.items() if ts <= lo]:
                del self._active[sid]
                self._dirty.discard(sid)
            for sid in [s for s, (_, ts) in self._reported.items() if ts <= lo]:
                del self._reported[sid]
            self._next_sweep = now + DAY_MS
        if self._store is None or self._next_fit is None:
            return []
        # Cadences are in event time but also wait for enough new activity: on a sparse stream
        # (years of data, a few events a day) a refit or a scoring pass per day would cost far
        # more than the little that changed (scikit-learn's per-call overhead dominates).
        if now >= self._next_fit and (
                self._forest is None or self._events_since_fit >= self.refit_min_events
                or (now - (self._fitted_at or 0) >= 7 * DAY_MS
                    and self._events_since_fit >= self.refit_min_events // 10)):
            self._fit(now)
            self._events_since_fit = 0
            self._next_fit = now + int(self.refit_hours * HOUR_MS)
            self._next_score = now  # score everyone dirty against the new model
        if self._forest is None or now < self._next_score:
            return []
        if len(self._dirty) < self.score_min_batch and now - self._scored_at < 7 * DAY_MS:
            return []
        self._next_score = now + int(self.score_hours * HOUR_MS)
        self._scored_at = now
        dirty, self._dirty = self._dirty, set()
        ids, counts = self._read(sorted(s for s in dirty if s in self._active), now)
        if not ids or self._prior is None:
            return []
        xf = vectorize(counts, self._prior, self.shrink)
        scores = -self._forest.score_samples(xf)
        out = []
        span = max(self._top - self._threshold, 1e-6)
        for i, sid in enumerate(ids):
            a = float(scores[i])
            if a <= self._threshold:
                continue
            prior = self.min_score + (self.max_score - self.min_score) * min(
                1.0, (a - self._threshold) / span)
            prev = self._reported.get(sid)
            if prev is not None and abs(prior - prev[0]) < 0.02 and now - prev[1] < DAY_MS:
                continue
            self._reported[sid] = (prior, now)
            out.append(self._finding(sid, prior, a, xf[i], now))
        return out

    def _finding(self, sid: str, prior: float, a: float, x: np.ndarray, now: int) -> Finding:
        assert self._median is not None and self._scale is not None  # noqa: S101
        z = (x - self._median) / self._scale
        top = sorted(range(len(FEATURES)), key=lambda j: (-abs(z[j]), j))[:self.evidence_features]
        standout = {FEATURES[j]: {"value": round(float(x[j]), 4),
                                  "median": round(float(self._median[j]), 4),
                                  "z": round(float(z[j]), 2)} for j in top}
        names = ", ".join(f"{FEATURES[j]} {float(x[j]):.2f} (median "
                          f"{float(self._median[j]):.2f})" for j in top)
        return Finding(
            detector=self.name, seller_id=sid, score=prior, ts=now - 1,
            summary=f"Seller {sid}'s 30-day profile is unusual among active sellers: {names}.",
            evidence={"anomaly_score": round(a, 4), "threshold": round(self._threshold, 4),
                      "fitted_sellers": self._fitted_n, "features": standout},
            reasons=("feature_anomaly",))

    def state_size(self) -> int:
        return len(self._active) + len(self._reported)
