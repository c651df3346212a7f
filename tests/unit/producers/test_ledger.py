"""The ledger: window, time order with stable ties, sequential ids, references, tracking."""

from __future__ import annotations

import orjson
from numpy.random import PCG64, Generator

from producers.ledger import Ledger, synthetic_ids


def test_ids_follow_time_order_and_references_resolve():
    led = Ledger(0, 10_000)
    late = led.order(5000, "s1", "u1", 10.0)
    early = led.order(1000, "s2", "u2", 20.0, shipped=False)
    assert late is not None and early is not None
    led.review(6000, "s1", "u1", 5, order_ref=late)
    led.refund(2000, early, 20.0, "cancelled")
    tie_a = led.record(3000, "s1", "invoice", "daily_sales", amount=1.0)
    tie_b = led.record(3000, "s2", "invoice", "daily_sales", amount=2.0)
    assert led.order(10_000, "s1", "u1", 1.0) is None  # outside the window: dropped
    out = led.finalize(Generator(PCG64(1)), synthetic_ids())
    evs = [orjson.loads(x) for x in out.lines]
    assert [e["type"] for e in evs] == ["order", "refund", "record", "record", "order",
                                        "review"]
    assert evs[0]["order_id"] == "o000000001" and evs[4]["order_id"] == "o000000002"
    assert evs[1]["order_id"] == "o000000001" and evs[5]["order_id"] == "o000000002"
    assert [evs[2]["seller_id"], evs[3]["seller_id"]] == ["s1", "s2"]  # stable ties
    assert out.ids[tie_a] == "x00000001" and out.ids[tie_b] == "x00000002"
    assert evs[0]["tracking_no"] is None and evs[4]["tracking_no"][:2].isalpha()
    assert out.keys == [e["seller_id"] for e in evs]
    assert out.ts == sorted(out.ts)
