"""Identifiers: unique random ids of accounts, sellers, devices, payments, addresses and IPs.

Ids are drawn at random from a large space rather than numbered in creation order, so an id never
tells which part of the simulator made it (a puppet and an honest buyer look alike).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from numpy.random import Generator

__all__ = ["Minter", "Minters", "ip_of"]

# First octets of large Chinese consumer ISP blocks: IPs look like home, office and mobile lines.
_OCTETS = (36, 58, 59, 60, 61, 101, 106, 110, 111, 112, 113, 114, 115, 116, 117, 119, 120, 121,
           122, 123, 124, 125, 175, 180, 182, 183, 218, 219, 220, 221, 222, 223)


def ip_of(n: int) -> str:
    """An IPv4 address from an integer in ``[0, len(_OCTETS) << 24)``."""
    first = _OCTETS[n >> 24]
    return f"{first}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


class Minter:
    """Unique ids of one kind: random integers in ``[lo, hi)`` not yet taken, formatted."""

    def __init__(self, rng: Generator, fmt: Callable[[int], str], lo: int, hi: int,
                 taken: Iterable[int] = ()) -> None:
        self._rng = rng
        self._fmt = fmt
        self._lo, self._hi = lo, hi
        self._taken: set[int] = set(taken)

    def many(self, n: int) -> list[str]:
        if len(self._taken) + n > (self._hi - self._lo) * 0.9:
            # Nearly full: grow the space instead of searching for the last free values.
            self._hi = self._lo + 2 * (self._hi - self._lo) + n
        out: list[str] = []
        while len(out) < n:
            for v in self._rng.integers(self._lo, self._hi, size=n - len(out)).tolist():
                if v not in self._taken:
                    self._taken.add(v)
                    out.append(self._fmt(v))
        return out

    def one(self) -> str:
        return self.many(1)[0]


class Minters:
    """One minter per kind of identifier of a simulation."""

    def __init__(self, rng: Generator, *, account: Minter | None = None,
                 seller: Minter | None = None) -> None:
        self.account = account or Minter(rng, lambda v: f"u{v}", 1_000_000, 10_000_000)
        self.seller = seller or Minter(rng, lambda v: f"s{v}", 10_000, 100_000)
        self.device = Minter(rng, lambda v: f"d{v:012x}", 0, 1 << 48)
        self.payment = Minter(rng, lambda v: f"p{v:012x}", 0, 1 << 48)
        self.address = Minter(rng, lambda v: f"a{v:010x}", 0, 1 << 40)
        self.ip = Minter(rng, ip_of, 0, len(_OCTETS) << 24)

    @staticmethod
    def numeric(rng: Generator, taken: Iterable[int], hi: int) -> Minter:
        """Plain numeric ids in ``[1, hi)`` avoiding ``taken`` (the Bitcoin-Alpha user space)."""
        return Minter(rng, str, 1, hi, taken)

