"""Fusion of detector findings into one suspicion (0-1) per entity.

Each detector's latest score for an entity decays with a half-life of event time, so an entity
that stops manipulating slowly regains trust. Detectors are combined by a noisy-OR (independent
evidence accumulates; one strong detector suffices). Priors (`Detector.prior_only`, e.g. the
feature anomaly model) only amplify evidence from other detectors and can never alone reach the
blacklist threshold (issue 5: "a prior for fusion, never alone a reason to blacklist").

Memory (issue 10: "scores keep the memory of proven manipulation"): the highest suspicion an
entity reached (from ``memory_floor``, above what a prior reaches alone) is remembered and decays with the much longer
``memory_half_life_ms``; an entity's suspicion is the larger of the current evidence and that
memory, so a ring caught in month 3 still reads as suspicious in month 9 although its findings
have long decayed.

Victims: a `Finding` with ``victim`` marks its seller as the target of an attack for
``victim_protect_ms``; meanwhile review-based detectors do not count against that seller, nor
does its memory (CONTRACT.md: "a victim is not a culprit").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from credence.contract import DAY_MS
from detectors.base import Finding

__all__ = ["Fusion", "Suspicion", "PRIOR_CAP"]

PRIOR_CAP = 0.35  # most a prior (the anomaly model) adds to an entity's suspicion on its own



@dataclass(frozen=True)
class Suspicion:
    score: float
    detectors: dict[str, float]


@dataclass
class Fusion:
    half_life_ms: int = 30 * DAY_MS
    victim_protect_ms: int = 30 * DAY_MS
    memory_half_life_ms: int = 180 * DAY_MS
    memory_floor: float = 0.4  # above PRIOR_CAP: a prior alone is never remembered
    prior_cap: float = PRIOR_CAP
    priors: frozenset[str] = frozenset()
    review_detectors: frozenset[str] = frozenset()
    # entity → detector → (score, ts)
    scores: dict[str, dict[str, tuple[float, int]]] = field(default_factory=dict)
    victim_until: dict[str, int] = field(default_factory=dict)
    # entity → (highest suspicion reached, when), for the remembered part of suspicion
    peak: dict[str, tuple[float, int]] = field(default_factory=dict)
    _swept_day: int = -1

    def add(self, f: Finding) -> set[str]:
        """Record a finding; return the entities whose suspicion it touched."""
        touched: set[str] = set()
        # A prior is a current assessment: it replaces its previous value, up or down.
        replace = f.detector in self.priors
        if f.victim:
            self.victim_until[f.seller_id] = max(self.victim_until.get(f.seller_id, 0),
                                                 f.ts + self.victim_protect_ms)
        else:
            self._put(f.seller_id, f.detector, f.score, f.ts, replace)
            touched.add(f.seller_id)
        for entity, s in (*f.accounts.items(), *f.sellers.items()):
            if f.victim and entity == f.seller_id:
                continue
            self._put(entity, f.detector, s, f.ts, replace)
            touched.add(entity)
        for entity in touched:
            now = self._current(entity, f.ts)
            if now >= self.memory_floor and now > self._remembered(entity, f.ts):
                self.peak[entity] = (now, f.ts)
        return touched

    def _remembered(self, entity: str, now: int) -> float:
        v = self.peak.get(entity)
        if v is None:
            return 0.0
        return v[0] * 0.5 ** (max(0, now - v[1]) / self.memory_half_life_ms)

    def _put(self, entity: str, detector: str, score: float, ts: int,
             replace: bool = False) -> None:
        d = self.scores.setdefault(entity, {})
        cur = d.get(detector)
        # A newer finding replaces an older one if stronger than what the old one decayed to.
        if replace or cur is None or score >= self._decayed(cur, ts):
            d[detector] = (score, ts)

    def _decayed(self, v: tuple[float, int], now: int) -> float:
        score, ts = v
        age = max(0, now - ts)
        return score * 0.5 ** (age / self.half_life_ms)

    def is_victim(self, entity: str, now: int) -> bool:
        return self.victim_until.get(entity, -1) >= now

    def suspicion(self, entity: str, now: int) -> Suspicion:
        d = self.scores.get(entity)
        victim = self.is_victim(entity, now)
        if not d:
            mem = 0.0 if victim else self._remembered(entity, now)
            return Suspicion(round(mem, 4), {})
        per: dict[str, float] = {}
        for det in sorted(d):
            per[det] = round(self._decayed(d[det], now), 4)
        p = self._combine(per, victim)
        if not victim:
            p = max(p, self._remembered(entity, now))
        return Suspicion(round(min(p, 1.0), 4), per)

    def _current(self, entity: str, now: int) -> float:
        """The current evidence of the detectors, priors left out (a prior's amplification is
        not proven manipulation), as the victim status is now."""
        d = self.scores.get(entity, {})
        per = {det: self._decayed(v, now) for det, v in d.items() if det not in self.priors}
        return self._combine(per, self.is_victim(entity, now))

    def _combine(self, per: dict[str, float], victim: bool) -> float:
        evidence = 1.0
        prior = 0.0
        for det, s in per.items():
            if victim and det in self.review_detectors:
                continue
            if det in self.priors:
                prior = max(prior, s)
            else:
                evidence *= 1.0 - s
        p = 1.0 - evidence
        # The prior amplifies real evidence (up to +50% of the remaining doubt) or, alone, stays
        # under prior_cap.
        return p + (1.0 - p) * prior * 0.5 if p > 0 else min(prior, self.prior_cap)

    def expire(self, now: int) -> None:
        """Forget scores that decayed below 1% (bounded state); a sweep a day is enough."""
        day = now // DAY_MS
        if day == self._swept_day:
            return
        self._swept_day = day
        horizon = self.half_life_ms * 7  # 0.5**7 < 0.01
        for entity in [e for e, d in self.scores.items()
                       if all(now - ts > horizon for _, ts in d.values())]:
            del self.scores[entity]
        for entity in [e for e, t in self.victim_until.items() if t < now]:
            del self.victim_until[entity]
        for entity in [e for e in self.peak if self._remembered(e, now) < 0.05]:
            del self.peak[entity]
