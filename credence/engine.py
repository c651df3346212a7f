"""The detection and scoring core, shared by `credence replay` and the streaming detection stage.

`Engine.process_tick` takes one closed event-time tick (events already sorted by the `Sequencer`)
and returns what to publish. Within the tick each event updates the features (in a `MemoryStore`,
deduplicated by id), the ledger, and the detectors that observe its type; inspectors' decisions
apply at once. At the end of the tick every detector evaluates, findings are fused into
suspicion, alerts are cut (with cool-down), the blacklist policy runs over the touched entities,
and credit scores are recomputed for the sellers the tick affected.

The engine is pure: no I/O, no clock (``detected_at`` is passed in), deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from config.settings import Settings
from credence.alerting import Alerting
from credence.contract import (
    DAY_MS,
    HOUR_MS,
    Alert,
    BlacklistEntry,
    CreditScore,
    Decision,
    EntityType,
    Event,
    Order,
    Record,
    Review,
)
from credence.contract import Suspicion as SuspicionRow
from credence.features import FeatureModel
from credence.fusion import Fusion, Suspicion
from credence.ledger import Ledger
from credence.policy import BlacklistPolicy
from credence.scoring import Scorer
from credence.sequencer import Tick
from credence.store.base import NEW
from credence.store.memory import MemoryStore
from credence.tuning import PolicyChange, apply_change
from detectors.base import Detector, Finding

__all__ = ["Engine", "Outputs"]


@dataclass
class Outputs:
    alerts: list[Alert] = field(default_factory=list)
    blacklist: list[BlacklistEntry] = field(default_factory=list)
    scores: list[CreditScore] = field(default_factory=list)
    #: suspicion of the entities whose suspicion changed in this tick (for the Redis view)
    suspicion: dict[str, Suspicion] = field(default_factory=dict)

    def extend(self, other: Outputs) -> None:
        self.alerts += other.alerts
        self.blacklist += other.blacklist
        self.scores += other.scores
        self.suspicion.update(other.suspicion)


class Engine:
    def __init__(self, settings: Settings, detectors: Sequence[Detector] | None = None,
                 scorer: Scorer | None = None):
        from detectors import default_detectors

        self.settings = settings
        self.model = FeatureModel(settings.key_prefix, scope="core")
        self.store = MemoryStore()
        self.detectors: list[Detector] = list(detectors if detectors is not None
                                              else default_detectors(settings))
        self._routes: dict[str, list[Detector]] = {}
        for det in self.detectors:
            for kind in det.observes:
                self._routes.setdefault(kind, []).append(det)
            bind = getattr(det, "bind", None)
            if bind is not None:
                bind(self.store, self.model)
        self.fusion = Fusion(
            priors=frozenset(d.name for d in self.detectors if d.prior_only),
            review_detectors=frozenset(
                d.name for d in self.detectors
                if (d.review_based if d.review_based is not None else d.observes <= {"review"})))
        self.alerting = Alerting(settings.alert_cooldown_seconds * 1000)
        self.policy = BlacklistPolicy(settings.blacklist_threshold, settings.blacklist_release,
                                      expiry_ms=settings.listing_expiry_days * DAY_MS)
        self.ledger = Ledger()
        self.scorer = scorer if scorer is not None else Scorer(settings, self.store, self.model)
        self.entity_type: dict[str, EntityType] = {}
        self.peak: dict[str, float] = {}  # highest suspicion each entity reached (evaluation)
        self._discounted: set[str] = set()  # entities whose contributions scores discount
        self._rechecked_hour = -1
        self.now = 0

    # ------------------------------------------------------------------ per tick

    def process_tick(self, tick: Tick, detected_at: int) -> Outputs:
        out = Outputs()
        affected: set[str] = set()
        last_ts = 0
        for event, source in tick.events:
            ops = self.model.ops(event, source if isinstance(source, str) else "")
            if self.store.apply([ops])[0] != NEW:
                continue
            last_ts = max(last_ts, event.ts)
            if isinstance(event, PolicyChange):
                apply_change(self, event)  # decisions from this tick on use the new value
                continue
            self._register(event)
            if isinstance(event, Decision):
                entry = self.policy.decide(event, self.fusion.suspicion(
                    event.entity_id, event.ts).score)
                if entry is not None:
                    out.blacklist.append(entry)
                if event.entity_type == "seller":
                    affected.add(event.entity_id)  # a decision rescored at once
                continue
            self.ledger.observe(event)
            self.scorer.observe(event)
            self.scorer.touch(event.seller_id, event.ts)
            if isinstance(event, Record) and event.source in ("court", "ipr", "registry"):
                affected.add(event.seller_id)  # a bureau record is rescored at once
            for det in self._routes.get(event.type, ()):
                det.observe(event)
        now = tick.end
        self.now = max(self.now, now)
        findings: list[Finding] = []
        for det in self.detectors:
            findings += det.evaluate(now)
        self._decide(findings, out, affected, detected_at, last_ts or now - 1)
        self.store.evict(now)
        self.ledger.expire(now)
        self.alerting.expire(now)
        return out

    def _register(self, e: Event) -> None:
        et = self.entity_type
        if isinstance(e, Decision):
            et.setdefault(e.entity_id, e.entity_type)
            return
        et[e.seller_id] = "seller"
        acct = e.buyer_id if isinstance(e, Order) else e.reviewer_id if isinstance(e, Review) \
            else None
        if acct is not None:
            et.setdefault(acct, "account")

    def _decide(self, findings: list[Finding], out: Outputs, affected: set[str],
                detected_at: int, ts: int) -> None:
        touched: dict[str, int] = {}
        for f in findings:
            for entity in self.fusion.add(f):
                touched[entity] = max(touched.get(entity, 0), f.ts)
            if f.detector in self.fusion.priors:
                continue
            alert = self.alerting.alert_for(f, detected_at)
            if alert is None:
                continue
            out.alerts.append(alert)
            if not f.victim:
                self.policy.note_alert(f.seller_id, alert.alert_id, f.ts, f.detector)
            # An alert counts towards an implicated entity's repeated-alerts rule only if the
            # finding itself scores that entity above the release level: bystanders named in a
            # long episode's alerts must not accumulate their way onto the blacklist.
            for entity, own in (*f.accounts.items(), *f.sellers.items()):
                if own >= self.policy.release:
                    self.policy.note_alert(entity, alert.alert_id, f.ts, f.detector)
        # Automatic entries are re-checked once an hour of event time, so that their expiry
        # (days without new evidence) is applied on time and a listed seller's score follows
        # its suspicion even while nothing names it.
        evidence = set(touched)
        hour = self.now // HOUR_MS
        if hour != self._rechecked_hour:
            self._rechecked_hour = hour
            for entity, st in self.policy.state.items():
                if st.listed and st.by == "auto" and entity not in touched:
                    touched[entity] = ts
        forced = {s for s in affected if self.entity_type.get(s) == "seller"}
        discount_from = self.scorer.discount_from
        for entity in sorted(touched):
            s = self.suspicion(entity)
            out.suspicion[entity] = s
            if s.score > self.peak.get(entity, 0.0):
                self.peak[entity] = s.score
            etype = self.entity_type.get(entity, "account")
            entry = self.policy.update(entity, etype, s.score, touched[entity],
                                       victim=self.fusion.is_victim(entity, self.now),
                                       evidence=entity in evidence)
            if entry is not None:
                out.blacklist.append(entry)
            if etype == "seller" and (entry is not None or self.scorer.moved(entity, s.score)):
                forced.add(entity)
            # An account judged a culprit (its peak suspicion reached the discount level, and no
            # inspector cleared it) no longer counts in its sellers' scores; crossing either way
            # rescores them.
            st = self.policy.state.get(entity)
            cleared = st is not None and st.reviewed_level is not None and not st.listed
            culprit = self.peak.get(entity, 0.0) >= discount_from and not cleared
            if culprit != (entity in self._discounted):
                if culprit:
                    self._discounted.add(entity)
                else:
                    self._discounted.discard(entity)
                forced.update(x for x in self.ledger.edges.get(entity, ())
                              if self.entity_type.get(x) == "seller")
        self.fusion.expire(self.now)
        for seller, sts in self.scorer.due(self.now, forced):
            if self.entity_type.get(seller) != "seller":
                continue
            score = self.scorer.update(seller, self.now, sts, ledger=self.ledger,
                                       discounted=self.discounted(), fusion=self.fusion,
                                       policy=self.policy)
            if score is not None:
                out.scores.append(score)

    # ------------------------------------------------------------------ views

    def suspicion(self, entity: str) -> Suspicion:
        """An entity's suspicion now: fused evidence and its memory, and at least the level at
        which an automatic listing that still stands was made."""
        s = self.fusion.suspicion(entity, self.now)
        kept = self.policy.listed_level(entity)
        return Suspicion(max(s.score, kept), s.detectors) if kept > s.score else s

    def suspicion_rows(self) -> list[SuspicionRow]:
        rows = []
        for entity in sorted(self.entity_type):
            s = self.suspicion(entity)
            rows.append(SuspicionRow(entity_id=entity, entity_type=self.entity_type[entity],
                                     score=s.score, detectors=s.detectors))
        return rows

    def discounted(self) -> set[str]:
        """Entities whose orders and reviews the credit scores do not count: their peak
        suspicion reached the scorer's discount level and no inspector cleared them."""
        return self._discounted
