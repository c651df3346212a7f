"""Every hard negative is in the truth and the events, with the signal that tempts a detector."""

from __future__ import annotations

from collections import Counter

import pytest

from credence.contract import parse_ts
from producers.base import NEGATIVE_NAMES
from producers.clock import DAY, HOUR, YEAR


def _instances(small, kind):
    found = [n for n in small.truth.hard_negatives if n.kind == kind]
    assert found, f"no {kind} in truth"
    return found


def _orders_of(small, seller):
    return [e for e in small.events if e["type"] == "order" and e["seller_id"] == seller]


@pytest.mark.parametrize("kind", NEGATIVE_NAMES)
def test_negative_is_in_truth_and_events_and_innocent(small, kind):
    orders = small.by_id("order_id")
    buyers = {e["buyer_id"] for e in orders.values()}
    sellers = {e["seller_id"] for e in orders.values()}
    culprits = set(small.truth.culprit_accounts) | set(small.truth.culprit_sellers)
    for n in _instances(small, kind):
        assert n.order_ids and all(i in orders for i in n.order_ids)
        assert all(s in sellers for s in n.sellers)
        assert all(a in buyers for a in n.accounts)
        assert not (set(n.sellers) | set(n.accounts)) & culprits
        assert all(s in small.truth.honest_sellers for s in n.sellers)
        assert parse_ts(n.start) <= parse_ts(n.end)


def test_flash_sale_is_a_burst_of_distinct_established_buyers(small):
    orders = small.by_id("order_id")
    for n in _instances(small, "flash_sale"):
        burst = [orders[i] for i in n.order_ids]
        assert len(burst) >= 100
        assert parse_ts(n.end) - parse_ts(n.start) <= 4 * HOUR
        assert len({o["buyer_id"] for o in burst}) == len(burst)
        assert len({o["device_id"] for o in burst}) >= 0.9 * len(burst)
        start = parse_ts(small.truth.start)
        old = sum(parse_ts(o["buyer_registered"]) < start - 30 * DAY for o in burst)
        assert old >= 0.8 * len(burst)
        assert all(o["tracking_no"] for o in burst)


def test_b2b_bulk_buyers_are_few_old_and_buy_large(small):
    orders = small.by_id("order_id")
    for n in _instances(small, "b2b_bulk"):
        bulk = [orders[i] for i in n.order_ids]
        assert 2 <= len(n.accounts) <= 4
        assert all(o["quantity"] >= 20 and o["tracking_no"] for o in bulk)
        assert all(parse_ts(o["buyer_registered"]) < parse_ts(small.truth.start) - YEAR / 2
                   for o in bulk)
        assert max(Counter(o["buyer_id"] for o in bulk).values()) >= 3


def test_viral_newcomer_grows_from_diverse_buyers(small):
    for n in _instances(small, "viral_newcomer"):
        (seller,) = n.sellers
        os_ = _orders_of(small, seller)
        first = min(parse_ts(o["ts"]) for o in os_)
        assert first > parse_ts(small.truth.start) + 2 * DAY
        days = Counter((parse_ts(o["ts"]) - first) // DAY for o in os_)
        last = max(days)
        assert sum(days[d] for d in range(last - 2, last + 1)) > \
            3 * sum(days[d] for d in range(3))
        assert len({o["buyer_id"] for o in os_}) >= 0.8 * len(os_)


def test_digital_goods_never_ship(small):
    for n in _instances(small, "digital_goods"):
        (seller,) = n.sellers
        os_ = _orders_of(small, seller)
        assert len(os_) >= 10 and len({o["buyer_id"] for o in os_}) >= 10
        assert all(o["tracking_no"] is None for o in os_)
        assert sorted(o["order_id"] for o in os_) == sorted(n.order_ids)


def test_campus_ip_is_shared_by_hundreds_of_distinct_students(small):
    orders = small.by_id("order_id")
    for n in _instances(small, "campus_ip"):
        ip = n.params["ip"]
        os_ = [orders[i] for i in n.order_ids]
        assert {o["ip"] for o in os_} == {ip}
        assert len(n.accounts) >= 80
        assert len({o["device_id"] for o in os_}) >= len(n.accounts)
        assert len({o["payment_id"] for o in os_}) >= len(n.accounts)
        rooms = Counter(o["address_id"] for o in os_)
        assert len(rooms) < len(n.accounts)  # dorm rooms are shared


def test_loyal_customers_repeat_with_their_own_identities(small):
    orders = small.by_id("order_id")
    for n in _instances(small, "loyal_customers"):
        os_ = [orders[i] for i in n.order_ids]
        per = Counter(o["buyer_id"] for o in os_)
        assert len(per) >= 10 and min(per.values()) >= 3
        assert len({o["address_id"] for o in os_}) == len(per)
        assert len({o["payment_id"] for o in os_}) >= len(per)
        assert all(parse_ts(o["buyer_registered"]) < parse_ts(small.truth.start) - YEAR
                   for o in os_)
        # They buy elsewhere too.
        others = sum(1 for e in small.events if e["type"] == "order"
                     and e["buyer_id"] in per and e["seller_id"] not in n.sellers)
        assert others > 0


def test_campus_ip_dorm_rooms_hold_four_to_six_students():
    from producers.clock import Clock
    from producers.identities import Minters
    from producers.ledger import Ledger
    from producers.marketplace import World
    from producers.negatives import CampusIP
    from producers.simulator import stream

    clock = Clock("2026-10-01T00:00:00Z", 7)
    world = World(clock, Ledger(clock.start_ms, clock.end_ms), Minters(stream(3, "ids")))
    CampusIP(2).prepare(world, stream(3, "campus"))
    for k in range(2):
        students = [a for a in world.accounts if a.role == f"campus_ip-{k}"]
        assert len(students) >= 100
        # Students fill one room after another: sizes in order of first appearance.
        sizes = list(Counter(a.address for a in students).values())
        assert all(4 <= s <= 6 for s in sizes[:-1]), sizes
        assert 1 <= sizes[-1] <= 6
        assert sum(sizes) == len(students)


def test_corporate_buyers_share_a_card_and_an_address_but_are_old_and_ship(small):
    orders = small.by_id("order_id")
    for n in _instances(small, "corporate_buyers"):
        staff = set(n.accounts)
        theirs = [o for o in orders.values() if o["buyer_id"] in staff]
        assert len(staff) >= 4
        assert len({o["payment_id"] for o in theirs}) == 1  # one company card
        assert len({o["address_id"] for o in theirs}) == 1  # one office
        assert len({o["device_id"] for o in theirs}) >= len(staff)  # their own phones
        assert all(o["tracking_no"] for o in theirs)
        start = parse_ts(small.truth.start)
        assert all(parse_ts(o["buyer_registered"]) < start - YEAR / 2 for o in theirs)
        supplies = [orders[i] for i in n.order_ids]
        assert {o["seller_id"] for o in supplies} == set(n.sellers)
        assert len({o["seller_id"] for o in theirs}) > len(n.sellers)  # they shop elsewhere


def test_b2b_trade_is_seller_to_seller_with_independent_amounts(small):
    orders = small.by_id("order_id")
    for n in _instances(small, "b2b_trade"):
        group = set(n.sellers)
        trade = [orders[i] for i in n.order_ids]
        assert 3 <= len(group) <= 6
        assert all(o["buyer_id"] in group and o["seller_id"] in group for o in trade)
        pairs = {(o["buyer_id"], o["seller_id"]) for o in trade}
        assert len(pairs) >= len(group)  # every member buys from another
        assert len({round(o["amount"]) for o in trade}) > len(trade) / 2  # amounts vary


def test_popular_sellers_are_the_top_sellers_by_demand(small):
    for n in _instances(small, "popular_seller"):
        assert n.params["rank"] >= 1 and n.order_ids
    counts = Counter(e["seller_id"] for e in small.events if e["type"] == "order")
    q75 = sorted(counts.values())[int(0.75 * len(counts))]
    assert all(counts[n.sellers[0]] >= q75 for n in _instances(small, "popular_seller"))
