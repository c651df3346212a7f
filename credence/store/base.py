"""The feature store interface: apply `EventOps` atomically with dedupe, read features back.

Two backends implement the same primitives with the same semantics: `MemoryStore` (replay, the
detection stage, unit tests) and `RedisStore` (stage A, one Lua call per batch). `read_seller` and
`read_account` are written once, here, on top of the primitives.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Literal

import numpy as np

from credence.features import (
    ACCOUNT_METRICS,
    ACCOUNT_RING,
    DAY_MS,
    RINGS,
    SELLER_METRICS,
    WINDOWS,
    AccountFeatures,
    EventOps,
    FeatureModel,
    SellerFeatures,
)

__all__ = ["FeatureStore", "Outcome", "NEW", "REDELIVERED", "DUPLICATE"]

# What `apply` did with each event: applied it; saw the same delivery again (a Kafka redelivery
# after a crash: not re-applied, but still to be forwarded); or saw the id before from another
# delivery (a producer duplicate: dropped).
Outcome = Literal[1, 2, 0]
NEW: Outcome = 1
REDELIVERED: Outcome = 2
DUPLICATE: Outcome = 0


def _named(names: Sequence[str], row: np.ndarray) -> dict[str, int]:
    return {n: int(v) for n, v in zip(names, row[1:], strict=False) if v}


class FeatureStore(ABC):
    #: slot writes dropped because their bucket was older than the ring (older than retention)
    expired: int = 0

    @abstractmethod
    def apply(self, batch: Sequence[EventOps]) -> list[Outcome]:
        """Apply each event's ops unless its dedupe key was seen; atomic per batch."""

    @abstractmethod
    def counters_many(self, keys: Sequence[str], width: int) -> np.ndarray:
        """Counter arrays of ``keys`` as int64 rows of ``width`` (missing keys are zeros)."""

    @abstractmethod
    def zcount_since(self, key: str, lo: int) -> int:
        """Visible members with score ≥ ``lo``."""

    @abstractmethod
    def zmembers_since(self, key: str, lo: int) -> list[str]: ...


    # ------------------------------------------------------------------ reading

    def read_seller(self, model: FeatureModel, seller: str, as_of: int,
                    hourly: bool = True) -> SellerFeatures:
        """Features of one seller as of ``as_of``. Without ``hourly``: only what the engine
        needs (30d, 90d, lifetime windows, the daily series, distinct buyers in 90 days)."""
        f = SellerFeatures(seller, as_of)
        h, d = RINGS["h"], RINGS["d"]
        width = len(SELLER_METRICS) + 1
        nh = h.slots if hourly else 0
        keys = [f"{model.seller_key(seller, 'h')}:{i}" for i in range(nh)]
        keys += [f"{model.seller_key(seller, 'd')}:{i}" for i in range(d.slots)]
        keys.append(model.seller_key(seller, "tot"))
        rows = self.counters_many(keys, width)
        hrows, drows, tot = rows[:nh], rows[nh:-1], rows[-1]
        for w, span in WINDOWS.items():
            if w == "lifetime":
                f.windows[w] = _named(SELLER_METRICS, tot)
                continue
            if span <= h.span_ms and not hourly:
                continue
            ring, rws = (h, hrows) if span <= h.span_ms else (d, drows)
            now = as_of // ring.width_ms
            # Bucket-aligned: "24h" is the current hourly bucket and the 23 before it.
            n = max(1, span // ring.width_ms)
            e = rws[:, 0]
            f.windows[w] = _named(SELLER_METRICS, rws[(e > now - n) & (e <= now)].sum(axis=0))
        # Daily series, oldest → newest, one row per day (slot i holds day e with e % slots == i).
        now_d = as_of // d.width_ms
        days = np.arange(now_d - d.slots + 1, now_d + 1)
        daily = drows[days % d.slots]
        daily[daily[:, 0] != days] = 0
        f.daily = daily[:, 1:]
        for w in ("24h", "7d", "30d", "90d") if hourly else ("90d",):
            lo = as_of - WINDOWS[w] + 1
            f.distinct_buyers[w] = self.zcount_since(model.seller_key(seller, "buyers"), lo)
            if hourly:
                f.distinct_reviewers[w] = self.zcount_since(model.seller_key(seller, "reviewers"),
                                                            lo)
        if not hourly:
            return f
        lo = as_of - WINDOWS["30d"] + 1
        claimed = self.zmembers_since(model.seller_key(seller, "roids"), lo)
        if claimed:
            known = set(self.zmembers_since(model.seller_key(seller, "oids"), lo))
            f.verified_orders_30d = sum(1 for o in claimed if o in known)
        return f

    def read_account(self, model: FeatureModel, account: str, as_of: int) -> AccountFeatures:
        a = AccountFeatures(account, as_of)
        ring = ACCOUNT_RING
        width = len(ACCOUNT_METRICS) + 1
        keys = [f"{model.account_key(account, 'd')}:{i}" for i in range(ring.slots)]
        rows = self.counters_many([*keys, model.account_key(account, "tot")], width)
        now = as_of // ring.width_ms
        e = rows[:-1, 0]
        a.d30 = _named(ACCOUNT_METRICS, rows[:-1][(e > now - ring.slots) & (e <= now)].sum(0))
        a.lifetime = _named(ACCOUNT_METRICS, rows[-1])
        lo = as_of - 30 * DAY_MS + 1
        a.sellers_30d = self.zcount_since(model.account_key(account, "sellers"), lo)
        a.identities = self.zmembers_since(model.account_key(account, "ids"), lo)
        linked: set[str] = set()
        for ident in a.identities:
            kind, _, value = ident.partition(":")
            linked.update(self.zmembers_since(model.identity_key(kind, value), lo))
        linked.discard(account)
        a.linked_accounts = len(linked)
        return a
