"""Rolling per-seller and per-account features as store operations (pure: no I/O).

An event becomes a list of primitive operations on keys (`SlotAdd`, `TotalAdd`, `ZTouch`), applied
atomically together with the event's dedupe key by a `credence.store` backend (Redis via one Lua
script per batch, or memory). The primitives are chosen so that the final state does not depend on
how events of *different* sellers interleave, which is what lets stage A run on any number of
workers and still agree with stage B and with `credence replay` (docs/architecture.md):

* counters are integers (amounts in fen, 1/100 CNY), so sums are exact and order-free;
* a time bucket lives in a ring slot ``epoch mod slots``; a write for a newer epoch resets the slot,
  a write for an older one is dropped as expired: the slot ends with the newest epoch's data,
  whatever the order; state per entity is bounded by the ring size;
* a sorted set keeps each member's latest time (``ZADD GT``) and evicts members older than its own
  newest score minus the horizon, again independent of arrival order.

Order-dependent features (is this a repeat buyer?) only look at one seller's own ``orders``
partition, whose order Kafka preserves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from credence.contract import DAY_MS, HOUR_MS, Event, Order, Record, Refund, Review

__all__ = [
    "SlotAdd", "TotalAdd", "ZTouch", "Op", "EventOps", "FeatureModel", "Ring", "RINGS",
    "ACCOUNT_RING", "SELLER_METRICS", "ACCOUNT_METRICS", "SellerFeatures", "AccountFeatures",
    "Window", "WINDOWS", "fen",
]

NEW_ACCOUNT_MS = 30 * DAY_MS  # "new account": registered less than 30 days before the event

Window = Literal["1h", "24h", "7d", "30d", "90d", "lifetime"]
WINDOWS: dict[Window, int] = {"1h": HOUR_MS, "24h": DAY_MS, "7d": 7 * DAY_MS,
                              "30d": 30 * DAY_MS, "90d": 90 * DAY_MS, "lifetime": 0}


#: the most one amount adds to a sum, in fen (10^11 CNY: far above any SME's order, and 900,000
#: of them in one window still fit the signed 64-bit sums of the Redis features); the contract
#: bounds amounts only below, and a hostile 1e308 must not end the stream (issue 12, item 6)
MAX_FEN = 10**13


def fen(amount: float) -> int:
    """CNY → integer fen; exact sums whatever the order of addition; capped at `MAX_FEN`."""
    return int(round(min(amount, MAX_FEN / 100) * 100))


@dataclass(frozen=True, slots=True)
class Ring:
    name: str
    width_ms: int
    slots: int

    @property
    def span_ms(self) -> int:
        return self.width_ms * self.slots


# Hourly buckets serve the 1 h, 24 h and 7 d windows; daily buckets 30 d, 90 d and the daily
# series the credit score uses for growth and stability (issue 6).
RINGS: dict[str, Ring] = {"h": Ring("h", HOUR_MS, 168), "d": Ring("d", DAY_MS, 90)}
ACCOUNT_RING = Ring("d", DAY_MS, 30)


# Counters of a time bucket, by position: a bucket is a fixed array of int64 (position 0 holds
# its epoch), which Redis updates in one BITFIELD call and which reads back as a numpy row.
SELLER_METRICS: tuple[str, ...] = (
    "orders", "gmv_fen", "qty", "shipped", "new_buyer", "repeat", "refunds", "refund_fen",
    "reviews", "rating_sum", "rating_sq", "low", "five", "claimed",
    "invoice", "invoice_fen", "customs", "customs_fen", "court", "ipr", "registry",
)
ACCOUNT_METRICS: tuple[str, ...] = (
    "orders", "spend_fen", "unshipped", "new", "reviews", "low_given", "five_given", "unclaimed",
)
_S = {m: i + 1 for i, m in enumerate(SELLER_METRICS)}
_A = {m: i + 1 for i, m in enumerate(ACCOUNT_METRICS)}

Fields = tuple[tuple[int, int], ...]  # (position, delta)


class SlotAdd(NamedTuple):
    """Add ``fields`` to ring slot ``key:(epoch mod slots)`` if it holds ``epoch``; a slot holding an
    older epoch is reset first, one holding a newer epoch drops the write (expired)."""

    key: str
    epoch: int
    slots: int
    ttl_s: int
    fields: Fields


class TotalAdd(NamedTuple):
    """Add ``fields`` to the lifetime counters ``key`` (no expiry: lifetime is not a window)."""

    key: str
    fields: Fields


class ZTouch(NamedTuple):
    """Record ``member`` at ``score`` (keep the max) in sorted set ``key``. Members older than the
    set's newest score − ``horizon_ms`` are not visible (and are evicted when the set grows); at
    most ``cap`` newest are kept. If ``member`` was there within the horizon of ``score``, apply
    ``then`` (the "seen before" features: only used on one seller's own, ordered partition)."""

    key: str
    member: str
    score: int
    horizon_ms: int
    ttl_s: int
    cap: int = 100_000
    then: tuple[SlotAdd | TotalAdd, ...] = ()


Op = SlotAdd | TotalAdd | ZTouch


class EventOps(NamedTuple):
    """One event's dedupe key and operations; ``source`` identifies the delivery (topic/p/offset)."""

    dedupe_key: str
    ops: tuple[Op, ...]
    source: str = ""
    ts: int = 0


# --------------------------------------------------------------------------- model


class FeatureModel:
    """Maps events to `EventOps` under a key prefix. Stateless, so cheap to share."""

    def __init__(self, key_prefix: str = "credence", dedupe_days: int = 14,
                 scope: Literal["full", "core"] = "full"):
        self.p = key_prefix
        # "full": everything the platform reads from Redis (stage A). "core": only what the
        # engine itself reads (credit score inputs, the anomaly prior): seller daily buckets,
        # lifetime counters and buyer/order sets. Shared keys hold the same values either way.
        self.full = scope == "full"
        self.dedupe_ttl_s = dedupe_days * 86400
        # Wall-clock TTLs are only a backstop for idle entities; windows are enforced by
        # event time (ring slots, horizons).
        self.ttl_h = RINGS["h"].span_ms // 1000 + 86400
        self.ttl_d = RINGS["d"].span_ms // 1000 + 86400
        self.ttl_z = 91 * 86400

    # --- keys -------------------------------------------------------------
    def seller_key(self, seller: str, part: str) -> str:
        return f"{self.p}:s:{seller}:{part}"

    def account_key(self, account: str, part: str) -> str:
        return f"{self.p}:a:{account}:{part}"

    def identity_key(self, kind: str, value: str) -> str:
        return f"{self.p}:i:{kind}:{value}"

    def horizon_of(self, key: str) -> int:
        """The horizon of a sorted-set key (for canonical dumps)."""
        return 90 * DAY_MS if key.endswith((":buyers", ":reviewers")) else 30 * DAY_MS

    def dedupe_key(self, event: Event) -> str:
        # The key includes the partition key (seller, or entity for decisions): dedupe then never
        # depends on how two partitions interleave, and ids reused by another seller do not clash.
        return f"{self.p}:dd:{event.type}:{event.key}:{event.event_id}"

    # --- ops --------------------------------------------------------------
    def _seller(self, seller: str, ts: int, fields: Fields, hourly: bool = True) -> list[Op]:
        k = self.seller_key
        h, d = RINGS["h"], RINGS["d"]
        out: list[Op] = []
        if hourly and self.full:
            out.append(SlotAdd(k(seller, "h"), ts // h.width_ms, h.slots, self.ttl_h, fields))
        out.append(SlotAdd(k(seller, "d"), ts // d.width_ms, d.slots, self.ttl_d, fields))
        out.append(TotalAdd(k(seller, "tot"), fields))
        return out

    def _account(self, account: str, ts: int, fields: Fields) -> list[Op]:
        return [SlotAdd(self.account_key(account, "d"), ts // ACCOUNT_RING.width_ms,
                        ACCOUNT_RING.slots, self.ttl_d, fields),
                TotalAdd(self.account_key(account, "tot"), fields)]

    def ops(self, event: Event, source: str = "") -> EventOps:
        if isinstance(event, Order):
            ops = self._order(event)
        elif isinstance(event, Review):
            ops = self._review(event)
        elif isinstance(event, Refund):
            ops = self._seller(event.seller_id, event.ts,
                               ((_S["refunds"], 1), (_S["refund_fen"], fen(event.amount))))
        elif isinstance(event, Record):
            ops = self._record(event)
        else:  # decisions change no features; they still get a dedupe key
            ops = []
        return EventOps(self.dedupe_key(event), tuple(ops), source, event.ts)

    def _order(self, e: Order) -> list[Op]:
        ts, s, b = e.ts, e.seller_id, e.buyer_id
        new = int(e.buyer_registered is not None and 0 <= ts - e.buyer_registered < NEW_ACCOUNT_MS)
        amount = fen(e.amount)
        ops = self._seller(s, ts, ((_S["orders"], 1), (_S["gmv_fen"], amount),
                                   (_S["qty"], e.quantity), (_S["shipped"], int(e.shipped)),
                                   (_S["new_buyer"], new)))
        repeat = tuple(self._seller(s, ts, ((_S["repeat"], 1),)))
        ops.append(ZTouch(self.seller_key(s, "buyers"), b, ts, 90 * DAY_MS, self.ttl_z,
                          then=repeat))  # type: ignore[arg-type]
        ops.append(ZTouch(self.seller_key(s, "oids"), e.order_id, ts, 30 * DAY_MS, self.ttl_z))
        if not self.full:
            return ops
        ops += self._account(b, ts, ((_A["orders"], 1), (_A["spend_fen"], amount),
                                     (_A["unshipped"], int(not e.shipped)), (_A["new"], new)))
        ids = self.account_key(b, "ids")
        ops.append(ZTouch(self.account_key(b, "sellers"), s, ts, 30 * DAY_MS, self.ttl_z))
        for kind, value in (("dev", e.device_id), ("ip", e.ip), ("pay", e.payment_id),
                            ("addr", e.address_id)):
            if value:
                ops.append(ZTouch(self.identity_key(kind, value), b, ts, 30 * DAY_MS,
                                  self.ttl_z, cap=10_000))
                ops.append(ZTouch(ids, f"{kind}:{value}", ts, 30 * DAY_MS, self.ttl_z,
                                  cap=1_000))
        return ops

    def _review(self, e: Review) -> list[Op]:
        ts, s, a, r = e.ts, e.seller_id, e.reviewer_id, e.rating
        ops = self._seller(s, ts, ((_S["reviews"], 1), (_S["rating_sum"], r),
                                   (_S["rating_sq"], r * r), (_S["low"], int(r <= 2)),
                                   (_S["five"], int(r == 5)),
                                   (_S["claimed"], int(e.order_id is not None))))
        if self.full:
            ops.append(ZTouch(self.seller_key(s, "reviewers"), a, ts, 90 * DAY_MS, self.ttl_z))
        if e.order_id is not None:
            # Verified = the claimed order is a known order of this seller; both sets are
            # intersected at read time, so it does not matter which topic is consumed first.
            ops.append(ZTouch(self.seller_key(s, "roids"), e.order_id, ts, 30 * DAY_MS,
                              self.ttl_z))
        if not self.full:
            return ops
        ops += self._account(a, ts, ((_A["reviews"], 1), (_A["low_given"], int(r <= 2)),
                                     (_A["five_given"], int(r == 5)),
                                     (_A["unclaimed"], int(e.order_id is None))))
        return ops

    def _record(self, e: Record) -> list[Op]:
        amount = fen(e.amount) if e.amount is not None else 0
        if e.source in ("invoice", "customs"):
            f: Fields = ((_S[e.source], 1), (_S[f"{e.source}_fen"], amount))
        else:
            f = ((_S[e.source], 1),)
        return self._seller(e.seller_id, e.ts, f, hourly=False)


# --------------------------------------------------------------------------- reading


@dataclass
class SellerFeatures:
    """Windowed totals of one seller as of an event time; ``windows[w][metric]`` is an int."""

    seller_id: str
    as_of: int
    windows: dict[str, dict[str, int]] = field(default_factory=dict)
    #: the last 90 days, oldest first: int64 array (days × SELLER_METRICS)
    daily: Any = None
    distinct_buyers: dict[str, int] = field(default_factory=dict)
    distinct_reviewers: dict[str, int] = field(default_factory=dict)
    verified_orders_30d: int = 0

    def series(self, metric: str) -> Any:
        """The daily series of one metric (numpy int64, oldest first)."""
        return self.daily[:, SELLER_METRICS.index(metric)]

    def get(self, window: str, metric: str) -> int:
        return self.windows.get(window, {}).get(metric, 0)

    def ratio(self, window: str, num: str, den: str) -> float | None:
        d = self.get(window, den)
        return self.get(window, num) / d if d else None

    def summary(self) -> dict[str, dict[str, float | int | None]]:
        """The derived features per window (what `credence score` and the platform read)."""
        out: dict[str, dict[str, float | int | None]] = {}
        for w in WINDOWS:
            g = self.get
            reviews = g(w, "reviews")
            mean = g(w, "rating_sum") / reviews if reviews else None
            var = (g(w, "rating_sq") / reviews - mean * mean) if reviews and mean else None
            out[w] = {
                "orders": g(w, "orders"), "gmv": g(w, "gmv_fen") / 100,
                "distinct_buyers": self.distinct_buyers.get(w),
                "repeat_buyer_share": self.ratio(w, "repeat", "orders"),
                "new_account_share": self.ratio(w, "new_buyer", "orders"),
                "shipped_share": self.ratio(w, "shipped", "orders"),
                "refund_rate": self.ratio(w, "refunds", "orders"),
                "reviews": reviews, "rating_mean": mean,
                "rating_std": max(var, 0.0) ** 0.5 if var is not None else None,
                "low_share": self.ratio(w, "low", "reviews"),
                "invoice_total": g(w, "invoice_fen") / 100,
                "customs_total": g(w, "customs_fen") / 100,
                "invoice_to_sales": (g(w, "invoice_fen") / g(w, "gmv_fen")
                                     if g(w, "gmv_fen") else None),
                "court": g(w, "court"), "ipr": g(w, "ipr"), "registry": g(w, "registry"),
            }
        claimed = self.get("30d", "claimed")
        out["30d"]["verified_review_share"] = (
            min(self.verified_orders_30d, claimed) / self.get("30d", "reviews")
            if self.get("30d", "reviews") else None)
        return out


@dataclass
class AccountFeatures:
    account_id: str
    as_of: int
    d30: dict[str, int] = field(default_factory=dict)
    lifetime: dict[str, int] = field(default_factory=dict)
    sellers_30d: int = 0
    identities: list[str] = field(default_factory=list)
    linked_accounts: int = 0  # other accounts sharing any identity in 30 days
