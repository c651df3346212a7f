"""Conjured records: invoices and customs declarations that real sales do not back.

Method. Beneish's forensic-accounting idea ("The Detection of Earnings Manipulation", Financial
Analysts Journal 1999) — reported revenue that runs ahead of the cash and trade behind it is the
first sign of manipulation — reduced to what a marketplace sees: a seller's sales invoices and
customs export declarations (``record`` events, ``amount``) against the seller's own observed
sales (order GMV minus refunds). Invoice padding (invoices several times the sales) and invoices
without sales (a shell with next to no orders) are the two shapes of the same gap.

Adaptation to the stream, and to timing:

* **Reconciliation pool instead of calendar windows.** A daily invoice is issued after the day it
  covers, and sellers invoice at different cadences (daily, weekly, late). Rather than guess the
  lag, each seller keeps a FIFO pool of *not yet invoiced* sales in daily buckets: orders add to
  it and an invoice consumes it oldest first; what the pool covers is the invoice's *covered
  sales*. An honest invoice, whatever its lag (up to ``pool_days``), finds its sales in the pool;
  a flash sale's invoice finds the flash sale there (invoices follow sales), so bursty but honest
  sellers reconcile; a padded invoice leaves most of itself uncovered. Buckets older than
  ``pool_days`` leave the pool (sales that old are not invoiced any more), which also stops
  rounding leftovers from accumulating into a cushion for padding.
* **Refunds.** An invoice states the sales of its period; a refund cancels an order later (a
  credit note of its own), so invoices are compared with gross sales: refunds touch neither the
  pool nor the padding test (discounting them made an honest shop with many returns look
  padded by ``1 / (1 - refund rate)``). They only set the window's net sales, which tell
  "invoice without sales" apart, with the refund rate estimated against at least
  ``refund_prior`` CNY of GMV.
* **Padded invoices and their run, against the market's invoicing.** How far an honest invoice
  strays from the sales it covers depends on the market (discounts, late or bundled invoicing),
  so the detector keeps the log ratio amount / covered sales of the market's last ``sample``
  judged invoices, and an invoice is *padded* when its ratio is beyond the market's median by
  ``z_pad`` robust standard deviations (MAD) and at least ``pad_floor`` (issue 10: every
  detector against a null fitted to the traffic it sees). Over the padded invoices of the last
  ``window_days``, the detector sums amounts ``I`` and covered sales ``C``, excess
  ``P = I − C``; it fires when ``I / C`` is past the same threshold and ``P ≥ min_excess``. So
  the first padded invoice already fires (time to detect is one invoice). When the window's
  net sales are below ``no_sales_share`` of its invoices, the finding reads "invoice without
  sales".
* **Customs.** An exporter declares goods around the time they sell, sometimes ahead, so a
  declaration is judged ``customs_lag_days`` after it is filed: the declarations of the
  ``window_days`` before that point against net sales from a lag before that window to now;
  they fire above ``customs_ratio_min`` (honest exporters declare a fraction of their sales).
* **Warm-up.** Sales before the detector's first event are unknown, so invoices in the first
  ``warmup_hours`` of event time only consume the pool and are never judged (nor customs filed
  in the first ``customs_lag_days``). A day is the usual invoicing period: a daily invoice
  issued a day or more after the start covers, at worst, the few night hours before it. A
  seller invoicing weekly would see its first weekly invoice judged against a partial week;
  raise ``warmup_hours`` where such cadences are common.

Score: the evidence of a run is the number of doublings each padded record puts above what it
covers, ``sum min(4, log2(amount / covered))`` (a shell's invoice, covering nothing, counts 4),
mapped through `detectors.nulls.significance` with 0.8 at ``full``; a single padded record is
capped at ``single_cap`` (a second one decides a blacklisting). A A
finding is returned only when a new padded invoice (or customs record) joins the evidence.

Per event O(1) amortised (a pool consumption pops at most the buckets it empties); evaluate only
looks at sellers that received an invoice, or whose customs declaration matured, since the last
tick, O(window) each; a daily sweep expires idle sellers. State: per active seller at most
``pool_days`` pool buckets, ``window_days + 2·customs_lag_days + 1`` day buckets and the records
of the window.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import ClassVar

from credence.contract import DAY_MS, HOUR_MS, Event, EventType, Order, Record, Refund
from credence.features import fen
from detectors.base import Detector, Finding, bounded
from detectors.nulls import significance

__all__ = ["ConjuredRecords"]



@dataclass
class _Seller:
    # [day, un-invoiced net sales in fen], oldest first
    pool: deque[list[int]] = field(default_factory=deque)
    # [day, gmv fen, refund fen, orders], oldest first
    days: deque[list[int]] = field(default_factory=deque)
    # (ts, record id, amount fen, covered fen, judged)
    invoices: deque[tuple[int, str, int, int, bool]] = field(default_factory=deque)
    # (ts, record id, amount fen)
    customs: deque[tuple[int, str, int]] = field(default_factory=deque)
    last_seen: int = 0
    # the newest padded invoice / customs record already reported (re-report only on news)
    reported_invoice: str = ""
    reported_customs: str = ""


class ConjuredRecords(Detector):
    """Invoice padding, invoices without sales, customs declarations far above sales."""

    name: ClassVar[str] = "conjured_records"
    observes: ClassVar[frozenset[EventType]] = frozenset({"order", "refund", "record"})

    def __init__(self, *, window_days: int = 30, pool_days: int = 10, pad_floor: float = 1.5,
                 z_pad: float = 4.0, sample: int = 2000, full: float = 5.0,
                 min_excess: float = 500.0, single_cap: float = 0.78,
                 customs_ratio_min: float = 3.0, customs_lag_days: int = 7,
                 no_sales_share: float = 0.1, refund_prior: float = 5000.0,
                 warmup_hours: float = 24.0,
                 emit_min: float = 0.4) -> None:
        """
        window_days: how far back padded invoices and customs records are summed (30).
        pool_days: how long un-invoiced sales stay claimable by a later invoice (10).
        pad_floor: an invoice is padded only when amount / covered sales is at least this (1.5)
            ...
        z_pad: ... and beyond the market's median log ratio by this many robust standard
            deviations (4) ...
        sample: ... over the market's last judged invoices (2,000).
        full: doublings of invoiced over covered sales at which the score reaches 0.8 (5).
        min_excess: CNY of uncovered invoice amount needed to fire (500).
        single_cap: the highest score from one padded record (0.78, below blacklisting).
        customs_ratio_min: customs / sales over the window needed to fire (3.0).
        customs_lag_days: sales this much older than the customs window still count (7).
        no_sales_share: net sales below this share of invoices reads as "without sales" (0.1).
        refund_prior: CNY of GMV the refund rate is at least measured against (5,000).
        warmup_hours: invoices in the first hours of event time are not judged (24).
        emit_min: findings below this score are not returned (0.4).
        """
        self.window_days = window_days
        self.pool_days = pool_days
        self.pad_floor = pad_floor
        self.z_pad = z_pad
        self.sample = sample
        self.full = full
        self.min_excess = min_excess
        self.single_cap = single_cap
        self.customs_ratio_min = customs_ratio_min
        self.customs_lag_days = customs_lag_days
        self.no_sales_share = no_sales_share
        self.refund_prior = refund_prior
        self.warmup_hours = warmup_hours
        self.emit_min = emit_min
        self._sellers: dict[str, _Seller] = {}
        # log(amount / covered) of the market's latest judged invoices (the null of padding)
        self._ratios: deque[float] = deque(maxlen=int(sample))
        self._threshold = math.log(2.0)  # until 50 invoices are known
        self._new_ratios = 0  # ratios added since the last fit
        self._dirty: dict[str, int] = {}  # seller → time of the record that made it dirty
        self._t0: int | None = None
        self._next_sweep = 0
        # (ts when a customs record is judged, seller): declarations wait for the sales around them
        self._maturing: deque[tuple[int, str]] = deque()

    @property
    def _keep_days(self) -> int:
        # customs compare the window with sales from a lag before it to a lag after it
        return self.window_days + 2 * self.customs_lag_days + 1

    # ------------------------------------------------------------------ observe

    def _seller(self, seller_id: str, ts: int) -> _Seller:
        s = self._sellers.get(seller_id)
        if s is None:
            s = self._sellers[seller_id] = _Seller()
        if ts > s.last_seen:
            s.last_seen = ts
        return s

    def observe(self, event: Event) -> None:
        if self._t0 is None:
            self._t0 = event.ts
        if isinstance(event, Order):
            s = self._seller(event.seller_id, event.ts)
            day = event.ts // DAY_MS
            amount = fen(event.amount)
            row = self._day_row(s, day)
            row[1] += amount
            row[3] += 1
            self._pool_add(s, day, amount)
        elif isinstance(event, Refund):
            # Refunds do not touch the pool: a refund usually cancels an order that was
            # invoiced days ago, and taking it from today's sales made honest invoices look
            # uncovered. They discount covered sales through the seller's refund rate instead.
            s = self._seller(event.seller_id, event.ts)
            self._day_row(s, event.ts // DAY_MS)[2] += fen(event.amount)
        elif isinstance(event, Record) and event.source in ("invoice", "customs"):
            if not event.amount:
                return
            s = self._seller(event.seller_id, event.ts)
            amount = fen(event.amount)
            judged = event.ts >= self._t0 + int(self.warmup_hours * HOUR_MS)
            if event.source == "invoice":
                self._expire_pool(s, event.ts // DAY_MS)
                covered = self._pool_consume(s, amount)
                s.invoices.append((event.ts, event.record_id, amount, covered, judged))
                if judged and covered > 0:
                    self._ratios.append(math.log(amount / covered))
                    self._new_ratios += 1
                self._touch(event.seller_id, event.ts)
            elif event.ts >= self._t0 + self.customs_lag_days * DAY_MS:
                s.customs.append((event.ts, event.record_id, amount))
                self._maturing.append((event.ts + self.customs_lag_days * DAY_MS,
                                       event.seller_id))

    def _touch(self, seller: str, ts: int) -> None:
        if ts > self._dirty.get(seller, -1):
            self._dirty[seller] = ts

    def _day_row(self, s: _Seller, day: int) -> list[int]:
        if s.days and s.days[-1][0] == day:
            return s.days[-1]
        if s.days and s.days[-1][0] > day:
            # A late event joins the newest bucket not after its day (or the oldest held): a
            # shift of a day at most within the window sums.
            for row in reversed(s.days):
                if row[0] <= day:
                    return row
            return s.days[0]
        row = [day, 0, 0, 0]
        s.days.append(row)
        keep = self._keep_days
        while s.days and s.days[0][0] <= day - keep:
            s.days.popleft()
        return row

    def _pool_add(self, s: _Seller, day: int, amount_fen: int) -> None:
        if s.pool and s.pool[-1][0] >= day:
            s.pool[-1][1] += amount_fen
        else:
            s.pool.append([day, amount_fen])

    def _pool_consume(self, s: _Seller, amount_fen: int) -> int:
        covered = 0
        while amount_fen > 0 and s.pool:
            b = s.pool[0]
            take = min(amount_fen, b[1])
            b[1] -= take
            amount_fen -= take
            covered += take
            if b[1] == 0:
                s.pool.popleft()
        return covered

    def _expire_pool(self, s: _Seller, today: int) -> None:
        while s.pool and s.pool[0][0] <= today - self.pool_days:
            s.pool.popleft()

    # ------------------------------------------------------------------ evaluate

    def _expire(self, s: _Seller, now: int) -> None:
        lo = now - self.window_days * DAY_MS
        while s.invoices and s.invoices[0][0] <= lo:
            s.invoices.popleft()
        while s.customs and s.customs[0][0] <= lo - self.customs_lag_days * DAY_MS:
            s.customs.popleft()
        today = now // DAY_MS
        self._expire_pool(s, today)
        keep = self._keep_days
        while s.days and s.days[0][0] <= today - keep:
            s.days.popleft()

    def _sweep(self, now: int) -> None:
        horizon = now - self._keep_days * DAY_MS
        for sid in sorted(self._sellers):
            s = self._sellers[sid]
            self._expire(s, now)
            if s.last_seen <= horizon and not (s.invoices or s.customs or s.days or s.pool):
                del self._sellers[sid]

    def _pad_threshold(self) -> float:
        """The log ratio from which an invoice is padded: the market's median plus ``z_pad``
        robust standard deviations, never under ``log(pad_floor)``; refitted when a tenth of the
        sample is new (a sort of at most ``sample`` floats)."""
        n = len(self._ratios)
        if n >= 50 and self._new_ratios >= max(10, n // 10):
            self._new_ratios = 0
            xs = sorted(self._ratios)
            med = xs[n // 2]
            mad = sorted(abs(x - med) for x in xs)[n // 2] * 1.4826
            self._threshold = max(math.log(self.pad_floor), med + self.z_pad * max(mad, 0.01))
        return self._threshold

    def _score(self, doublings: float, count: int) -> float:
        score = significance(doublings, self.full)
        return min(score, self.single_cap) if count <= 1 else score

    def _sales(self, s: _Seller, lo_day: int) -> tuple[int, int, float]:
        """Net sales (fen), orders and refund rate in the day buckets after ``lo_day``."""
        gmv = refunds = orders = 0
        for day, g, r, n in s.days:
            if day > lo_day:
                gmv += g
                refunds += r
                orders += n
        rate = min(refunds / max(gmv, self.refund_prior * 100), 0.9)
        return max(gmv - refunds, 0), orders, rate

    def evaluate(self, now: int) -> list[Finding]:
        out: list[Finding] = []
        while self._maturing and self._maturing[0][0] <= now:
            due, sid = self._maturing.popleft()
            self._touch(sid, due)
        dirty, self._dirty = self._dirty, {}
        for sid in sorted(dirty):
            s = self._sellers.get(sid)
            if s is None:
                continue
            self._expire(s, now)
            f = self._assess(sid, s, now, min(dirty[sid], now))
            if f is not None:
                out.append(f)
        if now >= self._next_sweep:
            self._sweep(now)
            self._next_sweep = now + DAY_MS
        return out

    def _assess(self, sid: str, s: _Seller, now: int, ts: int) -> Finding | None:
        today = now // DAY_MS
        sales_w, orders_w, _ = self._sales(s, today - self.window_days)
        best: tuple[float, tuple[str, ...], dict, str] | None = None
        news = False

        limit = math.exp(self._pad_threshold())
        padded = [(rid, amt, cov) for _, rid, amt, cov, judged in s.invoices
                  if judged and amt >= limit * cov]
        if padded:
            total = sum(a for _, a, _ in padded)
            covered = sum(c for _, _, c in padded)
            excess = (total - covered) / 100
            ratio = total / covered if covered > 0 else math.inf
            if ratio >= limit and excess >= self.min_excess:
                news = padded[-1][0] != s.reported_invoice
                s.reported_invoice = padded[-1][0]
                doublings = sum(min(4.0, math.log2(a / c)) if c > 0 else 4.0
                                for _, a, c in padded)
                score = self._score(doublings, len(padded))
                inv_w = sum(a for _, _, a, _, _ in s.invoices)
                without = sales_w <= self.no_sales_share * inv_w
                reason = "invoice_without_sales" if without else "invoice_padding"
                ev = {"record_ids": bounded(rid for rid, _, _ in padded),
                      "padded_invoices": len(padded), "invoice_total": round(total / 100, 2),
                      "covered_sales": round(covered / 100, 2), "excess": round(excess, 2),
                      "ratio": round(min(ratio, 1e6), 2),
                      "padding_threshold": round(limit, 3),
                      f"sales_{self.window_days}d": round(sales_w / 100, 2),
                      f"orders_{self.window_days}d": orders_w}
                if without:
                    text = (f"Seller {sid} issued {len(padded)} invoice(s) totalling "
                            f"{total / 100:,.0f} CNY with {orders_w} order(s) and "
                            f"{sales_w / 100:,.0f} CNY of sales in {self.window_days} days.")
                else:
                    text = (f"Seller {sid} invoiced {total / 100:,.0f} CNY against "
                            f"{covered / 100:,.0f} CNY of sales ({min(ratio, 1e6):.1f}x) in "
                            f"{len(padded)} padded invoice(s).")
                best = (score, (reason,), ev, text)

        # Customs declarations are judged once the sales around them are known.
        hi = now - self.customs_lag_days * DAY_MS
        lo = hi - self.window_days * DAY_MS
        matured = [(rid, amt) for ts, rid, amt in s.customs if lo < ts <= hi]
        if matured:
            customs = sum(a for _, a in matured)
            sales_c, _, _ = self._sales(s, today - self.window_days - 2 * self.customs_lag_days)
            excess = (customs - sales_c) / 100
            ratio = customs / sales_c if sales_c > 0 else math.inf
            if ratio >= self.customs_ratio_min and excess >= self.min_excess:
                fresh = matured[-1][0] != s.reported_customs
                s.reported_customs = matured[-1][0]
                news = news or fresh
                score = self._score(sum(min(4.0, math.log2(ratio)) for _ in matured),
                                    len(matured))
                if best is None or score > best[0]:
                    ev = {"record_ids": bounded(rid for rid, _ in matured),
                          "customs_records": len(matured),
                          "customs_total": round(customs / 100, 2),
                          "sales": round(sales_c / 100, 2), "ratio": round(min(ratio, 1e6), 2),
                          "excess": round(excess, 2)}
                    reasons = ("customs_inflation",) + (best[1] if best else ())
                    text = (f"Seller {sid} declared {customs / 100:,.0f} CNY of exports against "
                            f"{sales_c / 100:,.0f} CNY of sales ({min(ratio, 1e6):.1f}x).")
                    best = (score, reasons, ev, text)
                elif best is not None:
                    best = (best[0], best[1] + ("customs_inflation",), best[2], best[3])
        if best is None or not news or best[0] < self.emit_min:
            return None
        score, reasons, ev, text = best
        return Finding(detector=self.name, seller_id=sid, score=score, ts=ts, summary=text,
                       evidence=ev, reasons=reasons)

    def state_size(self) -> int:
        return len(self._maturing) + sum(
            1 + len(s.pool) + len(s.days) + len(s.invoices) + len(s.customs)
            for s in self._sellers.values())
