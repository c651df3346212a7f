from __future__ import annotations

from credence.contract import Order, Review
from credence.sequencer import PartitionClock, Sequencer


def _o(i: int, ts: int, seller: str = "s") -> Order:
    return Order(order_id=f"o{i}", seller_id=seller, buyer_id="b", amount=1.0, ts=ts)


def test_ticks_release_when_the_watermark_passes_their_end():
    seq = Sequencer(tick_ms=1000, lateness_ms=500)
    seq.push(_o(1, 100), 1)
    seq.push(_o(2, 1200), 2)
    assert list(seq.release(seq.own_watermark())) == []  # 1200 - 500 < 1000
    seq.push(_o(3, 1600), 3)
    ticks = list(seq.release(seq.own_watermark()))  # 1100 ≥ 1000
    assert [t.end for t in ticks] == [1000] and [e.order_id for e, _ in ticks[0].events] == ["o1"]
    rest = list(seq.flush())
    assert [t.end for t in rest] == [2000] and len(rest[0].events) == 2


def test_events_within_a_tick_are_sorted_whatever_the_arrival_order():
    a = [_o(1, 50, "s2"), Review(review_id="r", seller_id="s1", reviewer_id="u", rating=5,
                                 ts=50), _o(2, 50, "s1"), _o(3, 10, "s9")]
    orders = []
    for perm in (a, list(reversed(a))):
        seq = Sequencer(1000, 0)
        for e in perm:
            seq.push(e, 0 if e.type == "review" else int(e.event_id[1:]))
        orders.append([e.event_id for t in seq.flush() for e, _ in t.events])
    assert orders[0] == orders[1] == ["o3", "o2", "o1", "r"]


def test_a_late_event_joins_the_earliest_open_tick():
    seq = Sequencer(1000, 0)
    seq.push(_o(1, 100), 1)
    seq.push(_o(2, 2100), 2)
    assert [t.end for t in seq.release(2000)] == [1000]
    assert seq.push(_o(3, 300), 3) is True and seq.late == 1
    ticks = list(seq.flush())
    assert [t.end for t in ticks] == [2000, 3000]
    assert [e.order_id for e, _ in ticks[0].events] == ["o3"]  # late: in the first open tick


def test_partition_clock_waits_for_every_partition_and_skips_idle_ones():
    c = PartitionClock(lateness_ms=100, idle_ms=1000, expected={"o/0", "o/1"})
    c.observe("o/0", 5000, False, wall=0.0)
    assert c.watermark(0.0) is None  # o/1 not heard from
    c.observe("o/1", 3000, False, wall=0.0)
    assert c.watermark(0.0) == 2900
    c.observe("o/1", None, True, wall=1.0)  # caught up ...
    assert c.watermark(1.5) == 2900  # ... but not yet idle
    assert c.watermark(2.1) == 4900 and not c.all_idle(2.1)
    c.observe("o/0", None, True, wall=3.0)
    assert c.all_idle(4.1)
    c.observe("o/1", 3500, False, wall=5.0)  # new data: holds the watermark again
    assert c.watermark(5.0) == 3400
