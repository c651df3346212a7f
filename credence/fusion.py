"""Fusion of detector findings into one suspicion (0-1) per entity.

Each detector's latest score for an entity decays with a half-life of event time, so an entity
that stops manipulating slowly regains trust. Detectors are combined by a noisy-OR (independent
evidence accumulates; one strong detector suffices). Priors (`Detector.prior_only`, e.g. the
feature anomaly model) only amplify evidence from other detectors and can never alone reach the
blacklist threshold (issue 5: "a prior for fusion, never alone a reason to blacklist").

Victims: a `Finding` with ``victim`` marks its seller as the target of an attack for
``victim_protect_ms``; meanwhile review-based detectors do not count against that seller
(CONTRACT.md: "a victim is not a culprit").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from detectors.base import Finding

__all__ = ["Fusion", "Suspicion", "PRIOR_CAP"]

PRIOR_CAP = 0.35  # most a prior (the anomaly model) adds to an entity's suspicion on its own

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Suspicion:
    score: float
    detectors: dict[str, float]


@dataclass
class Fusion:
    half_life_ms: int = 30 * DAY_MS
    victim_protect_ms: int = 30 * DAY_MS
    prior_cap: float = PRIOR_CAP
    priors: frozenset[str] = frozenset()
    review_detectors: frozenset[str] = frozenset()
    # entity → detector → (score, ts)
    scores: dict[str, dict[str, tuple[float, int]]] = field(default_factory=dict)
    victim_until: dict[str, int] = field(default_factory=dict)
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
        return touched

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
        if not d:
            return Suspicion(0.0, {})
        victim = self.is_victim(entity, now)
        per: dict[str, float] = {}
        for det in sorted(d):
            per[det] = round(self._decayed(d[det], now), 4)
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
        p = p + (1.0 - p) * prior * 0.5 if p > 0 else min(prior, self.prior_cap)
        return Suspicion(round(min(p, 1.0), 4), per)

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
