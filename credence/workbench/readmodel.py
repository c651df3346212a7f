"""The workbench's read model in Redis: cases, open alerts, listings, scores, decisions, audit.

It is a projection of four topics (``alerts``, ``blacklist``, ``credit-scores``, ``decisions``)
plus the workbench's own casework (assignments, notes; ``credence-casework``). Every key is under
``<CREDENCE_KEY_PREFIX>-inspect`` (`Settings.inspect_prefix`), written by the ``inspect`` Redis
user, and the topic offsets applied are kept with it (``:offsets``): a read model that is lost
(or never built) is rebuilt by reading the topics from their start.

Applying a message is idempotent (sets, hashes, sorted sets whose members are the messages
themselves), so a batch applied again after a crash between its writes and its offsets changes
nothing. A case is the seller an alert is keyed by; an alert stays open in its case until a
decision names it (``alert_id``) or, without one, until any decision about that entity. A
decision read before the alert it names (topics are read side by side) is remembered, so the
alert arrives closed.

Assignments and notes go to ``credence-casework`` first (acks=all) and are then applied here
like any message of the topics, so a lost read model gets them back with the rest (issue 13,
item 4); applying one twice changes nothing (its audit row is the message itself, scored by its
own time).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from config.settings import Settings
from config.topics import CASEWORK, POLICY
from credence.contract import parse_ts
from credence.scoring import reason_text
from credence.store.keys import view

__all__ = ["ReadModel", "TOPICS", "QueueFilter", "SEVERITY_RANK", "band_of"]

# The topics the read model is a projection of (names without the prefix): the contract's, and
# the run-time policy changes of supervisors (credence.tuning).
TOPICS: tuple[str, ...] = ("alerts", "blacklist", "credit-scores", "decisions", POLICY,
                           CASEWORK)
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}

# Score bands for lenders: 350-950 in five steps, A best.
_BANDS = ((800, "A"), (700, "B"), (600, "C"), (500, "D"), (0, "E"))


def band_of(score: int) -> str:
    return next(b for lo, b in _BANDS if score >= lo)


def _j(x: Any) -> bytes:
    return orjson.dumps(x, option=orjson.OPT_SORT_KEYS)


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class QueueFilter:
    """What the queue shows: all fields optional."""
    severity: str = ""  # least severity: low, medium, high
    detector: str = ""
    listed: str = ""  # "yes", "no"
    assignee: str = ""  # a user name, "none" for unassigned
    search: str = ""  # part of the entity id
    overdue: bool = False


@dataclass
class QueueRow:
    entity_id: str
    severity: str
    detectors: list[str]
    alerts: int
    suspicion: float | None
    listed: bool
    listed_by: str | None
    score: int | None
    assignee: str | None
    oldest_ms: int
    age_hours: float
    overdue: bool
    extra: dict[str, Any] = field(default_factory=dict)


class ReadModel:
    """Reads and writes of the read model; a synchronous Redis client (callers in asyncio run
    it in a thread)."""

    def __init__(self, settings: Settings, redis: Any | None = None):
        from credence.store.redis import connect

        self.s = settings
        self.p = settings.inspect_prefix
        self.r = redis if redis is not None else connect(settings, decode=False,
                                                         socket_timeout=10)

    # ------------------------------------------------------------------ keys

    def k(self, *parts: str) -> str:
        return ":".join((self.p, *parts))

    # ------------------------------------------------------------------ feeding

    def offsets(self) -> dict[str, int]:
        """``{"topic/partition": next offset}`` of what has been applied."""
        return {k.decode(): int(v) for k, v in self.r.hgetall(self.k("offsets")).items()}

    def apply(self, topic: str, value: bytes) -> bool:
        """Apply one message of ``topic`` (contract name); False if it is not valid JSON of the
        expected shape (skipped: the worker is the only writer of outputs, and the contract
        validated decisions before the worker used them)."""
        try:
            d = orjson.loads(value)
            if topic == "alerts":
                self._alert(d)
            elif topic == "blacklist":
                self._listing(d)
            elif topic == "credit-scores":
                self._score(d)
            elif topic == "decisions":
                self._decision(d)
            elif topic == POLICY:
                self._policy(d)
            elif topic == CASEWORK:
                self.apply_casework(d)
            else:
                return False
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return False
        return True

    def commit(self, offsets: dict[str, int]) -> None:
        """Record offsets applied (after their messages' effects: at least once, idempotent)."""
        if offsets:
            pipe = self.r.pipeline(transaction=True)
            pipe.hset(self.k("offsets"), mapping={k: str(v) for k, v in offsets.items()})
            pipe.incr(self.k("version"))
            pipe.execute()

    def version(self) -> int:
        return int(self.r.get(self.k("version")) or 0)

    def _alert(self, a: dict[str, Any]) -> None:
        aid, seller = str(a["alert_id"]), str(a["seller_id"])
        ts = parse_ts(a["ts"])
        pipe = self.r.pipeline(transaction=True)
        pipe.set(self.k("alert", aid), _j(a))
        pipe.zadd(self.k("case-alerts", seller), {aid: ts})
        pipe.sadd(self.k("cases"), seller)
        pipe.execute()
        if not self.r.hexists(self.k("decided"), aid):
            self.r.sadd(self.k("open", seller), aid)
        self._requeue(seller)

    def _listing(self, b: dict[str, Any]) -> None:
        e, ts = str(b["entity_id"]), parse_ts(b["ts"])
        cur = self.r.hget(self.k("listing"), e)
        pipe = self.r.pipeline(transaction=True)
        if cur is None or parse_ts(orjson.loads(cur)["ts"]) <= ts:
            pipe.hset(self.k("listing"), e, _j(b))
        pipe.zadd(self.k("listings", e), {_j(b): ts})
        pipe.zadd(self.k("audit"), {_j({"kind": "listing", "ts": b["ts"], "entity_id": e,
                                        "entity_type": b.get("entity_type"),
                                        "action": b["action"], "by": b["by"],
                                        "reason": b.get("reason", ""),
                                        "alert_ids": b.get("alert_ids", [])}): ts})
        pipe.execute()

    def _score(self, sc: dict[str, Any]) -> None:
        seller, ts = str(sc["seller_id"]), parse_ts(sc["ts"])
        cur = self.r.hget(self.k("score"), seller)
        row = {"seller_id": seller, "score": int(sc["score"]), "previous": sc.get("previous"),
               "ts": sc["ts"], "reasons": [{"code": r["code"],
                                            "text": r.get("text") or reason_text(r["code"])}
                                           for r in sc.get("reasons", [])],
               "components": sc.get("components", {})}
        pipe = self.r.pipeline(transaction=True)
        if cur is None or parse_ts(orjson.loads(cur)["ts"]) <= ts:
            pipe.hset(self.k("score"), seller, _j(row))
        pipe.zadd(self.k("scores", seller), {_j(row): ts})
        pipe.zadd(self.k("score-log"), {_j(row): ts})
        pipe.execute()

    def _decision(self, d: dict[str, Any]) -> None:
        e, ts = str(d["entity_id"]), parse_ts(d["ts"])
        row = {"kind": "decision", "ts": d["ts"], "entity_id": e,
               "entity_type": d.get("entity_type"), "action": d["action"],
               "inspector": d["inspector"], "alert_id": d.get("alert_id"),
               "note": d.get("note") or ""}
        aid = d.get("alert_id")
        covered = [aid] if aid else [x.decode() for x in self.r.smembers(self.k("open", e))]
        pipe = self.r.pipeline(transaction=True)
        pipe.zadd(self.k("decisions", e), {_j(row): ts})
        pipe.zadd(self.k("audit"), {_j(row): ts})
        pipe.sadd(self.k("cases"), e)
        for a in covered:
            pipe.hset(self.k("decided"), a, _j(row))
        pipe.execute()
        cases = {e}
        for a in covered:
            raw = self.r.get(self.k("alert", a))
            seller = orjson.loads(raw)["seller_id"] if raw else e
            cases.add(seller)
            self.r.srem(self.k("open", seller), a)
        for c in cases:
            self._requeue(c)

    def _policy(self, d: dict[str, Any]) -> None:
        ts = parse_ts(d["ts"])
        row = {"kind": "policy", "ts": d["ts"], "entity_id": d["setting"],
               "action": f"{d['setting']} = {d['value']:g}", "by": d["by"],
               "note": d.get("reason") or ""}
        cur = self._hget_json("policy", d["setting"])
        pipe = self.r.pipeline(transaction=True)
        if cur is None or parse_ts(cur["ts"]) <= ts:
            pipe.hset(self.k("policy"), d["setting"], _j(d))
        pipe.zadd(self.k("audit"), {_j(row): ts})
        pipe.execute()

    def policy(self) -> dict[str, dict[str, Any]]:
        """The latest change of each run-time setting (none: the settings' value holds)."""
        return {k.decode(): orjson.loads(v) for k, v in self.r.hgetall(self.k("policy")).items()}

    def _requeue(self, entity: str) -> None:
        """The queue holds entities with open alerts, scored by their oldest detection time."""
        ids = [x.decode() for x in self.r.smembers(self.k("open", entity))]
        alerts = self._alerts(ids)
        if not alerts:
            self.r.zrem(self.k("queue"), entity)
            return
        oldest = min(parse_ts(a.get("detected_at") or a["ts"]) for a in alerts)
        self.r.zadd(self.k("queue"), {entity: oldest})

    # ------------------------------------------------------------------ workbench's own

    @staticmethod
    def casework_row(kind: str, entity: str, by: str, *, assignee: str = "",
                     note: str = "") -> dict[str, Any]:
        """An assignment (``kind="assign"``) or a note, stamped now: the message sent to
        ``credence-casework`` and, as it is, the audit row."""
        if kind == "assign":
            return {"kind": "assign", "ts": _iso_now(), "entity_id": entity,
                    "assignee": assignee, "by": by}
        if kind == "note":
            return {"kind": "note", "ts": _iso_now(), "entity_id": entity, "by": by,
                    "note": note}
        raise ValueError(f"unknown casework kind {kind!r}")

    def apply_casework(self, row: dict[str, Any]) -> None:
        """Apply an assignment or a note (from the topic, or at once by the workbench that sent
        it); idempotent. Assignments apply in the topic's order: the latest wins."""
        kind, entity, ts = row["kind"], str(row["entity_id"]), parse_ts(row["ts"])
        pipe = self.r.pipeline(transaction=True)
        if kind == "assign":
            pipe.hset(self.k("assign"), entity, str(row["assignee"]))
        elif kind == "note":
            pipe.zadd(self.k("notes", entity), {_j(row): ts})
        else:
            raise ValueError(f"unknown casework kind {kind!r}")
        pipe.zadd(self.k("audit"), {_j(row): ts})
        pipe.incr(self.k("version"))
        pipe.execute()

    # ------------------------------------------------------------------ reading

    def _alerts(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        ids = list(ids)
        if not ids:
            return []
        raws = self.r.mget([self.k("alert", i) for i in ids])
        return [orjson.loads(x) for x in raws if x]

    def _hget_json(self, key: str, field_: str) -> dict[str, Any] | None:
        raw = self.r.hget(self.k(key), field_)
        return orjson.loads(raw) if raw else None

    def suspicion(self, entity: str) -> dict[str, Any] | None:
        """The worker's current suspicion of an entity (its Redis view, read only)."""
        raw = self.r.hget(view(self.s.key_prefix, "susp"), entity)
        return orjson.loads(raw) if raw else None

    def queue(self, f: QueueFilter = QueueFilter(), limit: int = 500,  # noqa: B008 - frozen
              now_ms: int | None = None) -> list[QueueRow]:
        now_ms = _now_ms() if now_ms is None else now_ms
        sla_ms = self.s.inspect_sla_hours * 3600_000
        entities = [x.decode() for x in self.r.zrange(self.k("queue"), 0, -1)]
        if f.search:
            entities = [e for e in entities if f.search.lower() in e.lower()]
        assign = {k.decode(): v.decode() for k, v in self.r.hgetall(self.k("assign")).items()}
        rows: list[QueueRow] = []
        for e in entities:
            ids = [x.decode() for x in self.r.smembers(self.k("open", e))]
            alerts = self._alerts(ids)
            if not alerts:
                continue
            sev = max((a["severity"] for a in alerts), key=lambda s: SEVERITY_RANK.get(s, 0))
            dets = sorted({a["detector"] for a in alerts})
            listing = self._hget_json("listing", e)
            listed = bool(listing and listing["action"] == "add")
            score = self._hget_json("score", e)
            susp = self.suspicion(e)
            oldest = min(parse_ts(a.get("detected_at") or a["ts"]) for a in alerts)
            age = max(0, now_ms - oldest)
            row = QueueRow(e, sev, dets, len(alerts),
                           susp["score"] if susp else max(a["score"] for a in alerts),
                           listed, listing["by"] if listed and listing else None,
                           score["score"] if score else None, assign.get(e), oldest,
                           round(age / 3600_000, 1), age > sla_ms)
            if f.severity and SEVERITY_RANK.get(sev, 0) < SEVERITY_RANK.get(f.severity, 0):
                continue
            if f.detector and f.detector not in dets:
                continue
            if f.listed == "yes" and not listed or f.listed == "no" and listed:
                continue
            if f.assignee == "none" and row.assignee or \
                    f.assignee not in ("", "none") and row.assignee != f.assignee:
                continue
            if f.overdue and not row.overdue:
                continue
            rows.append(row)
        # Most severe first, then the longest waiting.
        rows.sort(key=lambda r: (-SEVERITY_RANK.get(r.severity, 0), r.oldest_ms, r.entity_id))
        return rows[:limit]

    def next_unassigned(self) -> str | None:
        rows = self.queue(QueueFilter(assignee="none"), limit=1)
        return rows[0].entity_id if rows else None

    def detectors(self) -> list[str]:
        """Detectors seen in open alerts (the queue's filter choices)."""
        out: set[str] = set()
        for e in self.r.zrange(self.k("queue"), 0, -1):
            out.update(a["detector"] for a in self._alerts(
                x.decode() for x in self.r.smembers(self.k("open", e.decode()))))
        return sorted(out)

    def _zjson(self, key: str, newest_first: bool = False) -> list[dict[str, Any]]:
        raws = self.r.zrange(key, 0, -1)
        rows = [orjson.loads(x) for x in raws]
        return rows[::-1] if newest_first else rows

    def known(self, entity: str) -> bool:
        return bool(self.r.sismember(self.k("cases"), entity)
                    or self.r.hexists(self.k("listing"), entity)
                    or self.r.hexists(self.k("score"), entity))

    def case(self, entity: str) -> dict[str, Any]:
        """Everything the case page shows about an entity."""
        ids = [x.decode() for x in self.r.zrange(self.k("case-alerts", entity), 0, -1)]
        alerts = self._alerts(ids)
        open_ids = {x.decode() for x in self.r.smembers(self.k("open", entity))}
        decided_raw = self.r.hmget(self.k("decided"), ids) if ids else []
        decided = {i: orjson.loads(x) for i, x in zip(ids, decided_raw, strict=True) if x}
        for a in alerts:
            a["open"] = a["alert_id"] in open_ids
            a["decision"] = decided.get(a["alert_id"])
        alerts.sort(key=lambda a: (parse_ts(a["ts"]), a["alert_id"]), reverse=True)
        score = self._hget_json("score", entity)
        scores = self._zjson(self.k("scores", entity))
        assignee = self.r.hget(self.k("assign"), entity)
        return {
            "entity_id": entity,
            "alerts": alerts,
            "open": [a for a in alerts if a["open"]],
            "listing": self._hget_json("listing", entity),
            "listings": self._zjson(self.k("listings", entity), newest_first=True),
            "score": score,
            "scores": scores,
            "decisions": self._zjson(self.k("decisions", entity), newest_first=True),
            "notes": self._zjson(self.k("notes", entity), newest_first=True),
            "assignee": assignee.decode() if assignee else None,
            "suspicion": self.suspicion(entity),
        }

    def audit(self, inspector: str = "", entity: str = "", kind: str = "",
              limit: int = 10_000) -> list[dict[str, Any]]:
        """Decisions, listing changes, policy changes, assignments and notes, newest first."""
        out = []
        for raw in self.r.zrevrange(self.k("audit"), 0, -1):
            row = orjson.loads(raw)
            who = row.get("inspector") or row.get("by") or ""
            if inspector and who not in (inspector, f"inspector:{inspector}"):
                continue
            if entity and row["entity_id"] != entity:
                continue
            if kind and row["kind"] != kind:
                continue
            out.append(row)
            if len(out) >= limit:
                break
        return out

    def seller_score(self, seller: str) -> dict[str, Any] | None:
        """What the lender API answers for a seller, or None when it has no score."""
        cur = self._hget_json("score", seller)
        if cur is None:
            return None
        listing = self._hget_json("listing", seller)
        hist = self._zjson(self.k("scores", seller), newest_first=True)
        return {"seller_id": seller, "score": cur["score"], "band": band_of(cur["score"]),
                "previous": cur["previous"], "ts": cur["ts"],
                "listed": bool(listing and listing["action"] == "add"),
                "reasons": cur["reasons"],
                "history": [{"ts": h["ts"], "score": h["score"]} for h in hist]}

    def day(self, start_ms: int, end_ms: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Listing changes and score changes with event time in [start, end), in time order."""
        listings = [orjson.loads(x) for x in self.r.zrangebyscore(
            self.k("audit"), start_ms, end_ms - 1)]
        listings = [x for x in listings if x["kind"] == "listing"]
        scores = [orjson.loads(x) for x in self.r.zrangebyscore(
            self.k("score-log"), start_ms, end_ms - 1)]
        return listings, scores


def _iso_now() -> str:
    from credence.contract import iso

    return iso(_now_ms())
