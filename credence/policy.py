"""Blacklist policy: automatic entries that are kept, overridden by inspectors' decisions.

* ``add`` (by ``auto``) when an entity's suspicion reaches ``threshold``, or when it has
  ``repeat_alerts`` alerts within ``repeat_window_ms`` from at least two different detectors
  (independent corroboration: one detector re-alerting on one episode is not new evidence) and
  suspicion of at least ``repeat_min``;
* an automatic entry is **kept** (issue 10, class 5: on a six-year stream every automatic
  listing had been removed by decay, so a fraud caught in month 3 silently left the list by
  month 9). It ends only when an inspector dismisses or lifts it, or, when ``expiry_ms`` is set
  (``CREDENCE_LISTING_EXPIRY_DAYS``), after that much event time without new evidence (a
  finding that names the entity again); the ``add`` entry's reason says which, and the
  ``remove`` entry says "expired". The default, 0, keeps it until an inspector decides: a
  listing is a credit decision, and fraud records are kept for years;
* ``confirm`` lists the entity by ``inspector:NAME``; automatic rules never remove it;
* ``dismiss`` and ``lift`` remove it by the inspector and remember the suspicion and alerts at
  that moment: the entity is re-added automatically only on *new* evidence, i.e. two alerts the
  inspector has not seen, or one with a suspicion at least ``margin`` above the dismissed level;
* a seller protected as a victim (of review bombing) is never added automatically.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from credence.contract import DAY_MS, BlacklistEntry, Decision, EntityType, iso

__all__ = ["BlacklistPolicy", "EntityState"]



@dataclass
class EntityState:
    listed: bool = False
    by: str = "auto"
    alert_ids: list[str] = field(default_factory=list)
    recent_alerts: deque[tuple[int, str, str]] = field(default_factory=deque)  # ts, id, detector
    reviewed_level: float | None = None  # suspicion when an inspector dismissed or lifted
    reviewed_alerts: frozenset[str] = frozenset()
    evidence_ts: int = 0  # event time of the latest evidence naming the entity
    level: float = 0.0  # suspicion when it was listed automatically (kept while listed)


@dataclass
class BlacklistPolicy:
    threshold: float = 0.8
    release: float = 0.3
    repeat_alerts: int = 3
    repeat_window_ms: int = 7 * DAY_MS
    repeat_min: float = 0.7
    margin: float = 0.1
    expiry_ms: int = 0
    state: dict[str, EntityState] = field(default_factory=dict)

    def note_alert(self, entity: str, alert_id: str, ts: int, detector: str = "") -> None:
        st = self.state.setdefault(entity, EntityState())
        st.recent_alerts.append((ts, alert_id, detector))
        st.evidence_ts = max(st.evidence_ts, ts)
        while st.recent_alerts and ts - st.recent_alerts[0][0] > self.repeat_window_ms:
            st.recent_alerts.popleft()

    def _kept(self) -> str:
        if not self.expiry_ms:
            return "kept until an inspector dismisses or lifts it"
        return (f"kept until an inspector dismisses or lifts it, or {self.expiry_ms // DAY_MS} "
                f"days pass without new evidence")

    def update(self, entity: str, etype: EntityType, suspicion: float, ts: int,
               victim: bool = False, evidence: bool = True) -> BlacklistEntry | None:
        """Apply the automatic rules to one entity at event time ``ts``; ``evidence`` says
        whether a finding named it now (else it is a periodic re-check). Returns the entry to
        publish, if any."""
        st = self.state.get(entity)
        if st is None:
            if suspicion < self.threshold:
                return None
            st = self.state[entity] = EntityState()
        if evidence:
            st.evidence_ts = max(st.evidence_ts, ts)
        alerts = [a for _, a, _ in st.recent_alerts]
        detectors = {d for _, _, d in st.recent_alerts}
        if st.listed:
            if st.by == "auto" and self.expiry_ms and ts - st.evidence_ts >= self.expiry_ms:
                st.listed = False
                return self._entry(entity, etype, "remove", ts, "auto", st.alert_ids,
                                   f"expired: no new evidence in {self.expiry_ms // DAY_MS} "
                                   f"days (suspicion now {suspicion:.2f})")
            return None
        if victim:
            return None
        repeated = (len(set(alerts)) >= self.repeat_alerts and len(detectors) >= 2
                    and suspicion >= self.repeat_min)
        if not (suspicion >= self.threshold or repeated):
            return None
        if st.reviewed_level is not None:
            # New evidence: two alerts the inspector has not seen, or one with a clearly
            # higher suspicion than when they dismissed it.
            fresh = {a for a in alerts if a not in st.reviewed_alerts}
            stronger = suspicion >= min(1.0, st.reviewed_level + self.margin)
            if not (len(fresh) >= 2 or (fresh and stronger)):
                return None
        # The 20 most recent (ids are hashes: sorting them would keep arbitrary ones).
        st.listed, st.by, st.alert_ids = True, "auto", list(dict.fromkeys(alerts))[-20:]
        st.level, st.evidence_ts = suspicion, max(st.evidence_ts, ts)
        why = (f"suspicion {suspicion:.2f} >= {self.threshold}" if suspicion >= self.threshold
               else f"{len(set(alerts))} alerts within {self.repeat_window_ms // DAY_MS} days")
        return self._entry(entity, etype, "add", ts, "auto", st.alert_ids,
                           f"{why}; {self._kept()}")

    def listed_level(self, entity: str) -> float:
        """The suspicion an automatically listed entity had when listed (0 when not listed
        automatically): what its suspicion keeps while the listing stands."""
        st = self.state.get(entity)
        return st.level if st is not None and st.listed and st.by == "auto" else 0.0

    def decide(self, d: Decision, suspicion: float) -> BlacklistEntry | None:
        """Apply an inspector's decision; return the entry to publish, if any."""
        st = self.state.setdefault(d.entity_id, EntityState())
        by = f"inspector:{d.inspector}"
        ids = list(dict.fromkeys([*st.alert_ids, *([d.alert_id] if d.alert_id else [])]))[-20:]
        note = f": {d.note}" if d.note else ""
        if d.action == "confirm":
            unchanged = st.listed and st.by == by
            st.listed, st.by, st.alert_ids = True, by, ids
            st.reviewed_level = None
            if unchanged:
                return None
            return self._entry(d.entity_id, d.entity_type, "add", d.ts, by, ids,
                               f"confirmed by inspector{note}")
        # dismiss / lift
        st.reviewed_level = suspicion
        st.reviewed_alerts = frozenset(a for _, a, _ in st.recent_alerts) | frozenset(st.alert_ids) \
            | (frozenset([d.alert_id]) if d.alert_id else frozenset())
        if not st.listed:
            return None
        st.listed, st.by, st.level = False, by, 0.0
        verb = "dismissed" if d.action == "dismiss" else "lifted"
        return self._entry(d.entity_id, d.entity_type, "remove", d.ts, by, ids,
                           f"{verb} by inspector{note}")

    @staticmethod
    def _entry(entity: str, etype: EntityType, action: str, ts: int, by: str,
               alert_ids: list[str], reason: str) -> BlacklistEntry:
        return BlacklistEntry(entity_id=entity, entity_type=etype, action=action,  # type: ignore[arg-type]
                              reason=reason, alert_ids=list(alert_ids), ts=iso(ts), by=by)
