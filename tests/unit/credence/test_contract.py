from __future__ import annotations

import orjson
import pytest

from credence.contract import (
    DEAD_LETTER_PAYLOAD_BYTES,
    DeadLetter,
    Decision,
    InvalidEvent,
    Order,
    iso,
    parse_event,
    parse_ts,
)

ORDER = {"type": "order", "order_id": "o1", "seller_id": "s1", "buyer_id": "b1", "amount": 12.5,
         "ts": "2026-11-27T13:31:00.123Z"}


def test_both_ts_forms_give_the_same_epoch_ms():
    iso_z = parse_ts("2026-11-27T13:31:00.123Z")
    assert iso_z == parse_ts("2026-11-27T21:31:00.123+08:00") == parse_ts(iso_z)
    assert iso(iso_z) == "2026-11-27T13:31:00.123Z"


@pytest.mark.parametrize("bad", ["2026-11-27T13:31:00", "yesterday", 1.5, True, None, -1,
                                 99_999_999_999_999])
def test_bad_ts_is_rejected(bad):
    with pytest.raises(ValueError):
        parse_ts(bad)


def test_order_defaults_and_extra_fields():
    e = parse_event(orjson.dumps({**ORDER, "something_new": 1}))
    assert isinstance(e, Order)
    assert e.quantity == 1 and e.currency == "CNY" and not e.shipped
    assert e.key == "s1" and e.event_id == "o1"


@pytest.mark.parametrize("change,reason", [
    ({"amount": -3}, "field 'amount'"),
    ({"amount": 0}, "field 'amount'"),
    ({"amount": "12.5"}, "field 'amount'"),
    ({"order_id": 7}, "field 'order_id'"),
    ({"quantity": 0}, "field 'quantity'"),
    ({"ts": "2026-11-27T13:31:00"}, "without a zone"),
    ({"type": "payment"}, "unknown type 'payment'"),
    ({"type": 3}, "unknown type"),
])
def test_invalid_orders_name_the_field(change, reason):
    with pytest.raises(InvalidEvent, match=reason):
        parse_event(orjson.dumps({**ORDER, **change}))


def test_missing_required_field():
    body = dict(ORDER)
    del body["buyer_id"]
    with pytest.raises(InvalidEvent, match="missing field 'buyer_id'"):
        parse_event(orjson.dumps(body))


@pytest.mark.parametrize("raw,reason", [
    (b"{nope", "bad JSON"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"x": 1}', "missing field 'type'"),
    (b'{"type":"order","order_id":"\xff"}', "not valid UTF-8"),
    (b'{"type":"review","review_id":"r","seller_id":"s","reviewer_id":"u","rating":7,"ts":1}',
     "field 'rating'"),
    (b'{"type":"record","record_id":"r","seller_id":"s","source":"bank","kind":"k","ts":1}',
     "field 'source'"),
])
def test_bad_payloads(raw, reason):
    with pytest.raises(InvalidEvent, match=reason):
        parse_event(raw)


def test_oversized_payload():
    with pytest.raises(InvalidEvent, match="exceeds the 1000-byte limit"):
        parse_event(b"{" + b" " * 2000 + b"}", max_bytes=1000)


def test_decision_id_is_deterministic_and_content_based():
    d = {"type": "decision", "entity_id": "s1", "entity_type": "seller", "action": "confirm",
         "inspector": "ann", "ts": 1}
    a, b = parse_event(orjson.dumps(d)), parse_event(orjson.dumps(d))
    assert isinstance(a, Decision) and a.event_id == b.event_id
    c = parse_event(orjson.dumps({**d, "action": "dismiss"}))
    assert c.event_id != a.event_id
    assert a.key == "s1"


def test_dead_letter_cuts_payload_at_4kib():
    dl = DeadLetter.of(b"x" * 10_000, "too big", source_topic="orders", partition=1, offset=9,
                       now_ms=0)
    assert len(dl.payload) == DEAD_LETTER_PAYLOAD_BYTES
    assert orjson.loads(dl.to_json())["ts"] == "1970-01-01T00:00:00.000Z"
