"""Dense buyer × seller blocks: FRAUDAR's camouflage-resistant peeling, kept up to date as in Spade.

Method. FRAUDAR (Hooi, Song, Beutel, Shah, Shin, Faloutsos, "FRAUDAR: Bounding Graph Fraud in the
Face of Camouflage", KDD 2016) finds the subgraph ``S`` of a bipartite graph that maximises the
density ``g(S) = f(S) / |S|``, ``f(S)`` being the total suspiciousness of the edges inside ``S``,
by *greedy peeling*: repeatedly remove the node whose removal costs ``f`` least, and keep the best
prefix (a 2-approximation). Column weighting gives an edge into object ``j`` the weight
``1 / log(d_j + c)`` (``d_j`` = degree of ``j``), so edges into popular objects, where fraudsters
camouflage, count little. Spade (Jiang, Hooi, Chen, Wang, Lin, Hu, Xu, Li, "Spade: A Real-Time
Fraud Detection Framework on Evolving Graphs", VLDB 2023) keeps the peeling result current under
edge insertions by re-peeling only the part of the graph an insertion can affect.

Adaptation to the order stream.

* Graph: buyers (rows) × sellers (columns) over a sliding window of ``window_ms`` of event time;
  an edge carries the number of orders. Its suspiciousness is
  ``(log2(c_ij) · c_ij / c_i · log(2 + row_c) / log(c_i + row_c) + new_prior · new_i) /
  log(d_j + col_c)`` where ``c_ij`` is the buyer's orders at the seller, ``c_i`` all the buyer's
  orders, ``d_j`` the seller's distinct buyers and ``new_i`` whether the account was registered
  within ``new_account_days``. ``log2(c_ij)`` makes a single purchase worth nothing (a flash sale
  of many one-off buyers has no mass) and repetition worth a slowly growing amount (a handful of
  heavy buyers cannot make a block on their own); ``c_ij / c_i`` and the row discount are the
  row-side camouflage resistance: a buyer who spreads its purchases over many shops is not a
  puppet, however often it returns to a favourite. The column weight is FRAUDAR's.
* Incremental part (Spade): ``observe`` updates the edge, the buyer's total, the seller's degree
  and the seller's set of positive-weight buyers in O(1) and marks the seller dirty. Every
  ``peel_every_ms`` the dirty sellers with at least ``min_accounts`` positive buyers, whose
  positive buyers grew by the factor ``regrow`` since their last peel (a block densifies by
  gaining members), are re-peeled *locally*: the seller, its positive buyers (at most
  ``max_block_buyers``) and the other sellers where at least two of those buyers also have
  positive edges (so a crew serving several clients forms one block). Expired edges leave
  through a queue; every ``rebuild_every_ms`` a full pass recomputes the graph's *typical*
  density, the ``baseline_quantile`` of the best star densities of all eligible sellers, and
  re-peels every seller whose star already reaches the reporting level (weight drift between
  peels is caught there).
* A block is reported when it has at least ``min_accounts`` buyers and its density is at least
  ``ratio_alert`` times the typical density; the score grows linearly to 0.8 at ``ratio_high``
  times and is capped at ``max_score``. B2B bulk buyers (two to four accounts) never make the
  minimum block; honest repeat customers spread their purchases and are old.
"""

from __future__ import annotations

import heapq
import math
import sys
from collections import deque
from typing import Any, ClassVar

from credence.contract import DAY_MS, HOUR_MS, MINUTE_MS, Event, EventType, Order
from detectors.base import Detector, Finding, bounded, reemit

__all__ = ["DenseBlock", "peel"]



def peel(edges: dict[tuple[str, str], float], min_rows: int
         ) -> tuple[float, list[str], list[str]]:
    """FRAUDAR's greedy peeling of a weighted bipartite graph ``{(row, col): weight}``.

    Returns the densest prefix found, ``(density, rows, cols)``, among the prefixes with at least
    ``min_rows`` rows (density 0 and empty lists when there is none). Ties are broken by node
    name, so the result is deterministic.
    """
    deg: dict[tuple[int, str], float] = {}
    adj: dict[tuple[int, str], list[tuple[tuple[int, str], float]]] = {}
    total = 0.0
    for (r, c), w in edges.items():
        if w <= 0:
            continue
        a, b = (0, r), (1, c)
        deg[a] = deg.get(a, 0.0) + w
        deg[b] = deg.get(b, 0.0) + w
        adj.setdefault(a, []).append((b, w))
        adj.setdefault(b, []).append((a, w))
        total += w
    alive = set(deg)
    rows = sum(1 for n in alive if n[0] == 0)
    heap = [(d, n) for n, d in deg.items()]
    heapq.heapify(heap)
    best, best_at = -1.0, -1
    order: list[tuple[int, str]] = []
    if rows >= min_rows and alive:
        best, best_at = total / len(alive), 0
    while heap:
        d, n = heapq.heappop(heap)
        if n not in alive or d != deg[n]:
            continue
        alive.discard(n)
        order.append(n)
        total -= d
        rows -= n[0] == 0
        for m, w in adj[n]:
            if m in alive:
                deg[m] -= w
                heapq.heappush(heap, (deg[m], m))
        if alive and rows >= min_rows:
            g = total / len(alive)
            if g > best:
                best, best_at = g, len(order)
    if best_at < 0:
        return 0.0, [], []
    removed = set(order[:best_at])
    kept = sorted(n for n in deg if n not in removed)
    return best, [n[1] for n in kept if n[0] == 0], [n[1] for n in kept if n[0] == 1]


def _star_density(weights: list[float], min_rows: int) -> float:
    """Peeling a star (one seller) keeps its heaviest buyers: the best prefix of sorted weights."""
    if len(weights) < min_rows:
        return 0.0
    ws = sorted(weights, reverse=True)
    acc, best = 0.0, 0.0
    for m, w in enumerate(ws, 1):
        acc += w
        if m >= min_rows:
            best = max(best, acc / (m + 1))
    return best


class DenseBlock(Detector):
    """Anomalously dense buyer × seller blocks in a sliding window (FRAUDAR, maintained à la Spade).

    Parameters (constructor keywords):

    * ``window_ms`` (7 days): edges older than this expire.
    * ``peel_every_ms`` (15 min): how often dirty sellers are re-peeled.
    * ``rebuild_every_ms`` (6 h): how often the typical density is recomputed over all sellers.
    * ``min_accounts`` (8): fewest buyers in a reported block (a *multi-account* block).
    * ``max_block_buyers`` (300): largest neighbourhood re-peeled (heaviest buyers kept).
    * ``col_c`` (5.0): FRAUDAR's column-weight constant, ``1 / log(d_j + col_c)``.
    * ``row_c`` (3.0): constant of the row discount ``log(2 + row_c) / log(c_i + row_c)``.
    * ``new_account_days`` (30), ``new_prior`` (0.5): suspiciousness added to an edge from a new
      account.
    * ``baseline_quantile`` (0.99), ``baseline_floor`` (0.2), ``min_baseline_sellers`` (30): the
      typical density is that quantile of the eligible sellers' star densities, never below the
      floor.
    * ``cold_floor`` (0.27): the typical density assumed while fewer than
      ``min_baseline_sellers`` sellers are eligible (a sparse or young graph: be conservative,
      a small shop's loyal customers are then the densest thing around).
    * ``ratio_alert`` (1.35), ``ratio_high`` (2.2), ``max_score`` (0.85): density / typical
      density at which the score is 0.4 and 0.8, and the score's cap.
    * ``extend`` (0.6): average density peeling favours the smallest block that reaches the
      minimum, so buyers of the main seller whose edge weighs at least this fraction of the
      block's mean edge are implicated too.
    * ``member_cap`` (0.25): the score of an implicated buyer lighter than the block's mean
      (repeat customers can sit next to puppets; this keeps them under the blacklist's release
      level, so repeated alerts cannot list them).
    * ``regrow`` (1.1): a dirty seller is re-peeled when its positive edges grew by this factor
      since its last peel; the rest waits for the rebuild.
    * ``refresh_ms`` (24 h): re-report an unchanged block this often.
    * ``recent_orders`` (64): latest orders kept per seller, for the evidence's order ids.
    """

    name: ClassVar[str] = "dense_block"
    observes: ClassVar[frozenset[EventType]] = frozenset({"order"})

    def __init__(self, *, window_ms: int = 7 * DAY_MS, peel_every_ms: int = 15 * MINUTE_MS,
                 rebuild_every_ms: int = 6 * HOUR_MS, min_accounts: int = 8,
                 max_block_buyers: int = 300, col_c: float = 5.0, row_c: float = 3.0,
                 new_account_days: float = 30.0, new_prior: float = 0.5,
                 baseline_quantile: float = 0.99, baseline_floor: float = 0.2,
                 cold_floor: float = 0.27, min_baseline_sellers: int = 30, ratio_alert: float = 1.35,
                 ratio_high: float = 2.2, max_score: float = 0.85, extend: float = 0.6,
                 member_cap: float = 0.25,
                 regrow: float = 1.1, refresh_ms: int = DAY_MS,
                 recent_orders: int = 64) -> None:
        self.window_ms = int(window_ms)
        self.peel_every_ms = int(peel_every_ms)
        self.rebuild_every_ms = int(rebuild_every_ms)
        self.min_accounts = int(min_accounts)
        self.max_block_buyers = int(max_block_buyers)
        self.col_c = float(col_c)
        self.row_c = float(row_c)
        self.new_account_days = float(new_account_days)
        self.new_prior = float(new_prior)
        self.baseline_quantile = float(baseline_quantile)
        self.baseline_floor = float(baseline_floor)
        self.cold_floor = float(cold_floor)
        self.min_baseline_sellers = int(min_baseline_sellers)
        self.ratio_alert = float(ratio_alert)
        self.ratio_high = float(ratio_high)
        self.max_score = float(max_score)
        self.extend = float(extend)
        self.member_cap = float(member_cap)
        self.regrow = float(regrow)
        self.refresh_ms = int(refresh_ms)
        self.recent_orders = int(recent_orders)
        # (ts, buyer, seller); ids are interned so that the snapshot stores each once
        self._queue: deque[tuple[int, str, str]] = deque()
        # edge value [orders, new-account flag, last ts] shared by both adjacency maps
        self._bs: dict[str, dict[str, list[int]]] = {}
        self._sb: dict[str, dict[str, list[int]]] = {}
        self._out: dict[str, int] = {}  # buyer → orders in the window
        self._posb: dict[str, set[str]] = {}  # seller → buyers with a positive-weight edge
        self._peeled_n: dict[str, int] = {}  # seller → its positive edges when last peeled
        self._recent: dict[str, deque[tuple[str, str]]] = {}  # seller → (buyer, order id)
        self._dirty: set[str] = set()
        self._next_peel: int | None = None
        self._next_rebuild: int | None = None
        self._typical = self.cold_floor
        self._last: dict[str, tuple[float, frozenset[str], int]] = {}

    # ------------------------------------------------------------------ graph upkeep

    @staticmethod
    def _positive(edge: list[int]) -> bool:
        return edge[0] >= 2 or bool(edge[1])

    def observe(self, event: Event) -> None:
        if not isinstance(event, Order):
            return
        b, s, ts = sys.intern(event.buyer_id), sys.intern(event.seller_id), event.ts
        new = int(event.buyer_registered is not None
                  and ts - event.buyer_registered <= self.new_account_days * DAY_MS)
        row = self._bs.setdefault(b, {})
        edge = row.get(s)
        if edge is None:
            edge = row[s] = [0, new, ts]
            self._sb.setdefault(s, {})[b] = edge
        edge[0] += 1
        edge[2] = max(edge[2], ts)
        if edge[0] == 2 or (edge[0] == 1 and new):
            self._posb.setdefault(s, set()).add(b)
        self._out[b] = self._out.get(b, 0) + 1
        rec = self._recent.get(s)
        if rec is None:
            rec = self._recent[s] = deque(maxlen=self.recent_orders)
        rec.append((b, event.order_id))
        self._queue.append((ts, b, s))
        self._dirty.add(s)

    def _expire(self, now: int) -> None:
        cutoff = now - self.window_ms
        q = self._queue
        while q and q[0][0] < cutoff:
            _, b, s = q.popleft()
            edge = self._bs.get(b, {}).get(s)
            if edge is None:
                continue
            edge[0] -= 1
            if (edge[0] == 1 and not edge[1]) or edge[0] == 0:
                pos = self._posb.get(s)
                if pos is not None:
                    pos.discard(b)
                    if not pos:
                        del self._posb[s]
                        self._peeled_n.pop(s, None)
            if edge[0] <= 0:
                del self._bs[b][s]
                if not self._bs[b]:
                    del self._bs[b]
                del self._sb[s][b]
                if not self._sb[s]:
                    del self._sb[s]
                    self._recent.pop(s, None)
            n = self._out.get(b, 0) - 1
            if n > 0:
                self._out[b] = n
            else:
                self._out.pop(b, None)
        for seller in [k for k, v in self._last.items() if v[2] < cutoff]:
            del self._last[seller]

    def _weight(self, b: str, s: str, edge: list[int]) -> float:
        c, new = edge[0], edge[1]
        ci = self._out.get(b, c)
        rep = math.log2(c) * (c / ci) * math.log(2 + self.row_c) / math.log(ci + self.row_c) \
            if c >= 2 else 0.0
        return (rep + self.new_prior * new) / math.log(len(self._sb[s]) + self.col_c)

    def _star(self, s: str) -> tuple[float, list[tuple[float, str]]]:
        """The seller's positive buyers by weight (heaviest first, capped) and its star density."""
        cand = [(self._weight(b, s, self._sb[s][b]), b) for b in self._posb[s]]
        cand.sort(key=lambda x: (-x[0], x[1]))
        cand = cand[:self.max_block_buyers]
        return _star_density([w for w, _ in cand], self.min_accounts), cand

    def _rebuild(self) -> list[str]:
        """Recompute the typical density (a high quantile of the eligible sellers' star densities)
        and return the sellers whose star already reaches the reporting level."""
        stars: dict[str, float] = {}
        for s in sorted(self._posb):
            n = len(self._posb[s])
            if n >= self.min_accounts:
                stars[s] = self._star(s)[0]
                self._peeled_n[s] = n
        dens = sorted(stars.values())
        if len(dens) >= self.min_baseline_sellers:
            q = dens[min(len(dens) - 1, int(self.baseline_quantile * len(dens)))]
            self._typical = max(self.baseline_floor, q)
        else:
            self._typical = self.cold_floor
        return [s for s, d in stars.items() if d >= self.ratio_alert * self._typical]

    # ------------------------------------------------------------------ decisions

    def evaluate(self, now: int) -> list[Finding]:
        self._expire(now)
        todo: set[str] = set()
        if self._next_rebuild is None or now >= self._next_rebuild:
            todo.update(self._rebuild())
            self._next_rebuild = now + self.rebuild_every_ms
        if self._next_peel is None:
            self._next_peel = now + self.peel_every_ms
        if now >= self._next_peel:
            self._next_peel = now + self.peel_every_ms
            # Spade's insight: only an insertion near a seller can raise its block's density, and
            # a block grows by new members; re-peel a seller when its positive edges grew by
            # ``regrow`` since its last peel (weight drift is caught by the periodic rebuild).
            for s in self._dirty:
                n = len(self._posb.get(s, ()))
                last = self._peeled_n.get(s, 0)
                if n >= self.min_accounts and n > last and n >= last * self.regrow:
                    todo.add(s)
            self._dirty.clear()
        out: list[Finding] = []
        done: set[str] = set()
        for s in sorted(todo):
            if s in done or s not in self._posb:
                continue
            self._peeled_n[s] = len(self._posb[s])
            f = self._peel_around(s)
            if f is None:
                continue
            done.update([f.seller_id, *f.sellers])
            state = reemit(self._last.get(f.seller_id), f.score, f.accounts, f.ts,
                           self.refresh_ms)
            if state is None:
                continue
            self._last[f.seller_id] = state
            out.append(f)
        return out

    def _peel_around(self, s: str) -> Finding | None:
        # The neighbourhood an insertion at s can change: s, its positive buyers, and the other
        # sellers two or more of those buyers also buy from repeatedly.
        star, cand = self._star(s)
        if star < self.ratio_alert * self._typical:
            return None
        edges: dict[tuple[str, str], float] = {(b, s): w for w, b in cand}
        buyers = [b for _, b in cand]
        shared: dict[str, list[str]] = {}
        for b in buyers:
            for s2, e in self._bs[b].items():
                if s2 != s and self._positive(e):
                    shared.setdefault(s2, []).append(b)
        for s2, bs in shared.items():
            if len(bs) >= 2:
                for b in bs:
                    edges[(b, s2)] = self._weight(b, s2, self._bs[b][s2])
        density, rows, cols = peel(edges, self.min_accounts)
        ratio = density / self._typical
        if not cols or ratio < self.ratio_alert:
            return None
        span = self.ratio_high - self.ratio_alert
        score = min(self.max_score, 0.4 + 0.4 * (ratio - self.ratio_alert) / span)
        rowset, colset = set(rows), set(cols)
        col_mass = dict.fromkeys(cols, 0.0)
        row_mass = dict.fromkeys(rows, 0.0)
        for (b, c), w in edges.items():
            if b in rowset and c in colset:
                col_mass[c] += w
                row_mass[b] += w
        main = max(sorted(cols), key=lambda c: col_mass[c])
        mean = sum(row_mass.values()) / len(rows)
        # Repeat customers of the client can sit in the block next to its puppets, and nothing in
        # the buyer × seller graph tells an aged puppet from a loyal customer: only the block's
        # heavier half gets the block's score, the rest at most ``member_cap``.
        accounts = {b: score if row_mass[b] >= mean
                    else min(self.member_cap, score * row_mass[b] / mean) for b in rows}
        main_mean = sum(w for (b, c), w in edges.items() if c == main and b in rowset) / len(rows)
        for w, b in cand if main == s else ():
            if b not in accounts and w >= self.extend * main_mean:
                accounts[b] = min(self.member_cap, score * w / main_mean)
        others = {c: score * min(1.0, col_mass[c] / col_mass[main]) for c in cols if c != main
                  and col_mass[c] >= 0.25 * col_mass[main]}
        culprits = [main, *others]
        orders = sum(self._bs[b][c][0] for b in rows for c in culprits if c in self._bs[b])
        order_ids = [o for c in culprits for b, o in self._recent.get(c, ()) if b in rowset]
        evidence: dict[str, Any] = {
            "order_ids": bounded(order_ids),
            "block_buyers": len(rows),
            "block_sellers": len(cols),  # as peeled; culprits are those in "sellers"
            "block_orders": orders,
            "density": round(density, 4),
            "typical_density": round(self._typical, 4),
            "density_ratio": round(ratio, 3),
            "sellers": bounded(culprits),
        }
        ts = max(self._bs[b][c][2] for b in rows for c in cols if c in self._bs[b])
        where = "this seller" if not others else f"this seller and {len(others)} other(s)"
        summary = (f"{len(rows)} buyers form a block of {orders} orders with {where}, "
                   f"{ratio:.1f} times denser than the graph's typical block.")
        return Finding(detector=self.name, seller_id=main, score=score, ts=ts, summary=summary,
                       accounts=accounts, sellers=others, evidence=evidence,
                       reasons=("dense_block",))

    def state_size(self) -> int:
        return len(self._queue) + len(self._recent) + len(self._last)
