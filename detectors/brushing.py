"""Brushing: token orders that ship nothing and exist only to carry a 5-star review.

Method. Xu, Liu, Wang and Stavrou ("E-commerce Reputation Manipulation: The Emergence of
Reputation-Escalation-as-a-Service", WWW 2015) infiltrated the markets where sellers buy fake
transactions and describe them: hired accounts buy the shop's cheapest item (or pay a token
amount), no real parcel travels, and every transaction ends with top praise, because the praise
is what is bought. They suggest flagging transactions that combine those traits. This detector
does that per order and accumulates the evidence per seller:

* a **candidate** order is *tiny* — at most ``tiny_ratio`` of the seller's typical order value,
  the median of its last ``ref_size`` non-candidate orders (or at most ``tiny_abs`` CNY while the
  seller has fewer than ``min_ref`` of them) — and *unshipped* (no tracking number);
* its weight grows when the buyer account is *fresh* (registered less than ``fresh_days`` before
  the order, from ``buyer_registered`` or ``reviewer_registered``) and when a *5-star review*
  follows it (linked by order id, or by the same account at the same seller); a review of 3
  stars or less marks a genuine, disappointed buyer and cancels the order's weight.

Weights per candidate: 1.0 fresh with 5 stars, 0.55 fresh only, 0.5 five stars only, 0.1 neither
(the plain tiny unshipped order — a price top-up, a sample — counts at most ``plain_cap`` in all).
The seller's score is ``1 − exp(−Σw / scale)`` once it has ``min_orders`` candidates; before that,
one candidate from a fresh account at most ``single_ratio`` of an established median order gives
``single_score`` (a low-severity early alert, so the first brushing order is reported within its
tick). Accounts that placed candidate orders share the seller's score, scaled by their own
order's traits.

Hard negatives by construction: digital-goods sellers never ship but sell at their normal prices
(no order is tiny against their own median), cancelled orders are unshipped but not tiny, and
the reference median excludes candidates, so a burst of brushing cannot make itself look typical.

Per event O(1) amortised (the reference median is recomputed every ``ref_refresh`` orders, over
at most ``ref_size`` amounts); evaluate touches only sellers with a new candidate or a review of
one. State: ``ref_size`` amounts per seller seen in ``ref_days`` and the candidates of
``window_days``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import ClassVar

from credence.contract import DAY_MS, Event, EventType, Order, Review
from detectors.base import Detector, Finding, bounded

__all__ = ["Brushing"]



@dataclass
class _Ref:
    amounts: deque[float]
    median: float = 0.0
    stale: int = 0
    last_seen: int = 0


@dataclass
class _Cand:
    seller: str
    buyer: str
    ts: int
    amount: float
    fresh: bool
    ratio: float | None  # amount / the seller's median order, when the median is established
    five: bool = False
    low: bool = False
    review_ids: list[str] = field(default_factory=list)


class Brushing(Detector):
    """Tiny unshipped orders from fresh accounts followed by 5-star reviews."""

    name: ClassVar[str] = "brushing"
    observes: ClassVar[frozenset[EventType]] = frozenset({"order", "review"})

    def __init__(self, *, window_days: int = 7, tiny_ratio: float = 0.15, tiny_abs: float = 3.0,
                 ref_size: int = 50, min_ref: int = 8, ref_refresh: int = 8,
                 ref_days: int = 30, fresh_days: int = 7, scale: float = 2.0,
                 plain_cap: float = 0.5, min_orders: int = 2, emit_min: float = 0.4,
                 single_ratio: float = 0.1, single_score: float = 0.42,
                 max_accounts: int = 200) -> None:
        """
        window_days: how long candidate orders count (7).
        tiny_ratio: an order is tiny at most this share of the seller's median order (0.15).
        tiny_abs: CNY, the tiny bound while the seller has no reference yet (3.0).
        ref_size: recent non-candidate order amounts kept per seller for the median (50).
        min_ref: amounts needed before the median is trusted (8).
        ref_refresh: recompute the median after this many new amounts (8).
        ref_days: forget a seller's reference after this many idle days (30).
        fresh_days: an account registered less than this before the order is fresh (7).
        scale: Σ weights at which the score reaches 63% (2.0).
        plain_cap: most that candidates neither fresh nor praised add together (0.5).
        min_orders: candidates needed before a finding (2).
        emit_min: findings below this score are not returned (0.4).
        single_ratio: a lone candidate from a fresh account at most this share of an
            established median order is reported on its own (0.1) ...
        single_score: ... with this score (0.42: a low-severity early alert; 0 disables).
        max_accounts: accounts named per finding (200, the highest-weighted first).
        """
        self.window_days = window_days
        self.tiny_ratio = tiny_ratio
        self.tiny_abs = tiny_abs
        self.ref_size = ref_size
        self.min_ref = min_ref
        self.ref_refresh = ref_refresh
        self.ref_days = ref_days
        self.fresh_days = fresh_days
        self.scale = scale
        self.plain_cap = plain_cap
        self.min_orders = min_orders
        self.emit_min = emit_min
        self.single_ratio = single_ratio
        self.single_score = single_score
        self.max_accounts = max_accounts
        self._refs: dict[str, _Ref] = {}
        # Order ids are only unique per seller: candidates are keyed by (seller, order id).
        self._cands: dict[tuple[str, str], _Cand] = {}
        self._by_seller: dict[str, deque[str]] = {}  # seller → candidate order ids, oldest first
        self._by_buyer: dict[tuple[str, str], str] = {}  # (seller, buyer) → latest candidate
        self._expiry: deque[tuple[int, str, str]] = deque()  # (ts, seller, order id)
        self._dirty: dict[str, int] = {}  # seller → newest event time since the last tick
        # seller → (score, candidates, 5-star follow-ups) last reported
        self._reported: dict[str, tuple[float, int, int]] = {}
        self._next_sweep = 0

    # ------------------------------------------------------------------ observe

    def _typical(self, ref: _Ref) -> float | None:
        if len(ref.amounts) < self.min_ref:
            return None
        if ref.stale >= self.ref_refresh or ref.median <= 0:
            s = sorted(ref.amounts)
            n = len(s)
            ref.median = s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])
            ref.stale = 0
        return ref.median

    def observe(self, event: Event) -> None:
        if isinstance(event, Order):
            self._order(event)
        elif isinstance(event, Review):
            self._review(event)

    def _fresh(self, ts: int, registered: int | None) -> bool:
        return registered is not None and 0 <= ts - registered < self.fresh_days * DAY_MS

    def _order(self, e: Order) -> None:
        ref = self._refs.get(e.seller_id)
        if ref is None:
            ref = self._refs[e.seller_id] = _Ref(deque(maxlen=self.ref_size))
        ref.last_seen = max(ref.last_seen, e.ts)
        typical = self._typical(ref)
        bound = self.tiny_abs if typical is None else self.tiny_ratio * typical
        if e.shipped or e.amount > bound:
            ref.amounts.append(e.amount)
            ref.stale += 1
            return
        c = _Cand(e.seller_id, e.buyer_id, e.ts, e.amount,
                  self._fresh(e.ts, e.buyer_registered),
                  None if typical is None else e.amount / typical)
        self._cands[(e.seller_id, e.order_id)] = c
        self._by_seller.setdefault(e.seller_id, deque()).append(e.order_id)
        self._by_buyer[(e.seller_id, e.buyer_id)] = e.order_id
        self._expiry.append((e.ts, e.seller_id, e.order_id))
        self._touch(e.seller_id, e.ts)

    def _review(self, r: Review) -> None:
        # A review naming an order speaks about that order only; an unlinked one is matched to
        # the reviewer's latest candidate at this seller.
        oid = r.order_id if r.order_id is not None else self._by_buyer.get(
            (r.seller_id, r.reviewer_id))
        c = self._cands.get((r.seller_id, oid)) if oid is not None else None
        if c is None or c.buyer != r.reviewer_id:
            return
        if r.rating == 5:
            c.five = True
        elif r.rating <= 3:
            c.low = True
        if self._fresh(r.ts, r.reviewer_registered):
            c.fresh = True
        if len(c.review_ids) < 4:
            c.review_ids.append(r.review_id)
        self._touch(c.seller, r.ts)

    def _touch(self, seller: str, ts: int) -> None:
        if ts > self._dirty.get(seller, -1):
            self._dirty[seller] = ts

    # ------------------------------------------------------------------ evaluate

    def _expire(self, now: int) -> None:
        lo = now - self.window_days * DAY_MS
        while self._expiry and self._expiry[0][0] <= lo:
            _, sid, oid = self._expiry.popleft()
            c = self._cands.pop((sid, oid), None)
            if c is None:
                continue
            ids = self._by_seller.get(c.seller)
            if ids:
                if ids[0] == oid:  # candidates expire in arrival order
                    ids.popleft()
                else:
                    ids.remove(oid)
                if not ids:
                    del self._by_seller[c.seller]
                    self._reported.pop(c.seller, None)
            if self._by_buyer.get((c.seller, c.buyer)) == oid:
                del self._by_buyer[(c.seller, c.buyer)]

    def _sweep(self, now: int) -> None:
        lo = now - self.ref_days * DAY_MS
        for sid in [s for s, r in self._refs.items() if r.last_seen <= lo]:
            del self._refs[sid]

    @staticmethod
    def _weight(c: _Cand) -> float:
        if c.low:
            return 0.0
        if c.fresh and c.five:
            return 1.0
        return 0.55 if c.fresh else 0.5 if c.five else 0.1

    def evaluate(self, now: int) -> list[Finding]:
        self._expire(now)
        if now >= self._next_sweep:
            self._sweep(now)
            self._next_sweep = now + DAY_MS
        out: list[Finding] = []
        dirty, self._dirty = self._dirty, {}
        for sid in sorted(dirty):
            f = self._assess(sid, min(dirty[sid], now))
            if f is not None:
                out.append(f)
        return out

    def _assess(self, sid: str, ts: int) -> Finding | None:
        ids = self._by_seller.get(sid)
        if not ids:
            return None
        cands = [(oid, self._cands[(sid, oid)]) for oid in ids]
        # "Plain" candidates (neither fresh nor praised, nor disowned by a low rating) are capped
        # together: chosen by their traits, not by their weight.
        weights = [self._weight(c) for _, c in cands]
        is_plain = [not (c.fresh or c.five or c.low) for _, c in cands]
        plain = sum(w for w, p in zip(weights, is_plain, strict=True) if p)
        total = (sum(w for w, p in zip(weights, is_plain, strict=True) if not p)
                 + min(plain, self.plain_cap))
        score = 1.0 - math.exp(-total / self.scale) if len(ids) >= self.min_orders else 0.0
        # The textbook case needs no second order: a brand-new account paying a few percent of
        # the shop's usual price for a parcel that never ships.
        if any(c.fresh and not c.low and c.ratio is not None and c.ratio <= self.single_ratio
               for _, c in cands):
            score = max(score, self.single_score)
        if score < self.emit_min:
            return None
        five = sum(c.five for _, c in cands)
        prev = self._reported.get(sid)
        if prev is not None and score < prev[0] + 0.02 and len(ids) <= prev[1] \
                and five < prev[2] + 3:
            return None
        self._reported[sid] = (score, len(ids), five)
        acct: dict[str, float] = {}
        for (_, c), w in zip(cands, weights, strict=True):
            if w <= 0:
                continue
            a = score * (0.75 + 0.125 * c.fresh + 0.125 * c.five)
            acct[c.buyer] = max(acct.get(c.buyer, 0.0), a)
        if len(acct) > self.max_accounts:
            acct = dict(sorted(acct.items(), key=lambda kv: (-kv[1], kv[0]))[:self.max_accounts])
        fresh = sum(c.fresh for _, c in cands)
        ref = self._refs.get(sid)
        typical = self._typical(ref) if ref is not None else None
        amounts = sorted(c.amount for _, c in cands)
        ev = {"order_ids": bounded(oid for oid, _ in cands),
              "review_ids": bounded(r for _, c in cands for r in c.review_ids),
              "tiny_unshipped_orders": len(cands), "fresh_accounts": fresh,
              "five_star_reviews": five, "median_amount": round(amounts[len(amounts) // 2], 2),
              "typical_order": round(typical, 2) if typical is not None else None}
        reasons = ["tiny_unshipped_orders"]
        if fresh:
            reasons.append("fresh_accounts")
        if five:
            reasons.append("five_star_followup")
        summary = (f"Seller {sid} received {len(cands)} tiny unshipped orders "
                   f"(median {amounts[len(amounts) // 2]:.2f} CNY"
                   + (f" against a typical {typical:.2f} CNY" if typical is not None else "")
                   + f") in {self.window_days} days, {fresh} from fresh accounts, "
                   f"{five} followed by 5-star reviews.")
        return Finding(detector=self.name, seller_id=sid, score=score, ts=ts, summary=summary,
                       accounts=acct, evidence=ev, reasons=tuple(reasons))

    def state_size(self) -> int:
        return sum(len(r.amounts) for r in self._refs.values()) + len(self._cands)
