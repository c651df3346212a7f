"""The ledger: every event of a simulation, collected in any order, written time-ordered.

Generators add events with internal references (an int per event) and refer to an earlier order
by its reference; public ids (``order_id``, ``review_id``, ``record_id``) and tracking numbers are
assigned only when the ledger is finalized, in time order, so ids are sequential like a
platform's and never reveal which generator made an event.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import orjson
from numpy.random import Generator

from credence.contract import iso

__all__ = ["Ledger", "Finalized", "IdFormats", "Kind", "synthetic_ids"]

Kind = Literal["order", "refund", "review", "record"]
IdFormats = dict[Literal["order", "review", "record"], Callable[[int], str]]

_ID_FIELD: dict[str, str] = {"order": "order_id", "review": "review_id", "record": "record_id"}
_CARRIERS = ("SF", "YT", "ZTO", "STO", "YD", "JD", "EMS", "JT")


def synthetic_ids() -> IdFormats:
    return {"order": lambda n: f"o{n:09d}", "review": lambda n: f"r{n:09d}",
            "record": lambda n: f"x{n:08d}"}


@dataclass
class Finalized:
    """The ledger's events in time order: JSON lines with what Kafka needs to route them."""

    lines: list[bytes] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)
    ids: dict[int, str] = field(default_factory=dict)  # reference -> public id


class Ledger:
    """Events inside ``[lo_ms, hi_ms)``; an event outside is dropped and its reference is None."""

    def __init__(self, lo_ms: int, hi_ms: int) -> None:
        self.lo_ms, self.hi_ms = lo_ms, hi_ms
        self._ts: list[int] = []
        self._ev: list[dict[str, Any]] = []
        self.order_refs: list[int] = []

    def __len__(self) -> int:
        return len(self._ev)

    def ts_of(self, ref: int) -> int:
        return self._ts[ref]

    def event(self, ref: int) -> dict[str, Any]:
        return self._ev[ref]

    def _add(self, ts: int, ev: dict[str, Any]) -> int | None:
        if not self.lo_ms <= ts < self.hi_ms:
            return None
        self._ts.append(int(ts))
        self._ev.append(ev)
        return len(self._ev) - 1

    def order(self, ts: int, seller: str, buyer: str, amount: float, *, item: str | None = None,
              quantity: int = 1, device: str | None = None, ip: str | None = None,
              payment: str | None = None, address: str | None = None, shipped: bool = True,
              registered: int | None = None, order_id: str | None = None) -> int | None:
        ev: dict[str, Any] = {"type": "order", "order_id": order_id, "ts": None,
                              "seller_id": seller, "buyer_id": buyer,
                              "amount": max(0.01, round(float(amount), 2))}
        if item is not None:
            ev["item_id"] = item
        if quantity != 1:
            ev["quantity"] = int(quantity)
        for k, v in (("device_id", device), ("ip", ip), ("payment_id", payment),
                     ("address_id", address)):
            if v is not None:
                ev[k] = v
        # Always present: null says "nothing shipped" explicitly.
        ev["tracking_no"] = True if shipped else None
        if registered is not None:
            ev["buyer_registered"] = int(registered)
        ref = self._add(ts, ev)
        if ref is not None:
            self.order_refs.append(ref)
        return ref

    def refund(self, ts: int, order_ref: int, amount: float, reason: str | None = None
               ) -> int | None:
        o = self._ev[order_ref]
        ev: dict[str, Any] = {"type": "refund", "order_id": order_ref, "ts": None,
                              "seller_id": o["seller_id"],
                              "amount": max(0.01, round(float(amount), 2))}
        if reason is not None:
            ev["reason"] = reason
        return self._add(ts, ev)

    def review(self, ts: int, seller: str, reviewer: str, rating: int, *,
               order_ref: int | None = None, item: str | None = None, text: str | None = None,
               registered: int | None = None, review_id: str | None = None,
               order_id: str | None = None) -> int | None:
        ev: dict[str, Any] = {"type": "review", "review_id": review_id, "ts": None,
                              "seller_id": seller, "reviewer_id": reviewer, "rating": int(rating)}
        if order_ref is not None or order_id is not None:
            ev["order_id"] = order_ref if order_id is None else order_id
        if item is not None:
            ev["item_id"] = item
        if text is not None:
            ev["text"] = text
        if registered is not None:
            ev["reviewer_registered"] = int(registered)
        return self._add(ts, ev)

    def record(self, ts: int, seller: str, source: str, kind: str, *,
               amount: float | None = None, details: dict[str, Any] | None = None,
               record_id: str | None = None) -> int | None:
        ev: dict[str, Any] = {"type": "record", "record_id": record_id, "ts": None,
                              "seller_id": seller, "source": source, "kind": kind}
        if amount is not None:
            ev["amount"] = round(float(amount), 2)
        if details is not None:
            ev["details"] = details
        return self._add(ts, ev)

    def orders(self) -> Iterator[tuple[int, int, str, float]]:
        """(reference, ts, seller, amount) of every order, in insertion order."""
        for ref in self.order_refs:
            ev = self._ev[ref]
            yield ref, self._ts[ref], ev["seller_id"], ev["amount"]

    def finalize(self, rng: Generator, ids: IdFormats, *, first: int = 1,
                 strip: frozenset[str] = frozenset()) -> Finalized:
        """Sort by time (stable), assign ids and tracking numbers, encode. Call once: afterwards
        `event` gives only an event's type. Optional fields named in ``strip`` are left out of
        every event (a platform that does not send device ids sends them for nobody)."""
        order = np.argsort(np.asarray(self._ts, dtype=np.int64), kind="stable").tolist()
        counters = {k: first for k in _ID_FIELD}
        out = Finalized()
        for ref in order:
            ev = self._ev[ref]
            t = ev["type"]
            if t in _ID_FIELD:
                f = _ID_FIELD[t]
                if ev[f] is None:
                    ev[f] = ids[t](counters[t])  # type: ignore[index]
                    counters[t] += 1
                out.ids[ref] = ev[f]
        shipped = [ref for ref in order if self._ev[ref].get("tracking_no") is True]
        numbers = rng.integers(10**11, 10**12, size=len(shipped)).tolist()
        for ref, num in zip(shipped, numbers, strict=True):
            ev = self._ev[ref]
            carrier = _CARRIERS[zlib.crc32(ev["seller_id"].encode()) % len(_CARRIERS)]
            ev["tracking_no"] = f"{carrier}{num}"
        dumps = orjson.dumps
        fmt = _IsoFormatter()
        lines, types, keys, tss = out.lines, out.types, out.keys, out.ts
        for ref in order:
            ev = self._ev[ref]
            ts = self._ts[ref]
            ev["ts"] = fmt(ts)
            t = ev["type"]
            for k in strip:
                ev.pop(k, None)
            if t == "order":
                if "buyer_registered" in ev:
                    ev["buyer_registered"] = fmt(ev["buyer_registered"])
            else:
                oid = ev.get("order_id")
                if isinstance(oid, int):
                    ev["order_id"] = out.ids[oid]
                if "reviewer_registered" in ev:
                    ev["reviewer_registered"] = fmt(ev["reviewer_registered"])
            # orjson's result keeps its ~4 KiB working buffer: an exact copy is 10x smaller.
            lines.append(bytes(memoryview(dumps(ev))))
            types.append(t)
            keys.append(ev["seller_id"])
            tss.append(ts)
            # The line holds the event now; keeping only the type saves most of the memory.
            self._ev[ref] = {"type": t}
        return out


class _IsoFormatter:
    """`credence.contract.iso`, memoised per day: formatting dates dominates the finalize time."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def __call__(self, ms: int) -> str:
        day, rest = divmod(ms, 86_400_000)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = iso(day * 86_400_000)[:11]
            self._days[day] = prefix
        sec, milli = divmod(rest, 1000)
        h, sec = divmod(sec, 3600)
        m, sec = divmod(sec, 60)
        return f"{prefix}{h:02d}:{m:02d}:{sec:02d}.{milli:03d}Z"
