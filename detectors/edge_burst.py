"""Bursting buyer→seller, device→seller and address→seller edges: MIDAS-R on the order stream.

Method. MIDAS-R (Bhatia, Hooi, Yoon, Shin, Faloutsos, "MIDAS: Microcluster-Based Detector of
Anomalies in Edge Streams", AAAI 2020, the relational variant): count-min sketches hold, per edge
and per node, the count in the current time tick ``a`` and the total count ``s``; at each new tick
the current counts are multiplied by a decay factor ``alpha`` instead of being reset, so a burst
spread over adjacent ticks still adds up. An arriving edge is scored by the chi-squared statistic
of its current count against the mean count per tick so far,
``X = (a - s/t)^2 · t^2 / (s · (t - 1))``, for the edge and for its source node.

Adaptation to the order stream.

* Three edge streams are drawn from each order: buyer→seller, device→seller and address→seller.
  One set of fixed-size sketches (numpy ``float32`` arrays, ``depth`` rows) holds all three; keys
  carry the stream name, rows are indexed by double hashing of two CRC-32s (stable across
  processes and replays, unlike Python's ``hash``). Work per order is O(depth) per sketch.
* The sketch tick is ``tick_ms`` = 1 h of event time, not the engine's 60 s tick: a wash crew
  orders a few times an hour at most, so a minute tick would see no repetition at all, and with
  ``alpha`` = 0.5 two orders on one edge within about two hours still make ``a`` >= 1.5.
* MIDAS keeps totals forever; here totals (and ``t``) decay with a half-life of
  ``total_half_life_ms``, so the sketches never saturate and ``s / t`` is a recent mean per tick.
* The seller node's own score is not used: a seller's volume bursting is what a flash sale looks
  like. What marks a seller is *per-edge repetition*: an edge is *hot* when ``a >= min_repeat``
  and ``X >= min_chi2`` (a steady favourite has a high mean and a low ``X``; one-off buyers have
  ``a`` = 1). A hot device or address edge counts as *shared* when more distinct accounts than a
  household has ordered through it (matched against the seller's recent orders, or estimated
  from a sketch of distinct (identifier, account) pairs). The source node's ``X`` (an identifier
  bursting across sellers) is reported as evidence.
* ``evaluate`` aggregates the hot edges of the last ``agg_window_ms`` of each seller that got a
  new one: shared devices (strong: honest people do not share phones with strangers), shared
  addresses (weaker), repeat buyers (a little), distinct implicated accounts, and the share of the
  seller's orders in the window that came through shared identifiers; the score is a logistic of
  those (``_score``), capped at ``max_score``. Only accounts seen on a shared identifier are
  implicated: a buyer who merely repeats is an eager customer.
"""

from __future__ import annotations

import math
import zlib
from collections import deque
from typing import Any, ClassVar

import numpy as np

from credence.contract import HOUR_MS, Event, EventType, Order
from detectors.base import Detector, Finding, bounded, reemit_findings

__all__ = ["EdgeBurst", "midas_score"]


# (stream name, Order field of the edge's source)
_STREAMS: tuple[tuple[str, str], ...] = (("buyer", "buyer_id"), ("device", "device_id"),
                                         ("address", "address_id"))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "es" if noun.endswith("ss") else "s")


def midas_score(a: float, s: float, t: float) -> float:
    """MIDAS's chi-squared statistic of a current count ``a`` against total ``s`` over ``t`` ticks."""
    if s <= 0 or t <= 1:
        return 0.0
    return (a - s / t) ** 2 * t * t / (s * (t - 1))


class EdgeBurst(Detector):
    """MIDAS-R over buyer/device/address → seller edges, aggregated per seller.

    Parameters (constructor keywords):

    * ``tick_ms`` (1 h): the sketch's time tick (see the module docstring).
    * ``alpha`` (0.5): MIDAS-R's decay of current counts per tick.
    * ``total_half_life_ms`` (3 days): half-life of the totals and of ``t``.
    * ``depth`` (4), ``width`` (2**15), ``total_width`` (2**16): sketch rows and columns (current
      counts need fewer columns: they decay within hours).
    * ``min_repeat`` (1.5), ``min_chi2`` (20.0): when an edge is hot.
    * ``agg_window_ms`` (24 h): how long hot edges count for their seller.
    * ``recent_orders`` (48): recent orders kept per seller to name the accounts behind a hot
      device or address edge.
    * ``device_accounts`` (3), ``address_accounts`` (5): distinct accounts (at the seller in the
      last hours, or on the identifier overall per the pair sketch) that make a hot device or
      address edge *shared*: a family shares a tablet or an address, a crew shares more.
    * ``emit_min`` (0.4), ``refresh_ms`` (24 h): smallest score reported; re-report an unchanged
      finding this often.
    * ``bias``, ``w_device``, ``w_address``, ``w_buyer``, ``w_accounts``, ``w_share``,
      ``share_ref``, ``max_score``: the logistic of ``_score``.
    """

    name: ClassVar[str] = "edge_burst"
    observes: ClassVar[frozenset[EventType]] = frozenset({"order"})

    def __init__(self, *, tick_ms: int = HOUR_MS, alpha: float = 0.5,
                 total_half_life_ms: int = 72 * HOUR_MS, depth: int = 4, width: int = 1 << 15,
                 total_width: int = 1 << 16, min_repeat: float = 1.5, min_chi2: float = 20.0,
                 agg_window_ms: int = 24 * HOUR_MS, recent_orders: int = 48,
                 device_accounts: int = 3, address_accounts: int = 5,
                 emit_min: float = 0.4, refresh_ms: int = 24 * HOUR_MS, bias: float = -5.5,
                 w_device: float = 1.2, w_address: float = 0.4, w_buyer: float = 0.1,
                 w_accounts: float = 0.8, w_share: float = 2.0, share_ref: float = 0.3,
                 max_score: float = 0.85) -> None:
        self.tick_ms = int(tick_ms)
        self.alpha = float(alpha)
        self.total_half_life_ms = int(total_half_life_ms)
        self.depth = int(depth)
        self.width = int(width)
        self.total_width = int(total_width)
        self.min_repeat = float(min_repeat)
        self.min_chi2 = float(min_chi2)
        self.agg_window_ms = int(agg_window_ms)
        self.recent_orders = int(recent_orders)
        self.device_accounts = int(device_accounts)
        self.address_accounts = int(address_accounts)
        self.emit_min = float(emit_min)
        self.refresh_ms = int(refresh_ms)
        self.bias = float(bias)
        self.w_device = float(w_device)
        self.w_address = float(w_address)
        self.w_buyer = float(w_buyer)
        self.w_accounts = float(w_accounts)
        self.w_share = float(w_share)
        self.share_ref = float(share_ref)
        self.max_score = float(max_score)
        self._beta = 0.5 ** (self.tick_ms / self.total_half_life_ms)
        d = self.depth
        # flat sketches: row r of a sketch of width w occupies [r*w, (r+1)*w)
        self._cur = np.zeros(d * self.width, dtype=np.float32)  # current counts, edges + sources
        self._tot = np.zeros(d * self.total_width, dtype=np.float32)  # totals, edges + sources
        self._pairs = np.zeros(d * self.total_width, dtype=np.float32)  # (identifier, account)
        self._distinct = np.zeros(d * self.total_width, dtype=np.float32)  # accounts per id
        self._tick: int | None = None
        self._t = 0.0  # decayed number of ticks
        # seller → recent orders (ts, buyer, device, address, order id)
        self._recent: dict[str, deque[tuple[int, str, str | None, str | None, str]]] = {}
        # seller → hot edges (ts, stream, source, buyers, order id, a, X, source X, accounts)
        self._hot: dict[str, deque[tuple]] = {}
        self._volume: dict[str, deque[list[int]]] = {}  # seller → [[tick, orders], ...]
        self._dirty: set[str] = set()
        self._next_expire: int | None = None
        self._last: dict[str, tuple[float, frozenset[str], int]] = {}

    # ------------------------------------------------------------------ sketches

    def _advance(self, tick: int) -> int:
        """Decay the sketches up to ``tick``; return the current tick (never behind)."""
        if self._tick is None:
            self._tick = tick
            self._t = 1.0
            return tick
        steps = tick - self._tick
        if steps <= 0:
            return self._tick
        self._cur *= np.float32(self.alpha ** min(steps, 64))
        decay = np.float32(self._beta ** steps)
        self._tot *= decay
        self._pairs *= decay
        self._distinct *= decay
        for _ in range(min(steps, 10_000)):
            self._t = self._t * self._beta + 1.0
        self._tick = tick
        return tick

    def _rows(self, key: str) -> tuple[list[int], list[int]]:
        """The key's cell in each row of the current and the total sketches (double hashing of
        two CRC-32s: stable across processes, unlike ``hash``)."""
        data = key.encode()
        h1 = zlib.crc32(data)
        h2 = zlib.crc32(data, 0x9E3779B9) | 1
        w, tw = self.width, self.total_width
        cur, tot = [], []
        for r in range(self.depth):
            v = h1 + r * h2
            cur.append(r * w + v % w)
            tot.append(r * tw + v % tw)
        return cur, tot

    def _hit(self, cur_rows: list[int], tot_rows: list[int]) -> tuple[float, float]:
        """Count one occurrence; return the key's current and total counts (count-min)."""
        cur, tot = self._cur, self._tot
        a = s = math.inf
        for i, j in zip(cur_rows, tot_rows, strict=True):
            c = cur[i] + 1.0
            cur[i] = c
            t = tot[j] + 1.0
            tot[j] = t
            if c < a:
                a = c
            if t < s:
                s = t
        return float(a), float(s)

    def _distinct_accounts(self, source_rows: list[int], pair_rows: list[int]) -> float:
        """Distinct accounts seen on an identifier: a sketch of (identifier, account) pairs marks
        first sightings, which increment the identifier's distinct count."""
        pairs, distinct = self._pairs, self._distinct
        if min(float(pairs[j]) for j in pair_rows) < 0.5:
            for j in source_rows:
                distinct[j] += 1.0
        for j in pair_rows:
            pairs[j] += 1.0
        return max(1.0, min(float(distinct[j]) for j in source_rows))

    # ------------------------------------------------------------------ stream

    def observe(self, event: Event) -> None:
        if not isinstance(event, Order):
            return
        s, b, ts = event.seller_id, event.buyer_id, event.ts
        tick = self._advance(ts // self.tick_ms)
        vol = self._volume.get(s)
        if vol is None:
            vol = self._volume[s] = deque()
        if vol and vol[-1][0] == tick:
            vol[-1][1] += 1
        else:
            vol.append([tick, 1])
        recent = self._recent.get(s)
        if recent is None:
            recent = self._recent[s] = deque(maxlen=self.recent_orders)
        for stream, fld in _STREAMS:
            x = getattr(event, fld)
            if not x:
                continue
            source = f"{stream}|{x}"
            a, tot = self._hit(*self._rows(f"{source}|{s}"))
            src_cur, src_tot = self._rows(source)
            a_src, tot_src = self._hit(src_cur, src_tot)
            accounts = 1.0
            if stream != "buyer":
                accounts = self._distinct_accounts(src_tot, self._rows(f"{source}|{b}")[1])
            chi = midas_score(a, tot, self._t)
            if a < self.min_repeat or chi < self.min_chi2:
                continue
            buyers = {b}
            if stream != "buyer":
                pos = 2 if stream == "device" else 3
                horizon = ts - 3 * self.tick_ms
                buyers.update(r[1] for r in recent if r[pos] == x and r[0] >= horizon)
            hot = self._hot.get(s)
            if hot is None:
                hot = self._hot[s] = deque(maxlen=256)
            hot.append((ts, stream, x, tuple(sorted(buyers)), event.order_id, round(a, 3),
                        round(chi, 2), round(midas_score(a_src, tot_src, self._t), 2),
                        accounts))
            self._dirty.add(s)
        recent.append((ts, b, event.device_id, event.address_id, event.order_id))

    def _expire(self, now: int) -> None:
        cutoff = now - self.agg_window_ms
        first_tick = cutoff // self.tick_ms
        for s in [k for k, v in self._hot.items() if not v or v[-1][0] < cutoff]:
            del self._hot[s]
        for hot in self._hot.values():
            while hot and hot[0][0] < cutoff:
                hot.popleft()
        for s in [k for k, v in self._volume.items() if v[-1][0] < first_tick]:
            del self._volume[s]
            self._recent.pop(s, None)
        for vol in self._volume.values():
            while vol and vol[0][0] < first_tick:
                vol.popleft()
        for s in [k for k, v in self._last.items() if now - v[2] > self.refresh_ms * 7]:
            del self._last[s]

    # ------------------------------------------------------------------ decisions

    def evaluate(self, now: int) -> list[Finding]:
        self._advance((now - 1) // self.tick_ms)
        if self._dirty:
            dirty = sorted(self._dirty)
            self._dirty.clear()
        else:
            dirty = []
        if self._next_expire is None or now >= self._next_expire:
            self._expire(now)
            self._next_expire = now + self.tick_ms
        return reemit_findings(self._last, (self._score(s, now) for s in dirty), self.refresh_ms)

    def _score(self, s: str, now: int) -> Finding | None:
        cutoff = now - self.agg_window_ms
        hot = [h for h in self._hot.get(s, ()) if h[0] >= cutoff]
        if not hot:
            return None
        shared: dict[str, set[str]] = {"device": set(), "address": set()}
        repeat_buyers: set[str] = set()
        involved: dict[str, float] = {}
        orders: set[str] = set()
        shared_orders: set[str] = set()
        best_chi = 0.0
        best_src = 0.0
        for _ts, stream, x, buyers, oid, _a, chi, chi_src, accounts in hot:
            orders.add(oid)
            best_chi = max(best_chi, chi)
            best_src = max(best_src, chi_src)
            if stream == "buyer":
                repeat_buyers.add(buyers[0])
            elif max(len(buyers), accounts) >= (self.device_accounts if stream == "device"
                                                else self.address_accounts):
                shared[stream].add(x)
                shared_orders.add(oid)
                for b in buyers:
                    involved[b] = max(involved.get(b, 0.0), 1.0 if stream == "device" else 0.8)
        # A buyer that merely repeats is an eager customer: only accounts seen on a shared
        # identifier are implicated (and the repeat counts only as a little evidence).
        first_tick = cutoff // self.tick_ms
        volume = sum(c for t, c in self._volume.get(s, ()) if t >= first_tick)
        n_dev, n_addr = len(shared["device"]), len(shared["address"])
        n_acc = len(involved)
        share = len(shared_orders) / max(volume, len(orders))
        z = (self.bias + self.w_device * min(4, n_dev) + self.w_address * min(4, n_addr)
             + self.w_buyer * min(3, len(repeat_buyers))
             + self.w_accounts * min(4.0, math.log2(1 + n_acc))
             + self.w_share * min(1.0, share / self.share_ref))
        score = self.max_score / (1.0 + math.exp(-z))
        if score < self.emit_min or not (n_dev or n_addr):
            return None
        accounts = {b: score * w for b, w in involved.items()}
        reasons = ["edge_burst"]
        if n_dev:
            reasons.append("shared_device_burst")
        if n_addr:
            reasons.append("shared_address_burst")
        if repeat_buyers:
            reasons.append("repeat_buyer_burst")
        evidence: dict[str, Any] = {
            "order_ids": bounded(orders),
            "hot_edges": len(hot),
            "shared_devices": bounded(shared["device"]),
            "shared_addresses": bounded(shared["address"]),
            "repeat_buyers": len(repeat_buyers),
            "accounts": n_acc,
            "seller_orders": volume,
            "shared_share": round(share, 3),
            "max_edge_chi2": best_chi,
            "max_source_chi2": best_src,
            "log_odds": round(z, 3),
        }
        hours = self.agg_window_ms // HOUR_MS
        summary = (f"{len(hot)} edges burst at this seller in {hours} h through "
                   f"{_count(n_dev, 'shared device')} and {_count(n_addr, 'shared address')}, "
                   f"implicating {_count(n_acc, 'account')}.")
        return Finding(detector=self.name, seller_id=s, score=score, ts=max(h[0] for h in hot),
                       summary=summary, accounts=accounts, evidence=evidence,
                       reasons=tuple(reasons))

    def state_size(self) -> int:
        return (sum(len(v) for v in self._hot.values()) + sum(len(v) for v in self._recent.values())
                + len(self._volume) + len(self._last))
