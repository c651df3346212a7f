"""Findings → contract alerts: deterministic ids, severity, and a per seller × detector cool-down.

Within ``cooldown_ms`` of event time after an alert for a seller and detector, a new finding for
the same pair is published only if it escalates (higher severity) or implicates accounts the last
alert did not; otherwise it is suppressed (inspectors get one alert per episode, not one per tick).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from credence.contract import Alert, Severity, iso, stable_id
from detectors.base import Finding

__all__ = ["Alerting", "severity_of"]

_RANK = {"low": 0, "medium": 1, "high": 2}


def severity_of(score: float) -> Severity:
    return "high" if score >= 0.8 else "medium" if score >= 0.6 else "low"


@dataclass
class _Last:
    ts: int
    severity: Severity
    accounts: frozenset[str]
    alert_id: str


@dataclass
class Alerting:
    cooldown_ms: int
    min_score: float = 0.4
    last: dict[tuple[str, str], _Last] = field(default_factory=dict)

    def alert_for(self, f: Finding, detected_at: int) -> Alert | None:
        if f.score < self.min_score:
            return None
        sev = severity_of(f.score)
        key = (f.seller_id, f.detector)
        accounts = frozenset(f.accounts)
        prev = self.last.get(key)
        if prev is not None and f.ts - prev.ts < self.cooldown_ms:
            escalates = _RANK[sev] > _RANK[prev.severity]
            new_accounts = len(accounts - prev.accounts) >= max(3, len(prev.accounts) // 2)
            if not (escalates or new_accounts):
                return None
            accounts = accounts | prev.accounts
        alert_id = stable_id("alert", f.detector, f.seller_id, f.ts, *sorted(f.accounts))
        self.last[key] = _Last(f.ts, sev, accounts, alert_id)
        evidence = dict(f.evidence)
        evidence.setdefault("reasons", list(f.reasons))
        if f.victim:
            evidence["victim"] = True
        return Alert(alert_id=alert_id, seller_id=f.seller_id, detector=f.detector,
                     score=f.score, severity=sev, ts=iso(f.ts), detected_at=iso(detected_at),
                     accounts=sorted(f.accounts)[:100], evidence=evidence, summary=f.summary)

    def expire(self, now: int) -> None:
        for key in [k for k, v in self.last.items() if now - v.ts > self.cooldown_ms]:
            del self.last[key]
