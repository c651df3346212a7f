"""The one detector interface.

A detector is a plain object: it `observe`s contract events one at a time (amortised O(1)), and
when the engine closes an event-time tick it `evaluate`s, returning `Finding`s. It does no I/O and
reads no clock: ``now`` is the tick's end in event time. Its state is bounded by its window
(`state_size` reports how much it holds, and the contract test checks it stays bounded).

Determinism (docs/architecture.md): given the same events in the same order, a detector returns the
same findings. Iterate dicts built from events in sorted order when the result depends on it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from credence.contract import Event, EventType

__all__ = ["Detector", "Finding", "MAX_EVIDENCE_IDS", "clip01", "bounded", "reemit",
           "reemit_findings", "discard_member", "count_down"]

MAX_EVIDENCE_IDS = 20  # evidence lists are bounded (contract: "bounded lists")


def clip01(x: float) -> float:
    return 0.0 if x < 0 else 1.0 if x > 1 else float(x)


def bounded(ids: Any, n: int = MAX_EVIDENCE_IDS) -> list[str]:
    """A sorted, bounded, duplicate-free id list for evidence."""
    return sorted(set(ids))[:n]


#: what `reemit` keeps per reported entity: (score, accounts named so far, ts)
Emitted = tuple[float, frozenset[str], int]


def reemit(last: Emitted | None, score: float, accounts: Iterable[str], ts: int,
           refresh_ms: int | None = None, *, keep_max: bool = False) -> Emitted | None:
    """The re-emit throttle of a repeated finding about the same entity.

    ``last`` is what the previous emission stored (None: never emitted). The finding goes out
    again when its score rose by at least 0.03, when it names an account not named before, or
    (with ``refresh_ms``) when ``refresh_ms`` passed since ``last``. Returns the state to store
    when it goes out (accounts accumulate; the score is the new one, or the higher of the two
    with ``keep_max``), None when it is held back. The caller expires what it stores.
    """
    acc = frozenset(accounts)
    if last is None:
        return score, acc, ts
    grew = score >= last[0] + 0.03
    new_accounts = not acc <= last[1]
    stale = refresh_ms is not None and ts - last[2] >= refresh_ms
    if not (grew or new_accounts or stale):
        return None
    return (max(score, last[0]) if keep_max else score), acc | last[1], ts


def reemit_findings(last: dict[str, Emitted], findings: Iterable[Finding | None],
                    refresh_ms: int | None = None) -> list[Finding]:
    """The findings (None skipped) that pass `reemit` against ``last`` (per seller), in order;
    ``last`` is updated for those."""
    out: list[Finding] = []
    for f in findings:
        if f is None:
            continue
        state = reemit(last.get(f.seller_id), f.score, f.accounts, f.ts, refresh_ms)
        if state is not None:
            last[f.seller_id] = state
            out.append(f)
    return out


def discard_member(index: dict[Any, set[Any]], key: Any, member: Any) -> None:
    """Remove ``member`` from the set ``index[key]``, and the key once its set is empty."""
    members = index.get(key)
    if members is not None:
        members.discard(member)
        if not members:
            del index[key]


def count_down(counts: dict[Any, int], key: Any) -> int:
    """Decrement ``counts[key]``, dropping the key at zero; returns what is left."""
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)
    return max(0, left)


@dataclass
class Finding:
    """One detection about one seller, as of event time ``ts``.

    ``score`` is the detector's confidence (0-1) that ``seller_id`` manipulates, unless ``victim``
    is set: then ``seller_id`` is the *target* (review bombing) and only ``accounts`` are culprits.
    ``accounts`` and ``sellers`` carry each implicated entity's own 0-1 score (colluding sellers in a
    circular trade appear in ``sellers``; ``seller_id`` is implied unless ``victim``).
    ``evidence`` holds bounded id lists and the figures that fired; ``reasons`` short codes.
    """

    detector: str
    seller_id: str
    score: float
    ts: int
    summary: str
    accounts: dict[str, float] = field(default_factory=dict)
    sellers: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    victim: bool = False

    def __post_init__(self) -> None:
        self.score = round(clip01(self.score), 4)
        self.accounts = {a: round(clip01(s), 4) for a, s in sorted(self.accounts.items())}
        self.sellers = {a: round(clip01(s), 4) for a, s in sorted(self.sellers.items())}


class Detector(ABC):
    """Base class of every detector in `detectors/`."""

    #: one word, used as the alert's ``detector`` field and the suspicion breakdown key
    name: ClassVar[str]
    #: the event types `observe` wants (the engine routes only these)
    observes: ClassVar[frozenset[EventType]]
    #: True for priors that may raise suspicion but never alone alert or blacklist
    prior_only: ClassVar[bool] = False
    #: True if its evidence is about reviews: fusion then ignores it against a protected victim
    #: of review bombing (default: it observes reviews only)
    review_based: ClassVar[bool | None] = None

    @abstractmethod
    def observe(self, event: Event) -> None:
        """Take one event into the detector's state."""

    @abstractmethod
    def evaluate(self, now: int) -> list[Finding]:
        """Decide at the end of a tick (``now`` = tick end, event-time ms); expire old state."""

    @abstractmethod
    def state_size(self) -> int:
        """How many items the detector holds (edges, sketch cells, ...); bounded by its window."""

    def params(self) -> Mapping[str, Any]:
        """The detector's parameters (reported in evaluation reports)."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")
                and isinstance(v, int | float | str | bool)}
