"""Simulated time: a fixed start (never the wall clock), local days, and the diurnal rhythm.

Times are integer epoch milliseconds (UTC), as inside Credence. The marketplace lives in China
(UTC+08:00), so hours of the day and calendar dates are taken in that zone.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TypeVar

import numpy as np
from numpy.random import Generator

from credence.contract import parse_ts

__all__ = ["Clock", "DEFAULT_START", "LOCAL_ZONE", "MINUTE", "HOUR", "DAY", "YEAR",
           "HOURLY", "WORKDAY", "LOCAL_OFFSET_MS", "local_date", "local_hour", "local_day",
           "local_weekday", "local_day_start", "IntOrArray"]

IntOrArray = TypeVar("IntOrArray", int, np.ndarray)

DEFAULT_START = "2026-10-01T00:00:00+08:00"
LOCAL_ZONE = timezone(timedelta(hours=8))
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
YEAR = 365 * DAY
LOCAL_OFFSET_MS = 8 * HOUR  # UTC+08:00, the marketplace's zone (LOCAL_ZONE) in milliseconds

# Relative order intensity by local hour: a night trough, a late-morning peak, and the evening
# peak after work that Chinese marketplaces see (shopping from the sofa, 20:00-23:00).
HOURLY = np.array([3.0, 1.8, 1.0, 0.6, 0.4, 0.4, 0.6, 1.2, 2.4, 3.8, 4.8, 5.2,
                   4.8, 4.4, 4.4, 4.6, 4.6, 4.4, 4.2, 5.0, 6.2, 7.0, 6.8, 5.2])
# Paid manipulation is done as a job: office hours, little at night.
WORKDAY = np.array([0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 2.0, 4.5, 5.0, 5.0,
                    3.0, 4.5, 5.0, 5.0, 5.0, 4.5, 2.5, 1.5, 1.2, 1.0, 0.7, 0.5])
# Weekends sell a little more (Monday = 0).
_WEEKDAY = np.array([1.0, 0.97, 0.97, 1.0, 1.05, 1.15, 1.15])


def local_date(ms: int) -> str:
    """The local calendar date (YYYY-MM-DD) of an instant."""
    return datetime.fromtimestamp(ms / 1000, tz=LOCAL_ZONE).strftime("%Y-%m-%d")


def local_hour(ms: IntOrArray) -> IntOrArray:
    """The local hour of the day (0-23) of instants (an int or an array, kept as given)."""
    return ((ms + LOCAL_OFFSET_MS) // HOUR) % 24


def local_day(ms: IntOrArray) -> IntOrArray:
    """Local day number since the epoch (days change at local midnight); int or array as given."""
    return (ms + LOCAL_OFFSET_MS) // DAY


def local_weekday(ms: IntOrArray) -> IntOrArray:
    """Local day of the week, Monday = 0 (1970-01-01 was a Thursday)."""
    return (local_day(ms) + 3) % 7


def local_day_start(day: int) -> int:
    """The instant of local midnight that starts local day number ``day``."""
    return day * DAY - LOCAL_OFFSET_MS


class Clock:
    """The simulated period ``[start_ms, end_ms)`` and samplers of times inside it."""

    def __init__(self, start: str | int, days: int) -> None:
        self.start_ms: int = parse_ts(start)
        self.days = days
        self.end_ms: int = self.start_ms + days * DAY

    def local_hour(self, ms: np.ndarray) -> np.ndarray:
        return local_hour(ms)

    def local_day(self, ms: np.ndarray | int) -> np.ndarray | int:
        """Local day number since the epoch (days change at local midnight)."""
        return local_day(np.asarray(ms))

    def sample(self, rng: Generator, lo: np.ndarray | int, hi: np.ndarray | int,
               n: int | None = None, profile: np.ndarray = HOURLY) -> np.ndarray:
        """Times in ``[lo, hi)`` (scalars or one pair per draw) following an hourly profile.

        Rejection sampling keeps the draw exact for any window, even a two-hour one at night.
        """
        lo_a = np.asarray(lo, dtype=np.int64)
        hi_a = np.asarray(hi, dtype=np.int64)
        size = n if n is not None else int(np.broadcast(lo_a, hi_a).size)
        lo_a = np.broadcast_to(lo_a, (size,))
        hi_a = np.broadcast_to(np.maximum(hi_a, lo_a + 1), (size,))
        out = np.empty(size, dtype=np.int64)
        todo = np.arange(size)
        weight = profile / profile.max()
        while todo.size:
            span = (hi_a[todo] - lo_a[todo]).astype(np.float64)
            t = lo_a[todo] + (rng.random(todo.size) * span).astype(np.int64)
            p = weight[local_hour(t)] * _WEEKDAY[local_weekday(t)] / _WEEKDAY.max()
            ok = rng.random(todo.size) < p
            out[todo[ok]] = t[ok]
            todo = todo[~ok]
        return out
