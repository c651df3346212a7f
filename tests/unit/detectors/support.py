"""Drives a detector the way the engine does: observe events, evaluate at each closed tick."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from config.settings import load
from detectors.base import Detector, Finding
from streams.codec import decode, encode

__all__ = ["MIN", "run", "snapshot_copy"]

T = TypeVar("T")

MIN = 60_000


def run(det: Detector, events: Iterable, tick: int = MIN, *, extra_ticks: int = 0,
        before_observe: Callable[[object], None] | None = None) -> list[Finding]:
    """Feed ``events`` (in their order) to ``det``; evaluate whenever a tick of ``tick`` ms
    closes, and at the end; then ``extra_ticks`` more empty ticks (time going on).
    ``before_observe`` sees every event first (e.g. to update a feature store)."""
    out: list[Finding] = []
    end = None
    for e in events:
        t = (e.ts // tick + 1) * tick
        if end is not None and t != end:
            out += det.evaluate(end)
        end = t
        if before_observe is not None:
            before_observe(e)
        if e.type in det.observes:
            det.observe(e)
    if end is not None:
        out += det.evaluate(end)
        for k in range(1, extra_ticks + 1):
            out += det.evaluate(end + k * tick)
    return out


def snapshot_copy(state: T) -> T:
    """``state`` written and read back as the detection stage's snapshot does it."""
    out: Any = decode(encode(state), load())
    return out
