"""Circular trading: sellers buying from each other round a cycle, the same sum passed along.

Method. Victor and Weintraud ("Detecting and Quantifying Wash Trading on Decentralized
Cryptocurrency Exchanges", WWW 2021) find wash trading as *closed* trading structures: sets of
accounts that trade among themselves (cycles, strongly connected components of the trade graph)
such that every member ends a short time window with about the position it started with — the
volume that left each account came back ("volume matching"). They search candidate structures in
the trade graph of each token per window, then keep those whose members' net positions match.

Adaptation to a marketplace stream. An order whose ``buyer_id`` is a seller (an id seen as
``seller_id`` in any event; the two share one namespace) is a seller→seller money edge
buyer → seller. The graph of sellers trading with sellers is small, so it is kept in full over a
sliding ``window_days`` and searched *incrementally*: when a new edge u→v arrives, a depth-first
search looks for paths v → … → u of at most ``max_len − 1`` edges (cycles of 2..``max_len``
sellers), following at each node only the ``max_fanout`` neighbours whose best edge amount
matches the new edge's (at least ``match_min``), and at most ``max_expand`` nodes per edge.
Volume matching on a cycle becomes: on each hop pick the edge whose amount is closest to the
new edge's; the cycle's match is min/max of those amounts (1 when the same sum goes round).

A cycle *closure* scores ``base · m · c`` with ``m`` the match rescaled from ``match_min`` (0) to
``match_full`` (1), ``c`` the time compactness (1 when the chosen edges span at most
``compact_hours``, decaying beyond), ``base`` much lower for 2-cycles: reciprocal trade is the
norm in some markets (on Bitcoin-Alpha, as in OTC trading generally, most partners trade both
ways), so only repeated, tightly matched rounds of a pair report. Volume matching is tight, as
in the paper (positions must net out): the match term is 0 below ``match_min`` (amounts more
than 20% apart) and 1 from ``match_full``. Repetition: closures of the same cycle (same sellers,
same direction) within ``memory_days`` that share no order are independent rounds, combined by
a noisy-OR, so a ring that goes round twice reaches blacklisting.

Before a ring closes, its money is visible as a *relay*: a seller receives a sum from a seller
and, within ``relay_hours``, pays the same sum (within ``relay_match``) to another seller. A relay
of ``relay_hops`` or more hops is reported with a low score (``relay_base``, + ``relay_step`` per
extra hop), below blacklisting on its own; only the closed cycle is strong evidence. (Two-hop
relays are not reported: among many sellers trading the same day, two amounts within 3% are
common by chance.) A one-directional purchase between sellers (honest B2B) forms neither.

Every seller on a cycle (or relay) is a culprit: findings, one per member seller, name the
others in ``sellers`` and all members in ``accounts`` (they acted as buyers).

Per event O(1) amortised (append an edge, or park an order whose buyer is not yet known as a
seller for ``pending_hours`` in case it turns out to be one). Per evaluate: the bounded search
for each new seller→seller edge, at most ``max_expand`` node visits each. State: the
seller→seller edges of ``window_days``, parked orders of ``pending_hours`` (at most
``pending_cap``), known seller ids of ``seller_days``, cycle closures of ``memory_days``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import ClassVar

from credence.contract import Event, EventType, Order
from detectors.base import Detector, Finding, bounded

__all__ = ["CircularTrading"]

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

Edge = tuple[int, float, str]  # (ts, amount, order id)


def _match(a: float, b: float) -> float:
    return min(a, b) / max(a, b)


@dataclass
class _Closure:
    ts: int
    score: float
    orders: frozenset[str]
    amounts: tuple[float, ...]
    match: float
    span_ms: int


@dataclass
class _Cycle:
    closures: deque[_Closure] = field(default_factory=deque)


@dataclass
class _Hit:
    """The best structure found for one seller in one evaluation."""

    score: float
    kind: str  # "cycle" or "relay"
    members: tuple[str, ...]
    closures: list[_Closure]
    ts: int


class CircularTrading(Detector):
    """Cycles of sellers buying from each other with matched amounts, found incrementally."""

    name: ClassVar[str] = "circular_trading"
    observes: ClassVar[frozenset[EventType]] = frozenset({"order", "refund", "review", "record"})

    def __init__(self, *, window_days: float = 7.0, max_len: int = 5, max_fanout: int = 16,
                 max_expand: int = 2000, max_cycles: int = 16, match_min: float = 0.8,
                 match_full: float = 0.97, compact_hours: float = 24.0, base: float = 0.7,
                 base_two: float = 0.3, memory_days: float = 14.0, max_closures: int = 32,
                 relay_hours: float = 6.0, relay_match: float = 0.97, relay_hops: int = 3,
                 relay_base: float = 0.42, relay_step: float = 0.05, closed_full: float = 0.5,
                 pending_hours: float = 24.0,
                 pending_cap: int = 100_000, seller_days: float = 30.0,
                 emit_min: float = 0.4) -> None:
        """
        window_days: how long a seller→seller edge stays in the graph (7).
        max_len: longest cycle searched, in sellers (5).
        max_fanout: neighbours followed per node, best amount match first (16).
        max_expand: node visits per new edge, a hard bound on the search (2,000).
        max_cycles: cycles kept per new edge (16).
        match_min: edges matching the new amount less than this are not followed, and a
            closure's match term starts here (0.8) ...
        match_full: ... and saturates here (0.97).
        compact_hours: a closure spanning at most this long is fully compact (24).
        base: score of one perfect, compact closure of 3+ sellers (0.7).
        base_two: the same for a 2-cycle (0.3: reciprocal trade is common and innocent, so one
            round stays below alerting and only repeated, matched rounds report).
        memory_days: how long closures count as repetitions (14).
        max_closures: closures remembered per cycle (32).
        relay_hours: a relayed sum is paid on within this long (6).
        relay_match: the least min/max amount ratio along a relay (0.97).
        relay_hops: the fewest hops of a reported relay (3) ...
        relay_base: ... and its score (0.42) ...
        relay_step: ... plus this per extra hop (0.05).
        closed_full: the share of the members' seller-to-seller volume that must stay among
            them for full credit; less scales a closure or relay down in proportion (0.5).
        pending_hours: an order whose buyer is not (yet) a known seller is parked this long (24).
        pending_cap: most parked orders (100,000; the oldest go first).
        seller_days: a seller id is remembered this long after its last event (30).
        emit_min: findings below this score are not returned (0.4).
        """
        self.window_days = window_days
        self.max_len = max_len
        self.max_fanout = max_fanout
        self.max_expand = max_expand
        self.max_cycles = max_cycles
        self.match_min = match_min
        self.match_full = match_full
        self.compact_hours = compact_hours
        self.base = base
        self.base_two = base_two
        self.memory_days = memory_days
        self.max_closures = max_closures
        self.relay_hours = relay_hours
        self.relay_match = relay_match
        self.relay_hops = relay_hops
        self.relay_base = relay_base
        self.relay_step = relay_step
        self.closed_full = closed_full
        self.pending_hours = pending_hours
        self.pending_cap = pending_cap
        self.seller_days = seller_days
        self.emit_min = emit_min
        self._sellers: dict[str, int] = {}  # seller id → last event time
        self._out: dict[str, dict[str, deque[Edge]]] = {}
        self._in: dict[str, dict[str, deque[Edge]]] = {}  # the same deques, by target
        self._edges: deque[tuple[int, str, str]] = deque()  # arrival order, for expiry
        # seller → fen of seller-to-seller trade (in and out) in the window; integer fen keep
        # it exact under add-then-expire
        self._vol: dict[str, int] = {}
        self._new: list[tuple[int, str, str, float, str]] = []
        self._pending: dict[str, deque[tuple[int, str, float, str]]] = {}
        self._pending_order: deque[tuple[int, str]] = deque()
        self._pending_n = 0
        self._cycles: dict[tuple[str, ...], _Cycle] = {}
        self._reported: dict[str, tuple[float, int]] = {}  # seller → (score, ts)
        self._next_sweep = 0

    # ------------------------------------------------------------------ observe

    def observe(self, event: Event) -> None:
        sid = event.seller_id
        first = sid not in self._sellers
        if first or event.ts > self._sellers[sid]:
            self._sellers[sid] = event.ts
        if first and sid in self._pending:
            # The buyer of these parked orders has turned out to be a seller.
            for ts, seller, amount, oid in self._pending.pop(sid):
                self._pending_n -= 1
                self._add_edge(sid, seller, ts, amount, oid)
        if not isinstance(event, Order) or event.buyer_id == sid:
            return
        buyer = event.buyer_id
        if buyer in self._sellers:
            self._add_edge(buyer, sid, event.ts, event.amount, event.order_id)
        else:
            self._pending.setdefault(buyer, deque()).append(
                (event.ts, sid, event.amount, event.order_id))
            self._pending_order.append((event.ts, buyer))
            self._pending_n += 1
            if self._pending_n > self.pending_cap:
                self._drop_pending(self._pending_order.popleft()[1])

    def _drop_pending(self, buyer: str) -> None:
        q = self._pending.get(buyer)
        if q:
            q.popleft()
            self._pending_n -= 1
            if not q:
                del self._pending[buyer]

    def _add_edge(self, u: str, v: str, ts: int, amount: float, oid: str) -> None:
        q = self._out.setdefault(u, {}).get(v)
        if q is None:
            q = self._out[u][v] = deque()
            self._in.setdefault(v, {})[u] = q
        q.append((ts, amount, oid))
        fen = round(amount * 100)
        self._vol[u] = self._vol.get(u, 0) + fen
        self._vol[v] = self._vol.get(v, 0) + fen
        self._edges.append((ts, u, v))
        self._new.append((ts, u, v, amount, oid))

    # ------------------------------------------------------------------ expiry

    def _expire(self, now: int) -> None:
        lo = now - int(self.window_days * DAY_MS)
        while self._edges and self._edges[0][0] <= lo:
            _, u, v = self._edges.popleft()
            q = self._out.get(u, {}).get(v)
            if q:
                fen = round(q.popleft()[1] * 100)
                for x in (u, v):
                    left = self._vol[x] - fen
                    if left > 0:
                        self._vol[x] = left
                    else:
                        del self._vol[x]
                if not q:
                    del self._out[u][v]
                    del self._in[v][u]
                    if not self._out[u]:
                        del self._out[u]
                    if not self._in[v]:
                        del self._in[v]
        plo = now - int(self.pending_hours * HOUR_MS)
        while self._pending_order and self._pending_order[0][0] <= plo:
            _, buyer = self._pending_order.popleft()
            q = self._pending.get(buyer)
            # Parked orders of a buyer that became a seller were promoted already.
            if q and q[0][0] <= plo:
                self._drop_pending(buyer)

    def _sweep(self, now: int) -> None:
        lo = now - int(self.seller_days * DAY_MS)
        for sid in [s for s, ts in self._sellers.items() if ts <= lo]:
            if sid not in self._out and sid not in self._in:
                del self._sellers[sid]
        mlo = now - int(self.memory_days * DAY_MS)
        for key in list(self._cycles):
            cl = self._cycles[key].closures
            while cl and cl[0].ts <= mlo:
                cl.popleft()
            if not cl:
                del self._cycles[key]
        for sid in [s for s, (_, ts) in self._reported.items() if ts <= mlo]:
            del self._reported[sid]

    # ------------------------------------------------------------------ search

    def _best_edge(self, q: deque[Edge], amount: float) -> tuple[float, Edge]:
        best: tuple[float, Edge] | None = None
        for e in q:
            m = _match(amount, e[1])
            # ties: the most recent edge (the same round, most likely)
            if best is None or m > best[0] or (m == best[0] and e[0] > best[1][0]):
                best = (m, e)
        return best  # type: ignore[return-value]

    def _cycles_from(self, u: str, v: str, edge: Edge) -> list[tuple[tuple[str, ...],
                                                                     list[Edge]]]:
        """Paths v → … → u closing the new edge u→v: (sellers from u, chosen edges)."""
        found: list[tuple[tuple[str, ...], list[Edge]]] = []
        budget = [self.max_expand]
        amount = edge[1]

        def dfs(node: str, path: list[str], chosen: list[Edge]) -> None:
            if budget[0] <= 0 or len(found) >= self.max_cycles:
                return
            budget[0] -= 1
            nbrs = []
            for y, q in self._out.get(node, {}).items():
                if y != u and (y in path or len(path) >= self.max_len):
                    continue
                m, e = self._best_edge(q, amount)
                if m >= self.match_min:
                    nbrs.append((-m, y, e))
            nbrs.sort()
            for _, y, e in nbrs[:self.max_fanout]:
                if y == u:
                    found.append((tuple(path), [*chosen, e]))
                    if len(found) >= self.max_cycles:
                        return
                else:
                    path.append(y)
                    chosen.append(e)
                    dfs(y, path, chosen)
                    path.pop()
                    chosen.pop()

        dfs(v, [u, v], [edge])
        return found

    def _relay_from(self, u: str, v: str, edge: Edge) -> tuple[tuple[str, ...], list[Edge]]:
        """The longest relay … → x → u → v ending with the new edge (sellers, edges)."""
        best: tuple[tuple[str, ...], list[Edge]] = ((u, v), [edge])
        budget = [self.max_expand]
        window = int(self.relay_hours * HOUR_MS)

        def dfs(node: str, t_next: int, path: list[str], chosen: list[Edge]) -> None:
            nonlocal best
            if budget[0] <= 0:
                return
            budget[0] -= 1
            if len(path) > len(best[0]):
                best = (tuple(reversed(path)), list(reversed(chosen)))
            if len(path) >= self.max_len:
                return
            nbrs = []
            for x, q in self._in.get(node, {}).items():
                if x in path:
                    continue
                for e in q:
                    if 0 <= t_next - e[0] <= window and _match(edge[1], e[1]) >= self.relay_match:
                        nbrs.append((-_match(edge[1], e[1]), x, e))
                        break
            nbrs.sort()
            for _, x, e in nbrs[:self.max_fanout]:
                path.append(x)
                chosen.append(e)
                dfs(x, e[0], path, chosen)
                path.pop()
                chosen.pop()

        dfs(u, edge[0], [v, u], [edge])
        return best

    def _closure_score(self, members: tuple[str, ...], edges: list[Edge]
                       ) -> tuple[float, float, int]:
        amounts = [e[1] for e in edges]
        times = [e[0] for e in edges]
        share, balance = self._closedness(members, min(times), max(times))
        match = min(min(amounts) / max(amounts), balance)
        span = max(times) - min(times)
        m = min(1.0, max(0.0, (match - self.match_min) / (self.match_full - self.match_min)))
        compact = self.compact_hours * HOUR_MS
        c = 1.0 if span <= compact else math.exp(-(span - compact) / compact)
        x = min(1.0, share / self.closed_full)
        base = self.base_two if len(members) == 2 else self.base
        return base * m * c * x, match, span

    def _closedness(self, members: tuple[str, ...], lo: int, hi: int) -> tuple[float, float]:
        """(share, balance): the share of the members' seller-to-seller volume in the window
        that stays among them, and, over the trades among them between ``lo`` and ``hi`` (the
        closure's own span, so that earlier rounds half out of the window do not count), the
        worst member's ratio of what it received to what it paid (the paper's netting out)."""
        got = dict.fromkeys(members, 0)
        paid = dict.fromkeys(members, 0)
        inside = 0
        for u in members:
            out = self._out.get(u, {})
            for v in members:
                q = out.get(v)
                if q is None:
                    continue
                for ts, amount, _ in q:
                    fen = round(amount * 100)
                    inside += fen
                    if lo <= ts <= hi:
                        paid[u] += fen
                        got[v] += fen
        total = sum(self._vol.get(m, 0) for m in members)
        share = min(1.0, 2 * inside / total) if total else 0.0
        balance = min((min(got[m], paid[m]) / max(got[m], paid[m]) if max(got[m], paid[m])
                       else 0.0) for m in members)
        return share, balance

    @staticmethod
    def _canonical(members: tuple[str, ...]) -> tuple[str, ...]:
        i = members.index(min(members))
        return members[i:] + members[:i]

    def _combined(self, cyc: _Cycle) -> tuple[float, list[_Closure]]:
        """Noisy-OR over closures that share no order: independent rounds of the ring."""
        used: set[str] = set()
        picked: list[_Closure] = []
        for c in sorted(cyc.closures, key=lambda c: (-c.score, c.ts)):
            if c.orders & used:
                continue
            used |= c.orders
            picked.append(c)
        doubt = 1.0
        for c in picked:
            doubt *= 1.0 - c.score
        return min(1.0 - doubt, 0.98), picked

    # ------------------------------------------------------------------ evaluate

    def evaluate(self, now: int) -> list[Finding]:
        self._expire(now)
        if now >= self._next_sweep:
            self._sweep(now)
            self._next_sweep = now + DAY_MS
        new, self._new = self._new, []
        lo = now - int(self.window_days * DAY_MS)
        hits: dict[str, _Hit] = {}
        for ts, u, v, amount, oid in new:
            if ts <= lo:
                continue
            edge = (ts, amount, oid)
            for members, edges in self._cycles_from(u, v, edge):
                s1, match, span = self._closure_score(members, edges)
                if s1 <= 0:
                    continue
                key = self._canonical(members)
                cyc = self._cycles.setdefault(key, _Cycle())
                orders = frozenset(e[2] for e in edges)
                if any(c.orders == orders for c in cyc.closures):
                    continue
                cyc.closures.append(_Closure(ts, s1, orders, tuple(e[1] for e in edges),
                                             match, span))
                while len(cyc.closures) > self.max_closures:
                    cyc.closures.popleft()
                score, picked = self._combined(cyc)
                for s in key:
                    h = hits.get(s)
                    if h is None or score > h.score:
                        hits[s] = _Hit(score, "cycle", key, picked, ts)
            members, edges = self._relay_from(u, v, edge)
            if len(edges) >= self.relay_hops:
                share, _ = self._closedness(members, 0, -1)
                score = min(self.relay_base + self.relay_step * (len(edges) - self.relay_hops),
                            0.7) * min(1.0, share / self.closed_full)
                match = min(e[1] for e in edges) / max(e[1] for e in edges)
                span = max(e[0] for e in edges) - min(e[0] for e in edges)
                closure = _Closure(ts, score, frozenset(e[2] for e in edges),
                                   tuple(e[1] for e in edges), match, span)
                for s in members:
                    h = hits.get(s)
                    if h is None or score > h.score:
                        hits[s] = _Hit(score, "relay", members, [closure], ts)
        out = []
        for sid in sorted(hits):
            h = hits[sid]
            prev = self._reported.get(sid)
            if h.score < self.emit_min or (prev is not None and h.score <= prev[0] + 0.01):
                continue
            self._reported[sid] = (h.score, h.ts)
            out.append(self._finding(sid, h))
        return out

    def _finding(self, sid: str, h: _Hit) -> Finding:
        others = {s: h.score for s in h.members if s != sid}
        everyone = {s: h.score for s in h.members}
        best = max(h.closures, key=lambda c: (c.score, c.ts))
        orders = [o for c in h.closures for o in sorted(c.orders)]
        ev = {"order_ids": bounded(orders), "sellers": list(h.members),
              "amounts": [round(a, 2) for a in best.amounts],
              "match": round(best.match, 4), "span_hours": round(best.span_ms / HOUR_MS, 2)}
        ring = " -> ".join((*h.members, h.members[0])) if h.kind == "cycle" else \
            " -> ".join(h.members)
        if h.kind == "cycle":
            ev["rounds"] = len(h.closures)
            reasons: tuple[str, ...] = ("circular_trade", "matched_volume")
            if len(h.closures) > 1:
                reasons += ("repeated",)
            summary = (f"Seller {sid} is in a trading cycle {ring} where about "
                       f"{min(best.amounts):,.0f} CNY went round {len(h.closures)} time(s) "
                       f"(amounts within {100 * (1 - best.match):.1f}%, "
                       f"{best.span_ms / HOUR_MS:.1f} h).")
        else:
            reasons = ("relay_chain", "matched_volume")
            summary = (f"Seller {sid} is in a chain of sellers {ring} passing on about "
                       f"{min(best.amounts):,.0f} CNY within "
                       f"{best.span_ms / HOUR_MS:.1f} h.")
        return Finding(detector=self.name, seller_id=sid, score=h.score, ts=h.ts,
                       summary=summary, accounts=everyone, sellers=others, evidence=ev,
                       reasons=reasons)

    def state_size(self) -> int:
        return (len(self._edges) + self._pending_n + len(self._sellers)
                + sum(len(c.closures) for c in self._cycles.values()))
