"""Routing of lines to topics and keys, pacing arithmetic, rate reporting."""

from __future__ import annotations

import orjson
import pytest

from producers.publisher import Pacer, PublishStats, RouteError, events_per_second, route

ORDER = {"type": "order", "order_id": "o1", "seller_id": "s1", "buyer_id": "u1",
         "amount": 1.0, "ts": 1790000000000}


def test_route_by_type_with_contract_keys():
    assert route(orjson.dumps(ORDER)) == ("orders", "s1", 1790000000000)
    refund = {"type": "refund", "order_id": "o1", "seller_id": "s2", "amount": 1.0,
              "ts": "2026-10-01T00:00:00Z"}
    assert route(orjson.dumps(refund))[:2] == ("orders", "s2")
    rec = {"type": "record", "record_id": "x", "seller_id": "s3", "source": "court",
           "kind": "judgment", "ts": 1}
    assert route(orjson.dumps(rec))[:2] == ("records", "s3")
    dec = {"type": "decision", "entity_id": "u7", "entity_type": "account", "action": "lift",
           "inspector": "bo", "ts": 1}
    assert route(orjson.dumps(dec))[:2] == ("decisions", "u7")


@pytest.mark.parametrize("line, validate, reason", [
    (b"{", True, "bad JSON"),
    (b"{", False, "bad JSON"),
    (b"3", False, "JSON object"),
    (b'{"type": "nope"}', False, "cannot route"),
    (b'{"seller_id": "s"}', False, "cannot route"),
    (orjson.dumps({**ORDER, "amount": -1}), True, "amount"),
])
def test_unroutable_or_invalid_lines(line, validate, reason):
    with pytest.raises(RouteError, match=reason):
        route(line, validate=validate)


def test_no_validate_passes_invalid_but_routable_objects():
    assert route(orjson.dumps({**ORDER, "amount": -1, "seller_id": 5}), validate=False) == (
        "orders", None, None)


def test_pacer_rate_and_speedup():
    p = Pacer(rate=100)
    assert p.delay(0, None) <= 0
    assert 0.9 < p.delay(100, None) <= 1.0
    s = Pacer(speedup=60)
    assert s.delay(0, 1_000_000) <= 0
    assert 0.9 < s.delay(1, 1_000_000 + 60_000) <= 1.0  # a minute of event time in a second
    assert not Pacer().active and Pacer().delay(5, 1) == 0
    with pytest.raises(ValueError):
        Pacer(rate=1, speedup=1)


def test_rate_reporting():
    assert events_per_second(1000, 0.5) == 2000
    assert events_per_second(10, 0) == 0
    st = PublishStats(sent={"orders": 300, "reviews": 100, "records": 0, "decisions": 0},
                      seconds=2.0, skipped=2)
    assert st.total == 400 and st.rate == 200
    assert st.summary().startswith("sent 400 events (orders 300, reviews 100) in 2.00 s "
                                   "(200 events/s); skipped 2 lines")
