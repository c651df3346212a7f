"""Event-time ticks and watermarks: the part that makes streaming and replay agree.

Events are grouped into ticks of ``tick_ms`` of event time. A tick is released when the watermark
passes its end, with its events sorted by `sort_key`, so the same set of events gives the same
sequence however Kafka interleaved the partitions. An event whose tick was already released is
*late*: it joins the earliest open tick (its own ``ts`` is kept, so features still land in its own
time bucket).

The watermark is the caller's: `credence replay` uses the largest ``ts`` seen − lateness; the
streaming detection stage uses the minimum over input partitions (`PartitionClock`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from credence.contract import Event

__all__ = ["Sequencer", "Tick", "sort_key", "PartitionClock", "TYPE_RANK"]

TYPE_RANK = {"order": 0, "refund": 1, "review": 2, "record": 3, "decision": 4, "policy": 5}


def sort_key(event: Event, seq: int) -> tuple[int, int, str, int]:
    """Order within a tick. ``seq`` (offset or line number) only breaks ties between events of the
    same type, time and key, which share a partition and so keep their relative order anyway."""
    return (event.ts, TYPE_RANK[event.type], event.key, seq)


@dataclass
class Tick:
    end: int  # exclusive end, event-time ms
    events: list[tuple[Event, Any]]  # (event, payload of the caller: e.g. its source)


@dataclass
class Sequencer:
    tick_ms: int
    lateness_ms: int
    pending: dict[int, list[tuple[tuple[int, int, str, int], Event, Any]]] = field(
        default_factory=dict)
    closed_through: int | None = None  # index of the last released tick
    max_ts: int | None = None
    late: int = 0

    def push(self, event: Event, seq: int, payload: Any = None) -> bool:
        """Buffer an event; return True if it is late."""
        t = event.ts // self.tick_ms
        late = self.closed_through is not None and t <= self.closed_through
        if late:
            t = self.closed_through + 1  # type: ignore[operator]
            self.late += 1
        self.pending.setdefault(t, []).append((sort_key(event, seq), event, payload))
        if self.max_ts is None or event.ts > self.max_ts:
            self.max_ts = event.ts
        return late

    def own_watermark(self) -> int | None:
        """The watermark of a single ordered stream: largest ts − lateness."""
        return None if self.max_ts is None else self.max_ts - self.lateness_ms

    def release(self, watermark: int | None) -> Iterator[Tick]:
        """Release, in order, every pending tick that ends at or before ``watermark``."""
        if watermark is None:
            return
        for t in sorted(k for k in self.pending if (k + 1) * self.tick_ms <= watermark):
            yield self._close(t)

    def flush(self) -> Iterator[Tick]:
        """Release every pending tick (end of input, or all inputs idle)."""
        for t in sorted(self.pending):
            yield self._close(t)

    def _close(self, t: int) -> Tick:
        items = self.pending.pop(t)
        items.sort(key=lambda x: x[0])
        if self.closed_through is None or t > self.closed_through:
            self.closed_through = t
        return Tick((t + 1) * self.tick_ms, [(e, p) for _, e, p in items])

    def __len__(self) -> int:
        return sum(len(v) for v in self.pending.values())


@dataclass
class PartitionClock:
    """The streaming watermark: min over input partitions of (largest ts − lateness).

    A partition that is caught up (its last forwarded offset reached the high watermark) and has
    been idle for ``idle_ms`` of wall time stops holding the watermark back (bounded
    out-of-orderness with idleness). `all_idle` tells the caller it may flush.
    """

    lateness_ms: int
    idle_ms: int
    expected: set[str] = field(default_factory=set)  # "topic/partition" of every input partition
    max_ts: dict[str, int] = field(default_factory=dict)
    caught_up_since: dict[str, float] = field(default_factory=dict)  # wall seconds

    def observe(self, tp: str, max_ts: int | None, caught_up: bool, wall: float) -> None:
        if max_ts is not None and max_ts > self.max_ts.get(tp, -1):
            self.max_ts[tp] = max_ts
        if caught_up:
            self.caught_up_since.setdefault(tp, wall)
        else:
            self.caught_up_since.pop(tp, None)

    def _idle(self, tp: str, wall: float) -> bool:
        since = self.caught_up_since.get(tp)
        return since is not None and (wall - since) * 1000 >= self.idle_ms

    def watermark(self, wall: float) -> int | None:
        marks = []
        for tp in sorted(self.expected | set(self.max_ts)):
            if self._idle(tp, wall):
                continue
            ts = self.max_ts.get(tp)
            if ts is None:
                return None  # a partition not heard from yet holds everything back
            marks.append(ts - self.lateness_ms)
        return min(marks) if marks else None

    def all_idle(self, wall: float) -> bool:
        tps = self.expected | set(self.max_ts)
        return bool(tps) and all(self._idle(tp, wall) for tp in tps)
