"""In-memory feature store: the same primitives and semantics as the Redis Lua script.

Used by `credence replay` and by the detection stage (stage B). There is no wall clock in a
replay, so retention is by event time: `evict` forgets dedupe keys older than the retention.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

from credence.contract import DAY_MS
from credence.features import EventOps, SlotAdd, TotalAdd, ZTouch
from credence.store.base import DUPLICATE, NEW, REDELIVERED, FeatureStore, Outcome

__all__ = ["MemoryStore"]

class MemoryStore(FeatureStore):
    def __init__(self, dedupe_days: int = 14):
        self.counters: dict[str, list[int]] = {}
        self.zsets: dict[str, dict[str, int]] = {}
        self._zlo: dict[str, int] = {}  # newest score − horizon: members below it are evicted
        # per set, a min-heap of (score, member) with stale entries skipped on pop: eviction in
        # amortised O(log n), so a set always holds exactly its visible members
        self._zheap: dict[str, list[tuple[int, str]]] = {}
        self.dedupe: dict[str, str] = {}  # dedupe key → source of its first delivery
        self._dedupe_by_day: dict[int, list[str]] = {}
        self.dedupe_days = dedupe_days
        self.expired = 0

    # ------------------------------------------------------------------ writing

    def apply(self, batch: Sequence[EventOps]) -> list[Outcome]:
        out: list[Outcome] = []
        dedupe = self.dedupe
        for ev in batch:
            seen = dedupe.get(ev.dedupe_key)
            if seen is not None:
                out.append(REDELIVERED if seen == ev.source else DUPLICATE)
                continue
            dedupe[ev.dedupe_key] = ev.source
            self._dedupe_by_day.setdefault(ev.ts // DAY_MS, []).append(ev.dedupe_key)
            for op in ev.ops:
                self._op(op)
            out.append(NEW)
        return out

    def evict(self, now_ms: int) -> int:
        """Forget dedupe keys of events older than the retention (by event time)."""
        cutoff = now_ms // DAY_MS - self.dedupe_days
        n = 0
        for day in [d for d in self._dedupe_by_day if d < cutoff]:
            for k in self._dedupe_by_day.pop(day):
                self.dedupe.pop(k, None)
                n += 1
        return n

    def _op(self, op: SlotAdd | TotalAdd | ZTouch) -> None:
        cls = op.__class__
        if cls is SlotAdd:
            key = f"{op.key}:{op.epoch % op.slots}"  # type: ignore[union-attr]
            row = self.counters.get(key)
            if row is None or row[0] < op.epoch:  # type: ignore[union-attr]
                row = self.counters[key] = [op.epoch]  # type: ignore[union-attr]
            elif row[0] > op.epoch:  # type: ignore[union-attr]
                self.expired += 1
                return
            self._add(row, op.fields)  # type: ignore[union-attr]
        elif cls is TotalAdd:
            row = self.counters.get(op.key)
            if row is None:
                row = self.counters[op.key] = [0]
            self._add(row, op.fields)  # type: ignore[union-attr]
        else:
            self._ztouch(op)  # type: ignore[arg-type]

    @staticmethod
    def _add(row: list[int], fields: tuple[tuple[int, int], ...]) -> None:
        for i, v in fields:
            if i >= len(row):
                row.extend([0] * (i + 1 - len(row)))
            row[i] += v

    def _ztouch(self, op: ZTouch) -> None:
        key = op.key
        z = self.zsets.get(key)
        if z is None:
            z = self.zsets[key] = {}
            self._zheap[key] = []
        heap = self._zheap[key]
        lo = op.score - op.horizon_ms
        prev_lo = self._zlo.get(key)
        if prev_lo is not None and prev_lo > lo:
            lo = prev_lo
        self._zlo[key] = lo
        prev = z.get(op.member)
        if op.score >= lo and (prev is None or op.score > prev):
            z[op.member] = op.score
            heapq.heappush(heap, (op.score, op.member))
        while heap and (heap[0][0] < lo or len(z) > op.cap):
            score, member = heapq.heappop(heap)
            if z.get(member) == score:
                del z[member]
        if len(heap) > 2 * len(z) + 64:
            self._zheap[key] = heap = sorted((s, m) for m, s in z.items())
        if op.then and prev is not None and prev >= op.score - op.horizon_ms:
            for t in op.then:
                self._op(t)

    # ------------------------------------------------------------------ reading

    def counters_many(self, keys: Sequence[str], width: int) -> np.ndarray:
        out = np.zeros((len(keys), width), dtype=np.int64)
        for i, k in enumerate(keys):
            row = self.counters.get(k)
            if row is not None:
                out[i, :len(row)] = row
        return out

    def zlive(self, key: str) -> dict[str, int]:
        """The visible members: those not older than the set's newest score − horizon."""
        return self.zsets.get(key) or {}

    def zcount_since(self, key: str, lo: int) -> int:
        z = self.zsets.get(key)
        if not z:
            return 0
        if lo <= self._zlo[key]:
            return len(z)
        return sum(1 for s in z.values() if s >= lo)

    def zmembers_since(self, key: str, lo: int) -> list[str]:
        z = self.zsets.get(key)
        if not z:
            return []
        return sorted(m for m, s in z.items() if s >= lo)

    def dump(self) -> dict[str, object]:
        """Canonical state (for comparing backends): counters and visible sorted sets."""
        out: dict[str, object] = {}
        for k, row in self.counters.items():
            out[k] = tuple(int(x) for x in np.trim_zeros(np.array(row, dtype=np.int64), "b"))
        for k in self.zsets:
            live = self.zlive(k)
            if live:
                out[k] = dict(sorted(live.items()))
        return dict(sorted(out.items()))
