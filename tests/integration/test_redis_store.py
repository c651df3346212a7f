"""The Redis Lua store and the memory store agree, whatever the batching and however the
partitions of different sellers interleave (each seller's own order is kept, as Kafka does)."""

from __future__ import annotations

import random

import pytest

from config.settings import Settings
from credence.contract import Order, Record, Refund, Review
from credence.features import FeatureModel
from credence.store.base import DUPLICATE, NEW, REDELIVERED
from credence.store.memory import MemoryStore
from credence.store.redis import RedisStore

pytestmark = pytest.mark.integration
T0 = 1_790_000_000_000


def _events(n: int, seed: int) -> list:
    rng = random.Random(seed)
    out: list = []
    for i in range(n):
        s = f"s{rng.randrange(12)}"
        ts = T0 + i * 40_000 + rng.randrange(-3_600_000, 3_600_000)  # some disorder
        k = rng.random()
        if k < 0.6:
            out.append(Order(order_id=f"o{i}", seller_id=s, buyer_id=f"b{rng.randrange(150)}",
                             amount=round(rng.uniform(1, 500), 2), ts=ts,
                             device_id=f"d{rng.randrange(40)}", ip=f"ip{rng.randrange(9)}",
                             payment_id=f"p{rng.randrange(60)}" if rng.random() < .5 else None,
                             buyer_registered=ts - rng.randrange(0, 90) * 86_400_000,
                             tracking_no=rng.choice([None, "t"])))
        elif k < 0.85:
            out.append(Review(review_id=f"r{i}", seller_id=s, reviewer_id=f"b{rng.randrange(150)}",
                              rating=rng.randint(1, 5), ts=ts,
                              order_id=f"o{rng.randrange(i + 1)}" if rng.random() < .7 else None))
        elif k < 0.95:
            out.append(Refund(order_id=f"o{i}", seller_id=s, amount=3.5, ts=ts))
        else:
            out.append(Record(record_id=f"x{i}", seller_id=s, source="invoice", kind="vat",
                              amount=1000.0, ts=ts))
    return out


def _interleave(evs: list, rng: random.Random) -> list[tuple[int, object]]:
    queues: dict[tuple[str, str], list] = {}
    for j, e in enumerate(evs):
        queues.setdefault((e.seller_id, e.type), []).append((j, e))
    qs = list(queues.values())
    out = []
    while qs:
        q = rng.choice(qs)
        out.append(q.pop(0))
        if not q:
            qs.remove(q)
    return out


def test_redis_and_memory_agree(redis_factory):
    s: Settings = redis_factory()
    model = FeatureModel(s.key_prefix)
    evs = _events(4000, 1)
    evs += evs[:150]  # producer duplicates: new deliveries of ids already seen
    mem = MemoryStore()
    assert mem.apply([model.ops(e, f"src{j}") for j, e in enumerate(evs)]).count(DUPLICATE) == 150
    rs = RedisStore(s, max_ops=300)  # several script calls per batch
    rng = random.Random(2)
    order = _interleave(evs, rng)
    outcomes: list[int] = []
    i = 0
    while i < len(order):
        n = rng.randint(1, 700)
        outcomes += rs.apply([model.ops(e, f"src{j}") for j, e in order[i:i + n]])
        i += n
    assert outcomes.count(NEW) == 4000 and outcomes.count(DUPLICATE) == 150
    # A redelivery of already applied messages changes nothing.
    again = rs.apply([model.ops(e, f"src{j}") for j, e in order[:500]])
    assert set(again) <= {REDELIVERED, DUPLICATE}
    assert rs.dump(s.key_prefix, model.horizon_of) == mem.dump()
    for seller in ("s0", "s5"):
        a = rs.read_seller(model, seller, T0 + 4000 * 40_000)
        b = mem.read_seller(model, seller, T0 + 4000 * 40_000)
        assert a.windows == b.windows and a.distinct_buyers == b.distinct_buyers
        assert a.verified_orders_30d == b.verified_orders_30d
    acct_r = rs.read_account(model, "b7", T0 + 4000 * 40_000)
    acct_m = mem.read_account(model, "b7", T0 + 4000 * 40_000)
    assert acct_r == acct_m


def test_ring_slots_wrap_reset_and_expire_the_same_way(redis_factory):
    """A year of sparse, partly out-of-order events: hourly and daily rings wrap many times,
    and writes older than a slot's bucket are dropped, identically in both stores."""
    s: Settings = redis_factory()
    model = FeatureModel(s.key_prefix)
    rng = random.Random(7)
    evs = []
    for i in range(1500):
        ts = T0 + i * 6 * 3_600_000 + rng.randrange(-40, 5) * 86_400_000  # up to 40 days late
        evs.append(Order(order_id=f"o{i}", seller_id=f"s{i % 3}", buyer_id=f"b{i % 17}",
                         amount=9.99, ts=ts, device_id=f"d{i % 5}"))
    mem = MemoryStore()
    mem.apply([model.ops(e, str(j)) for j, e in enumerate(evs)])
    assert mem.expired > 0
    rs = RedisStore(s, max_ops=200)
    order = _interleave(evs, rng)
    for i in range(0, len(order), 97):
        rs.apply([model.ops(e, str(j)) for j, e in order[i:i + 97]])
    assert rs.expired > 0
    assert rs.dump(s.key_prefix, model.horizon_of) == mem.dump()


def test_a_set_touched_by_known_members_keeps_being_renewed(redis_factory):
    """The TTL of identity and repeat-buyer sets only backs up idle entities: a buyer who keeps
    coming back renews it, as the memory store keeps the set as long as it is touched."""
    s: Settings = redis_factory()
    model = FeatureModel(s.key_prefix)
    rs = RedisStore(s)
    first = Order(order_id="o1", seller_id="s1", buyer_id="b1", amount=9.99, ts=T0)
    rs.apply([model.ops(first, "1")])
    keys = [k for k in rs.r.scan_iter(f"{s.key_prefix}:*") if rs.r.type(k) == "zset"]
    assert keys
    for k in keys:
        rs.r.expire(k, 5)  # as if most of the TTL had passed
    again = Order(order_id="o2", seller_id="s1", buyer_id="b1", amount=9.99, ts=T0 + 3_600_000)
    rs.apply([model.ops(again, "2")])
    assert all(rs.r.ttl(k) > 5 for k in keys), {k: rs.r.ttl(k) for k in keys}
