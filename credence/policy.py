"""Blacklist policy: automatic entries with hysteresis, overridden by inspectors' decisions.

* ``add`` (by ``auto``) when an entity's suspicion reaches ``threshold``, or when it has
  ``repeat_alerts`` alerts within ``repeat_window_ms`` from at least two different detectors
  (independent corroboration: one detector re-alerting on one episode is not new evidence) and
  suspicion of at least ``release``;
* ``remove`` (by ``auto``) when an automatic entry's suspicion falls below ``release``
  (hysteresis: between the two levels nothing changes);
* ``confirm`` lists the entity by ``inspector:NAME``; automatic rules never remove it;
* ``dismiss`` and ``lift`` remove it by the inspector and remember the suspicion and alerts at
  that moment: the entity is re-added automatically only on *new* evidence, i.e. two alerts the
  inspector has not seen, or one with a suspicion at least ``margin`` above the dismissed level;
* a seller protected as a victim (of review bombing) is never added automatically.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from credence.contract import BlacklistEntry, Decision, EntityType, iso

__all__ = ["BlacklistPolicy", "EntityState"]


@dataclass
class EntityState:
    listed: bool = False
    by: str = "auto"
    alert_ids: list[str] = field(default_factory=list)
    recent_alerts: deque[tuple[int, str, str]] = field(default_factory=deque)  # ts, id, detector
    reviewed_level: float | None = None  # suspicion when an inspector dismissed or lifted
    reviewed_alerts: frozenset[str] = frozenset()


@dataclass
class BlacklistPolicy:
    threshold: float = 0.8
    release: float = 0.3
    repeat_alerts: int = 3
    repeat_window_ms: int = 7 * 86_400_000
    margin: float = 0.1
    state: dict[str, EntityState] = field(default_factory=dict)

    def note_alert(self, entity: str, alert_id: str, ts: int, detector: str = "") -> None:
        st = self.state.setdefault(entity, EntityState())
        st.recent_alerts.append((ts, alert_id, detector))
        while st.recent_alerts and ts - st.recent_alerts[0][0] > self.repeat_window_ms:
            st.recent_alerts.popleft()

    def update(self, entity: str, etype: EntityType, suspicion: float, ts: int,
               victim: bool = False) -> BlacklistEntry | None:
        """Apply the automatic rules to one entity; return the entry to publish, if any."""
        st = self.state.get(entity)
        if st is None:
            if suspicion < self.threshold:
                return None
            st = self.state[entity] = EntityState()
        alerts = [a for _, a, _ in st.recent_alerts]
        detectors = {d for _, _, d in st.recent_alerts}
        if st.listed:
            if st.by == "auto" and suspicion < self.release:
                st.listed = False
                return self._entry(entity, etype, "remove", ts, "auto", st.alert_ids,
                                   f"suspicion fell to {suspicion:.2f} (< {self.release})")
            return None
        if victim:
            return None
        repeated = (len(set(alerts)) >= self.repeat_alerts and len(detectors) >= 2
                    and suspicion >= self.release)
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
        why = (f"suspicion {suspicion:.2f} >= {self.threshold}" if suspicion >= self.threshold
               else f"{len(set(alerts))} alerts within {self.repeat_window_ms // 86_400_000} days")
        return self._entry(entity, etype, "add", ts, "auto", st.alert_ids, why)

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
        st.listed, st.by = False, by
        verb = "dismissed" if d.action == "dismiss" else "lifted"
        return self._entry(d.entity_id, d.entity_type, "remove", d.ts, by, ids,
                           f"{verb} by inspector{note}")

    @staticmethod
    def _entry(entity: str, etype: EntityType, action: str, ts: int, by: str,
               alert_ids: list[str], reason: str) -> BlacklistEntry:
        return BlacklistEntry(entity_id=entity, entity_type=etype, action=action,  # type: ignore[arg-type]
                              reason=reason, alert_ids=list(alert_ids), ts=iso(ts), by=by)
