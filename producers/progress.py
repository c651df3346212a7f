"""A tiny progress line on stderr (no dependency): count, percent, rate and time left.

On a terminal the line is redrawn in place a few times a second; elsewhere (a log, CI) a plain
line is written every few seconds so logs stay short.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    def __init__(self, total: int | None, label: str, *, stream: TextIO | None = None,
                 enabled: bool = True) -> None:
        self.total = total
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._interval = 0.25 if self._tty else 5.0
        self._t0 = time.monotonic()
        self._last = self._t0

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self._draw(done, now)

    def close(self, done: int) -> None:
        if not self.enabled:
            return
        self._draw(done, time.monotonic())
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, done: int, now: float) -> None:
        elapsed = max(now - self._t0, 1e-9)
        rate = done / elapsed
        text = f"{self.label}: {done:,}"
        if self.total:
            pct = 100.0 * done / self.total
            left = (self.total - done) / rate if rate > 0 else 0.0
            text += f"/{self.total:,} {pct:5.1f}%  eta {left:,.0f}s"
        text += f"  {rate:,.0f}/s  {elapsed:,.1f}s"
        if self._tty:
            self.stream.write("\r" + text + "\x1b[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
