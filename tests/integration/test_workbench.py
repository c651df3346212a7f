"""The workbench's handlers with aiohttp's test client, on a real Redis (the read model).

Messages are applied to the read model as the feed would; decisions go to a recording sender
(the browser test sends them to Kafka through a real worker)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

pytestmark = pytest.mark.integration

PW = "correct horse battery"


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def send(self, events: list[dict[str, Any]], timeout: float = 15.0) -> None:
        self.events.extend(events)

    def send_policy(self, change: dict[str, Any], timeout: float = 15.0) -> None:
        self.events.append(change)

    def send_casework(self, row: dict[str, Any], timeout: float = 15.0) -> None:
        self.events.append(row)


def alert(aid: str, seller: str, detector: str = "sock_puppets", severity: str = "high",
          ts: str = "2026-09-22T02:11:38.178Z", score: float = 0.9) -> bytes:
    return orjson.dumps({
        "alert_id": aid, "seller_id": seller, "detector": detector, "score": score,
        "severity": severity, "ts": ts, "detected_at": "2026-11-30T06:00:00.000Z",
        "accounts": ["pup01", "pup02"], "summary": "4 accounts linked by shared cards.",
        "evidence": {"order_ids": ["o1", "o2"], "shared_identifiers": ["d:dv_1"],
                     "chains": [["a", "b", "a"]], "share_of_seller_orders": 1.0}})


def score(seller: str, value: int, ts: str, previous: int | None = None) -> bytes:
    return orjson.dumps({"seller_id": seller, "score": value, "previous": previous, "ts": ts,
                         "components": {"sales_scale": 10.0},
                         "reasons": [{"code": "S01", "text": "Low genuine sales volume in "
                                      "the last 90 days"}, {"code": "M01", "text": ""}]})


@pytest.fixture
async def client(redis_factory, tmp_path) -> AsyncIterator[TestClient]:
    from credence.workbench.app import Workbench, create_app

    s = redis_factory(home=tmp_path)
    rec = Recorder()
    wb = Workbench.from_settings(s, sender=rec)  # type: ignore[arg-type]
    wb.users.add("ann", "inspector", PW)
    wb.users.add("sue", "supervisor", PW)
    async with TestClient(TestServer(create_app(wb))) as c:
        c.wb, c.rec = wb, rec  # type: ignore[attr-defined]
        yield c


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html[:500]
    return m.group(1)


async def login(c: TestClient, user: str = "ann", password: str = PW) -> str:
    """Log in; return the session's CSRF token."""
    page = await (await c.get("/login")).text()
    r = await c.post("/login", data={"username": user, "password": password,
                                     "csrf": _csrf(page), "next": "/queue"},
                     allow_redirects=False)
    assert r.status == 303, await r.text()
    return _csrf(await (await c.get("/queue")).text())


async def test_pages_need_a_login_and_cookies_are_strict(client):
    r = await client.get("/queue", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/login?next=/queue"
    page = await (await client.get("/login?next=//evil.example/x")).text()
    assert 'name="next" value="/queue"' in page  # no open redirect
    bad = await client.post("/login", data={"username": "ann", "password": "wrong password!",
                                            "csrf": _csrf(page)})
    assert bad.status == 401 and "wrong password" in await bad.text()
    r = await client.post("/login", data={"username": "ann", "password": PW,
                                          "csrf": _csrf(page)}, allow_redirects=False)
    assert r.status == 303
    cookie = next(v for k, v in r.headers.items() if k == "Set-Cookie"
                  and v.startswith("credence_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    q = await client.get("/queue")
    assert q.status == 200 and "ann (inspector)" in await q.text()
    assert "default-src 'self'" in q.headers["Content-Security-Policy"]
    assert q.headers["X-Frame-Options"] == "DENY"
    # A tampered cookie is no session.
    sid = client.session.cookie_jar.filter_cookies(client.make_url("/"))["credence_session"]
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"credence_session": sid.value[:-2] + "xx"},
                                             response_url=client.make_url("/"))
    r = await client.get("/queue", allow_redirects=False)
    assert r.status == 303


async def test_login_without_its_csrf_token_is_refused(client):
    r = await client.post("/login", data={"username": "ann", "password": PW})
    assert r.status == 403


async def test_posts_need_a_session_and_the_csrf_token(client):
    client.wb.model.apply("alerts", alert("a1", "s1"))
    # No session at all: refused, nothing sent.
    r = await client.post("/case/s1/decide", data={"action": "confirm", "reason": "ring",
                                                   "alert_id": "a1"})
    assert r.status == 403
    token = await login(client)
    for data in ({}, {"csrf": "forged"}):
        r = await client.post("/case/s1/decide", data={"action": "confirm", "reason": "ring",
                                                       "alert_id": "a1", **data})
        assert r.status == 403 and "CSRF" in await r.text()
    assert client.rec.events == []
    r = await client.post("/case/s1/decide", data={"action": "confirm", "reason": "ring",
                                                   "alert_id": "a1", "csrf": token},
                          allow_redirects=False)
    assert r.status == 303


async def test_decide_stamps_the_login_and_needs_a_reason(client):
    m = client.wb.model
    m.apply("alerts", alert("a1", "s1"))
    m.apply("alerts", alert("a2", "s1", detector="dense_block", severity="medium"))
    token = await login(client)
    r = await client.post("/case/s1/decide", data={"action": "confirm", "reason": " ",
                                                   "alert_id": "a1", "csrf": token})
    assert r.status == 400 and "A reason is required" in await r.text()
    r = await client.post("/case/s1/decide", data={"action": "confirm", "reason": "x",
                                                   "alert_id": "zzz", "csrf": token})
    assert r.status == 400 and "not one of this case" in await r.text()
    r = await client.post("/case/s1/decide", data=[
        ("action", "confirm"), ("reason", "shared cards, new accounts"), ("alert_id", "a1"),
        ("alert_id", "a2"), ("inspector", "mallory"), ("csrf", token)], allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/case/s1?sent=2"
    evs = client.rec.events
    assert [e["alert_id"] for e in evs] == ["a1", "a2"]
    assert {e["inspector"] for e in evs} == {"ann"}  # the login, not the form
    assert all(e["note"] == "shared cards, new accounts" and e["entity_type"] == "seller"
               and e["action"] == "confirm" for e in evs)
    # Read back from `decisions`: the alerts close and the case leaves the queue.
    for e in evs:
        m.apply("decisions", orjson.dumps(e))
    assert m.queue() == []
    case = m.case("s1")
    assert case["open"] == [] and all(a["decision"]["inspector"] == "ann"
                                      for a in case["alerts"])


async def test_queue_rows_filters_and_next_unassigned(client):
    m = client.wb.model
    m.apply("alerts", alert("a1", "s1", severity="low"))
    m.apply("alerts", alert("a2", "s2", severity="high", detector="cycles"))
    m.apply("alerts", alert("a3", "s2", severity="medium"))
    m.apply("blacklist", orjson.dumps({"entity_id": "s2", "entity_type": "seller",
                                       "action": "add", "reason": "suspicion 0.9",
                                       "alert_ids": ["a2"], "ts": "2026-09-22T03:00:00Z",
                                       "by": "auto"}))
    m.apply("credit-scores", score("s2", 512, "2026-09-22T03:00:00Z"))
    rows = m.queue()
    assert [r.entity_id for r in rows] == ["s2", "s1"]  # most severe first
    s2 = rows[0]
    assert (s2.alerts, s2.detectors, s2.listed, s2.listed_by, s2.score) == \
        (2, ["cycles", "sock_puppets"], True, "auto", 512)
    from credence.contract import parse_ts

    # Detected 2026-11-30T06:00Z; the SLA is 24 h of wall clock.
    assert m.queue(now_ms=parse_ts("2026-12-01T07:00:00Z"))[0].overdue
    assert not m.queue(now_ms=parse_ts("2026-11-30T07:00:00Z"))[0].overdue
    token = await login(client)
    page = await (await client.get("/queue?severity=high")).text()
    assert "/case/s2" in page and "/case/s1" not in page
    page = await (await client.get("/queue?q=s1")).text()
    assert "/case/s1" in page and "/case/s2" not in page
    frag = await (await client.get("/queue/rows?listed=no")).text()
    assert "/case/s1" in frag and "<html" not in frag
    r = await client.post("/next", data={"csrf": token}, allow_redirects=False)
    assert r.headers["Location"] == "/case/s2"
    assert m.queue()[0].assignee == "ann"
    r = await client.post("/next", data={"csrf": token}, allow_redirects=False)
    assert r.headers["Location"] == "/case/s1"


async def test_case_page_shows_evidence_plots_reasons_and_history(client):
    m = client.wb.model
    m.apply("alerts", alert("a1", "s1", ts="2026-09-20T00:00:00Z", score=0.6))
    m.apply("alerts", alert("a2", "s1", ts="2026-09-22T00:00:00Z", score=0.9))
    m.apply("credit-scores", score("s1", 700, "2026-09-20T00:00:00Z"))
    m.apply("credit-scores", score("s1", 520, "2026-09-22T00:00:00Z", previous=700))
    await login(client)
    html = await (await client.get("/case/s1")).text()
    assert "4 accounts linked by shared cards." in html
    assert "<code>o1</code>" in html and "a → b → a" in html  # ids and chains as tables
    assert html.count("<svg") == 2 and "Credit score" in html
    assert "Low genuine sales volume in the last 90 days" in html
    # A reason without its text gets its words from the code.
    assert "Activity attributed to manipulation" in html
    assert (await client.get("/case/nobody")).status == 404


async def test_assign_note_and_audit_with_csv(client):
    m = client.wb.model
    m.apply("alerts", alert("a1", "s1"))
    token = await login(client)
    await client.post("/case/s1/assign", data={"csrf": token})
    await client.post("/case/s1/note", data={"csrf": token, "note": "=HYPERLINK(\"x\")"})
    m.apply("decisions", orjson.dumps({
        "type": "decision", "entity_id": "s1", "entity_type": "seller", "action": "dismiss",
        "inspector": "bob", "ts": "2026-09-23T00:00:00Z", "alert_id": "a1",
        "note": "a B2B customer"}))
    m.apply("blacklist", orjson.dumps({"entity_id": "s1", "entity_type": "seller",
                                       "action": "remove", "reason": "dismissed",
                                       "alert_ids": ["a1"], "ts": "2026-09-23T00:00:00Z",
                                       "by": "inspector:bob"}))
    html = await (await client.get("/audit?inspector=bob")).text()
    assert "a B2B customer" in html and "dismissed" in html and "assigned to" not in html
    csv = await (await client.get("/audit.csv?entity=s1")).text()
    lines = csv.splitlines()
    assert lines[0] == "ts,kind,entity_id,entity_type,action,who,alert,reason"
    assert any(",decision,s1,seller,dismiss,bob,a1,a B2B customer" in x for x in lines)
    assert any(",assign,s1,,assigned to ann,ann" in x for x in lines)
    assert any("'=HYPERLINK" in x for x in lines)  # no formula for a spreadsheet
    # Both went to the casework topic (the read model is rebuilt from it), stamped with the login.
    assert [(e["kind"], e["by"]) for e in client.rec.events if e.get("kind") in (
        "assign", "note")] == [("assign", "ann"), ("note", "ann")]


async def test_logout_ends_the_session(client):
    token = await login(client)
    r = await client.post("/logout", data={"csrf": token}, allow_redirects=False)
    assert r.status == 303
    assert (await client.get("/queue", allow_redirects=False)).status == 303


async def test_an_alert_read_after_its_decision_stays_closed(client):
    m = client.wb.model
    m.apply("decisions", orjson.dumps({
        "type": "decision", "entity_id": "s1", "entity_type": "seller", "action": "confirm",
        "inspector": "ann", "ts": "2026-09-23T00:00:00Z", "alert_id": "a1", "note": "x"}))
    m.apply("alerts", alert("a1", "s1"))
    m.apply("alerts", alert("a1", "s1"))  # redelivered: idempotent
    assert m.queue() == [] and len(m.case("s1")["alerts"]) == 1
    assert not m.apply("alerts", b"not json")


async def test_lender_api_needs_a_token(client):
    m = client.wb.model
    m.apply("credit-scores", score("s1", 700, "2026-09-20T00:00:00Z"))
    m.apply("credit-scores", score("s1", 640, "2026-09-22T00:00:00Z", previous=700))
    token = client.wb.lenders.add("bank-a")
    assert client.wb.lenders.lender_of(token) == "bank-a"
    assert token not in client.wb.lenders.path.read_text()  # only its digest is kept
    url = "/api/v1/sellers/s1/score"
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": token}):
        r = await client.get(url, headers=headers)
        assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    r = await client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert r.status == 200
    d = await r.json()
    assert (d["seller_id"], d["score"], d["band"], d["listed"]) == ("s1", 640, "C", False)
    assert d["reasons"][1] == {"code": "M01", "text": "Activity attributed to manipulation "
                               "(excluded from the score)"}
    assert [h["score"] for h in d["history"]] == [640, 700]
    r = await client.get("/api/v1/sellers/nobody/score",
                         headers={"Authorization": f"Bearer {token}"})
    assert r.status == 404
    doc = await (await client.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    schema = doc["components"]["schemas"]["SellerScore"]
    assert set(schema["required"]) >= {"seller_id", "score", "band", "listed", "reasons",
                                       "history"}
    assert set(d) <= set(schema["properties"])


async def test_only_a_supervisor_changes_the_policy_and_it_is_audited(client):
    token = await login(client, "ann")
    r = await client.post("/policy", data={"csrf": token, "setting": "blacklist_threshold",
                                           "value": "0.7", "reason": "too many misses"})
    assert r.status == 403 and client.rec.events == []
    page = await (await client.get("/policy")).text()
    assert "Only supervisors change the policy" in page and "0.8" in page
    await client.post("/logout", data={"csrf": token})
    token = await login(client, "sue")
    for value, msg in (("x", "is a number"), ("1.5", "within 0.05..1")):
        r = await client.post("/policy", data={"csrf": token, "setting": "blacklist_threshold",
                                               "value": value, "reason": "r"})
        assert r.status == 400 and msg in await r.text()
    r = await client.post("/policy", data={"csrf": token, "setting": "alert_cooldown_seconds",
                                           "value": "3600", "reason": "noisy", "by": "mallory"},
                          allow_redirects=False)
    assert r.status == 303
    (ev,) = client.rec.events
    assert (ev["type"], ev["setting"], ev["value"], ev["by"]) == \
        ("policy", "alert_cooldown_seconds", 3600.0, "sue")
    client.wb.model.apply("credence-policy", orjson.dumps(ev))  # read back from the topic
    page = await (await client.get("/policy")).text()
    assert "3600" in page and "noisy" in page
    rows = client.wb.model.audit(kind="policy")
    assert rows[0]["action"] == "alert_cooldown_seconds = 3600" and rows[0]["by"] == "sue"
def _listing(entity: str, action: str, ts: str, by: str = "auto") -> bytes:
    return orjson.dumps({"entity_id": entity, "entity_type": "seller", "action": action,
                         "reason": "r", "alert_ids": [], "ts": ts, "by": by})


def test_registry_export_is_idempotent_per_date(redis_factory, tmp_path):
    import hashlib
    from datetime import date

    from credence.workbench.export import write_day
    from credence.workbench.readmodel import ReadModel

    m = ReadModel(redis_factory())
    m.apply("blacklist", _listing("s1", "add", "2026-09-22T23:59:59.999Z"))
    m.apply("blacklist", _listing("s2", "add", "2026-09-23T00:00:00Z"))
    m.apply("blacklist", _listing("s1", "remove", "2026-09-23T10:00:00Z", "inspector:ann"))
    m.apply("credit-scores", score("s1", 700, "2026-09-23T01:00:00Z"))
    m.apply("credit-scores", score("s1", 690, "2026-09-24T01:00:00Z", previous=700))
    day = date(2026, 9, 23)
    manifest, state = write_day(m, day, tmp_path)
    assert state == "written"
    man = orjson.loads(manifest.read_bytes())
    assert man["date"] == "2026-09-23" and man["counts"] == {
        "listing_changes": 2, "listed": 1, "unlisted": 1, "score_changes": 1,
        "sellers_scored": 1}
    d = tmp_path / "2026-09-23"
    for name, meta in man["files"].items():
        data = (d / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == meta["sha256"]
        assert len(data.splitlines()) == meta["rows"]
    rows = [orjson.loads(x) for x in (d / "listings.jsonl").read_bytes().splitlines()]
    assert [(r["entity_id"], r["action"]) for r in rows] == [("s2", "add"), ("s1", "remove")]
    scores = orjson.loads((d / "scores.jsonl").read_bytes())
    assert scores["reasons"][1]["text"].startswith("Activity attributed to manipulation")
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    assert write_day(m, day, tmp_path)[1] == "unchanged"
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before
    m.apply("blacklist", _listing("s3", "add", "2026-09-23T12:00:00Z"))  # arrived late
    assert write_day(m, day, tmp_path)[1] == "replaced"
    assert orjson.loads(manifest.read_bytes())["counts"]["listing_changes"] == 3


def test_read_model_is_fed_by_the_inspector_and_rebuilt_when_lost(env_factory, infra):
    """The feed reads the topics as the inspector principal (its ACLs suffice), and a read model
    that is lost comes back the same from the topics."""
    from config.credentials import as_principal
    from credence.security import apply_acls, revoke_acls
    from credence.workbench.feed import Feed
    from credence.workbench.readmodel import ReadModel
    from tests.integration.support import produce

    s = env_factory(partitions=2)
    if infra.secure:
        apply_acls(s, "inspector", "inspector", s)
    try:
        from config.kafka import producer

        p = producer(s)
        for topic, key, value in (
                ("alerts", "s1", alert("a1", "s1")), ("alerts", "s2", alert("a2", "s2")),
                ("blacklist", "s1", _listing("s1", "add", "2026-09-22T03:00:00Z")),
                ("credit-scores", "s1", score("s1", 600, "2026-09-22T03:00:00Z"))):
            p.produce(s.topic(topic), key=key.encode(), value=value)
        assert p.flush(30) == 0
        produce(s, [{"type": "decision", "entity_id": "s2", "entity_type": "seller",
                     "action": "dismiss", "inspector": "ann", "ts": "2026-09-23T00:00:00Z",
                     "alert_id": "a2", "note": "fine"}])
        ins = as_principal(s, "inspector") if s.kafka_username else s
        from credence.workbench.decisions import DecisionSender

        # An inspector's assignment and note: sent to the casework topic as the workbench does.
        sender = DecisionSender(ins)
        sender.send_casework(ReadModel.casework_row("assign", "s1", "ann", assignee="ann"))
        sender.send_casework(ReadModel.casework_row("note", "s1", "ann", note="calls Monday"))
        m = ReadModel(ins)
        feed = Feed(ins, m)
        feed.drain(idle=2, timeout=60)
        feed.stop()
        assert feed.applied == 7 and feed.skipped == 0
        first = [(r.entity_id, r.alerts, r.listed, r.score, r.assignee) for r in m.queue()]
        assert first == [("s1", 1, True, 600, "ann")]
        assert m.audit(inspector="ann", kind="decision")[0]["note"] == "fine"
        notes = m.case("s1")["notes"]
        assert [n["note"] for n in notes] == ["calls Monday"]
        # Lose it all; a new feed rebuilds it from the topics' start.
        admin = ReadModel(s)
        keys = list(admin.r.scan_iter(match=f"{s.inspect_prefix}:*"))
        admin.r.unlink(*keys)
        assert m.queue() == []
        feed = Feed(ins, m)
        feed.drain(idle=2, timeout=60)
        feed.stop()
        assert [(r.entity_id, r.alerts, r.listed, r.score, r.assignee)
                for r in m.queue()] == first
        assert m.case("s1")["notes"] == notes
        # Its Redis user may read the worker's keys, never write them.
        if infra.secure:
            import redis

            with pytest.raises(redis.exceptions.NoPermissionError):
                m.r.set(f"{s.key_prefix}:view:score", b"x")
    finally:
        if infra.secure:
            revoke_acls(s, "inspector", "inspector", s)


def test_a_worker_applies_a_policy_change_without_a_restart(env_factory, worker_factory, infra):
    """A supervisor's change reaches a running worker through the compacted policy topic."""
    import time
    import urllib.error
    import urllib.request
    from pathlib import Path

    from config.credentials import as_principal
    from credence.contract import iso
    from credence.security import apply_acls, revoke_acls
    from credence.workbench.decisions import DecisionSender
    from tests.integration.support import produce, wait_for

    s = env_factory(partitions=2, idle_seconds=1.0, batch_wait=0.02)
    if infra.secure:
        apply_acls(s, "inspector", "inspector", s)
    try:
        case = Path(__file__).resolve().parents[1] / "fixtures" / "wash_ring_vs_households"
        produce(s, (case / "events.jsonl").read_bytes().splitlines()[:150])
        w = worker_factory(s)

        def policy() -> dict:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{w.port}/health",  # noqa: S310
                                            timeout=2) as r:
                    body = r.read()
            except urllib.error.HTTPError as e:
                body = e.read()
            except OSError:
                return {}
            return orjson.loads(body).get("policy") or {}

        wait_for(lambda: policy().get("blacklist_threshold") == 0.8, 180, "the detection stage",
                 worker=w)
        ins = as_principal(s, "inspector") if s.kafka_username else s
        DecisionSender(ins).send_policy({
            "type": "policy", "setting": "blacklist_threshold", "value": 0.65, "by": "sue",
            "reason": "test", "ts": iso(int(time.time() * 1000))})
        wait_for(lambda: policy().get("blacklist_threshold") == 0.65, 120, "the new threshold",
                 worker=w)
        assert policy()["alert_cooldown_seconds"] == s.alert_cooldown_seconds
    finally:
        if infra.secure:
            revoke_acls(s, "inspector", "inspector", s)
