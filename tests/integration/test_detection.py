"""Detection and scoring end to end: events into Kafka, outputs read with a plain consumer."""

from __future__ import annotations

import orjson
import pytest

from tests.integration.support import consume_all, produce

pytestmark = pytest.mark.integration

FAST = {"idle_seconds": 1.0, "batch_wait": 0.02}


def _only(pattern: str) -> list[str]:
    from producers.scenario import NEGATIVE_NAMES, PATTERN_NAMES

    return [f"{p}.count=0" for p in PATTERN_NAMES if p != pattern] + \
        [f"{n}.count=0" for n in NEGATIVE_NAMES]


def test_a_wash_ring_yields_an_alert_and_a_blacklist_add(env_factory, worker_factory):
    from producers.scenario import Scenario
    from producers.simulator import simulate

    sim = simulate(Scenario(seed=5, scale=0.03, days=5).with_settings(
        [*_only("wash_ring"), "wash_ring.count=1"]))
    (ring,) = [p for p in sim.truth.patterns if p.pattern == "wash_ring"]
    seller = ring.culprit_sellers[0]
    puppets = set(ring.culprit_accounts)
    s = env_factory(partitions=3, **FAST)
    produce(s, [bytes(x) for x in sim.events.lines])
    w = worker_factory(s)

    def keyed(topic: str, pred) -> list[dict]:
        msgs = consume_all(s, topic, timeout=400,
                           until=lambda ms: any(pred(orjson.loads(m.value())) for m in ms))
        return [orjson.loads(m.value()) for m in msgs if pred(orjson.loads(m.value()))]

    alerts = keyed("alerts", lambda a: a["seller_id"] == seller)
    assert alerts, w.tail()
    a = alerts[0]
    assert set(a["accounts"]) & puppets and a["severity"] in ("medium", "high")
    assert a["alert_id"] and a["evidence"] and a["summary"].endswith(".")
    adds = keyed("blacklist", lambda b: b["action"] == "add" and b["by"] == "auto" and (
        b["entity_id"] == seller or b["entity_id"] in puppets))
    assert adds, w.tail()
    assert {b["entity_id"] for b in adds} & ({seller} | puppets)


def test_credit_scores_are_published_after_events(env_factory, worker_factory):
    s = env_factory(partitions=2, **FAST)
    t0 = 1_790_000_000_000
    rows = []
    for i in range(120):
        ts = t0 + i * 600_000
        rows.append({"type": "order", "order_id": f"o{i}", "seller_id": "shop-1",
                     "buyer_id": f"b{i % 25}", "amount": 60.0, "ts": ts, "tracking_no": "t"})
        rows.append({"type": "review", "review_id": f"r{i}", "seller_id": "shop-1",
                     "reviewer_id": f"b{i % 25}", "rating": 5, "ts": ts + 1000,
                     "order_id": f"o{i}"})
    rows.append({"type": "record", "record_id": "court-1", "seller_id": "shop-1",
                 "source": "court", "kind": "judgment", "ts": t0 + 121 * 600_000})
    produce(s, rows)
    w = worker_factory(s)
    msgs = consume_all(s, "credit-scores", timeout=300, until=lambda ms: any(
        orjson.loads(m.value())["components"]["legal"] < 0 for m in ms))
    scores = [orjson.loads(m.value()) for m in msgs]
    assert scores, w.tail()
    assert all(m.key() == b"shop-1" for m in msgs)
    first, last = scores[0], scores[-1]
    assert first["previous"] is None and 350 <= first["score"] <= 950
    assert last["previous"] is not None
    assert set(last["components"]) >= {"sales_scale", "reviews", "legal"}
    assert last["components"]["legal"] < 0  # the court judgment, and the score moved for it
    # Reasons: the (at most) four components furthest below their maximum, adverse-action style.
    from credence.scoring import MAX_POINTS, REASONS

    gaps = sorted(((MAX_POINTS[k] - v, k) for k, v in last["components"].items()),
                  key=lambda x: (-x[0], x[1]))
    want = [REASONS[k][0] for gap, k in gaps if gap >= 1][:4]
    assert [r["code"] for r in last["reasons"]] == want
    # `credence score` shows the same score, its components, reasons and history from Redis.
    import subprocess
    import sys

    from tests.integration.support import ROOT, settings_env

    r = subprocess.run([sys.executable, "-m", "credence.cli", "score", "shop-1"],
                       env=settings_env(s), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"seller shop-1: {last['score']}" in r.stdout
    assert "components:" in r.stdout and "legal" in r.stdout and "history" in r.stdout
    missing = subprocess.run([sys.executable, "-m", "credence.cli", "score", "nobody"],
                             env=settings_env(s), cwd=ROOT, capture_output=True, text=True,
                             timeout=60)
    assert missing.returncode == 2 and "no score for seller 'nobody'" in missing.stderr
