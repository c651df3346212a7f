"""Feature ops on the memory store: the semantics the Redis Lua script mirrors (the integration
test tests/integration/test_redis_store.py checks Redis gives the same state)."""

from __future__ import annotations

from credence.contract import DAY_MS, HOUR_MS, Order, Review
from credence.features import SELLER_METRICS, FeatureModel, SlotAdd, ZTouch
from credence.store.base import DUPLICATE, NEW, REDELIVERED
from credence.store.memory import MemoryStore

T0 = 1_790_000_000_000 - 1_790_000_000_000 % DAY_MS


def _order(i: int, ts: int, buyer: str = "b1", seller: str = "s1", **kw) -> Order:
    return Order(order_id=f"o{i}", seller_id=seller, buyer_id=buyer, amount=10.0, ts=ts, **kw)


def test_dedupe_outcomes():
    m, st = FeatureModel("p"), MemoryStore()
    e = _order(1, T0)
    assert st.apply([m.ops(e, "orders/0/5")]) == [NEW]
    assert st.apply([m.ops(e, "orders/0/5")]) == [REDELIVERED]  # same delivery again
    assert st.apply([m.ops(e, "orders/0/9")]) == [DUPLICATE]  # same id, another message
    f = st.read_seller(m, "s1", T0 + 1)
    assert f.get("lifetime", "orders") == 1


def test_windows_and_repeat_buyers():
    m, st = FeatureModel("p"), MemoryStore()
    evs = [_order(1, T0, "b1", tracking_no="t"), _order(2, T0 + HOUR_MS, "b1"),
           _order(3, T0 + 2 * DAY_MS, "b2", buyer_registered=T0)]
    st.apply([m.ops(e, f"x/{i}") for i, e in enumerate(evs)])
    f = st.read_seller(m, "s1", T0 + 2 * DAY_MS + 1)
    assert f.get("lifetime", "orders") == 3 and f.get("lifetime", "repeat") == 1
    assert f.get("24h", "orders") == 1 and f.get("7d", "orders") == 3
    assert f.get("lifetime", "shipped") == 1 and f.get("lifetime", "new_buyer") == 1
    assert f.distinct_buyers["7d"] == 2 and f.distinct_buyers["24h"] == 1
    assert f.series("orders")[-1] == 1 and f.series("orders")[-3] == 2
    s = f.summary()["7d"]
    assert s["gmv"] == 30.0 and abs(s["repeat_buyer_share"] - 1 / 3) < 1e-9


def test_verified_reviews_need_a_known_order_of_that_seller():
    m, st = FeatureModel("p"), MemoryStore()
    evs = [_order(1, T0),
           Review(review_id="r1", seller_id="s1", reviewer_id="b1", rating=5, ts=T0 + 1,
                  order_id="o1"),
           Review(review_id="r2", seller_id="s1", reviewer_id="b9", rating=5, ts=T0 + 2,
                  order_id="o-unknown"),
           Review(review_id="r3", seller_id="s1", reviewer_id="b8", rating=1, ts=T0 + 3)]
    st.apply([m.ops(e, f"x/{i}") for i, e in enumerate(evs)])
    f = st.read_seller(m, "s1", T0 + 10)
    assert f.verified_orders_30d == 1
    s = f.summary()["30d"]
    assert s["verified_review_share"] == 1 / 3 and s["low_share"] == 1 / 3


def test_ring_slot_is_reset_by_a_newer_epoch_and_refuses_an_older_one():
    st = MemoryStore()
    st.apply_op = st._op  # noqa: SLF001
    st._op(SlotAdd("k", 5, 4, 0, ((1, 2),)))
    st._op(SlotAdd("k", 9, 4, 0, ((1, 3),)))  # same slot (9 % 4 == 5 % 4), newer: reset
    assert st.counters["k:1"] == [9, 3]
    st._op(SlotAdd("k", 5, 4, 0, ((1, 7),)))  # older than what the slot holds: expired
    assert st.counters["k:1"] == [9, 3] and st.expired == 1


def test_sorted_set_horizon_and_cap():
    st = MemoryStore()
    for i in range(10):
        st._op(ZTouch("z", f"m{i}", 1000 + i * 100, horizon_ms=300, ttl_s=0, cap=5))
    live = st.zlive("z")
    assert live == {"m6": 1600, "m7": 1700, "m8": 1800, "m9": 1900}  # newest − 300 ms, inclusive
    for i in range(10):
        st._op(ZTouch("c", f"m{i}", 5000, horizon_ms=10**9, ttl_s=0, cap=5))
    assert len(st.zlive("c")) == 5


def test_core_scope_is_a_subset_with_equal_values():
    full, core = FeatureModel("p"), FeatureModel("p", scope="core")
    a, b = MemoryStore(), MemoryStore()
    evs = [_order(i, T0 + i * 60_000, f"b{i % 3}", device_id="d", tracking_no="t")
           for i in range(30)]
    a.apply([full.ops(e, str(i)) for i, e in enumerate(evs)])
    b.apply([core.ops(e, str(i)) for i, e in enumerate(evs)])
    da, db = a.dump(), b.dump()
    assert set(db) < set(da)
    assert all(da[k] == v for k, v in db.items())
    assert a.read_seller(full, "s1", T0 + DAY_MS, hourly=False).windows == \
        b.read_seller(core, "s1", T0 + DAY_MS, hourly=False).windows


def test_metric_names_are_unique():
    assert len(set(SELLER_METRICS)) == len(SELLER_METRICS)


def test_an_output_marker_names_its_output_id():
    from credence.store.keys import output_id_of, output_marker

    for oid in ("a:4ab6836731651adf9846", "d:credence.orders/3/1207", "out:odd:id"):
        marker = output_marker("chaos-1a2b.", oid)
        assert marker.startswith("chaos-1a2b.:out:") and output_id_of("chaos-1a2b.", marker) == oid
