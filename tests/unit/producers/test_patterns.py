"""Every manipulation pattern is in the truth and in the events, with its physical signal."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from credence.contract import parse_ts
from producers.base import PATTERN_NAMES
from producers.clock import DAY, YEAR


def _instances(small, name):
    found = [p for p in small.truth.patterns if p.pattern == name]
    assert found, f"no {name} in truth"
    return found


@pytest.mark.parametrize("name", PATTERN_NAMES)
def test_pattern_is_in_truth_and_events(small, name):
    orders, reviews, records = (small.by_id("order_id"), small.by_id("review_id"),
                                small.by_id("record_id"))
    buyers = {e["buyer_id"] for e in orders.values()}
    reviewers = {e["reviewer_id"] for e in reviews.values()}
    sellers = {e["seller_id"] for e in small.events}
    lo, hi = parse_ts(small.truth.start), parse_ts(small.truth.end)
    for p in _instances(small, name):
        assert p.id.startswith(name + "-")
        assert p.order_ids or p.review_ids or p.record_ids
        assert all(i in orders for i in p.order_ids + p.camouflage_order_ids)
        assert all(i in reviews for i in p.review_ids)
        assert all(i in records for i in p.record_ids)
        assert all(a in buyers or a in reviewers for a in p.culprit_accounts)
        assert all(s in sellers for s in p.culprit_sellers + p.victims)
        assert lo <= parse_ts(p.start) <= parse_ts(p.end) < hi
        times = [parse_ts(x[i]["ts"]) for x, ids in ((orders, p.order_ids),
                 (reviews, p.review_ids), (records, p.record_ids)) for i in ids]
        assert min(times) == parse_ts(p.start) and max(times) == parse_ts(p.end)
        # Manipulated events belong to the culprits (or hit the victim).
        targets = set(p.culprit_sellers) | set(p.victims)
        assert all(orders[i]["seller_id"] in targets for i in p.order_ids)
        assert all(reviews[i]["seller_id"] in targets for i in p.review_ids)
        assert all(records[i]["seller_id"] in targets for i in p.record_ids)
        assert not set(p.victims) & set(small.truth.culprit_sellers)


def test_wash_ring_puppets_share_identities_and_camouflage(small):
    orders = small.by_id("order_id")
    honest_devices: Counter[str] = Counter()
    for p in _instances(small, "wash_ring"):
        wash = [orders[i] for i in p.order_ids]
        puppets = set(p.culprit_accounts)
        assert len(puppets) >= 15
        assert {o["buyer_id"] for o in wash} == puppets
        assert len({o["device_id"] for o in wash}) <= len(puppets) / 2
        assert len({o["payment_id"] for o in wash}) <= len(puppets) / 3
        regs = [parse_ts(o["buyer_registered"]) for o in wash]
        start = parse_ts(small.truth.start)
        assert any(r < start - YEAR for r in regs)  # bought aged accounts
        assert any(r > start - 40 * DAY for r in regs)  # fresh ones
        assert p.camouflage_order_ids
        assert all(orders[i]["seller_id"] != p.culprit_sellers[0]
                   for i in p.camouflage_order_ids)
        assert all(orders[i]["buyer_id"] in puppets for i in p.camouflage_order_ids)
        for o in wash:
            honest_devices[o["device_id"]] += 0
    # Crews' devices are not used by honest accounts.
    culprits = set(small.truth.culprit_accounts)
    for o in orders.values():
        if o["device_id"] in honest_devices:
            assert o["buyer_id"] in culprits


def test_circular_trading_passes_matched_amounts_round_a_cycle(small):
    orders = small.by_id("order_id")
    for p in _instances(small, "circular_trading"):
        ring = set(p.culprit_sellers)
        assert 3 <= len(ring) <= 5 and set(p.culprit_accounts) == ring
        trades = sorted((orders[i] for i in p.order_ids), key=lambda o: o["ts"])
        edges = {(o["buyer_id"], o["seller_id"]) for o in trades}
        assert all(b in ring and s in ring and b != s for b, s in edges)
        assert len(edges) == len(ring)  # exactly the cycle
        k = len(ring)
        for r in range(len(trades) // k):
            amounts = [o["amount"] for o in trades[r * k:(r + 1) * k]]
            assert max(amounts) / min(amounts) < 1.03


def test_slow_wash_is_thin_and_long(small):
    orders = small.by_id("order_id")
    for p in _instances(small, "slow_wash"):
        days = Counter(orders[i]["ts"][:10] for i in p.order_ids)
        assert max(days.values()) <= 6
        span = parse_ts(p.end) - parse_ts(p.start)
        assert span > 0.7 * (parse_ts(small.truth.end) - parse_ts(small.truth.start))
        regs = {orders[i]["buyer_registered"] for i in p.order_ids}
        assert all(parse_ts(r) < parse_ts(small.truth.start) - 300 * DAY for r in regs)
        assert len({orders[i]["device_id"] for i in p.order_ids}) <= 2


def test_review_farm_serves_clients_in_lockstep_with_copied_texts(small):
    reviews = small.by_id("review_id")
    for p in _instances(small, "review_farm"):
        rs = [reviews[i] for i in p.review_ids]
        assert len(p.culprit_sellers) >= 3
        assert {r["seller_id"] for r in rs} == set(p.culprit_sellers)
        verified = sum("order_id" in r for r in rs)
        assert 0 < verified < 0.4 * len(rs)
        clients_of: dict[str, set[str]] = defaultdict(set)
        for r in rs:
            clients_of[r["reviewer_id"]].add(r["seller_id"])
        assert sum(len(v) >= 2 for v in clients_of.values()) >= len(clients_of) / 2
        bodies = Counter(r["text"].split("! ", 1)[1].rsplit(", ", 1)[0].replace(", ", " and ")
                         for r in rs)
        assert bodies.most_common(1)[0][1] >= 0.9 * len(rs)
        assert all(r["rating"] >= 4 for r in rs)
        # Lockstep: each client's reviews of one wave fall within a few hours.
        waves = p.params["waves"]
        hours = {(r["seller_id"], r["ts"][:13]) for r in rs}
        assert len(hours) <= waves * len(p.culprit_sellers) * 4


def test_brushing_is_tiny_unshipped_orders_with_five_stars(small):
    orders, reviews = small.by_id("order_id"), small.by_id("review_id")
    for p in _instances(small, "brushing"):
        first: dict[str, int] = {}
        for i in p.order_ids:
            o = orders[i]
            assert o["tracking_no"] is None and o["amount"] <= 3.0
            first.setdefault(o["buyer_id"], parse_ts(o["ts"]) - parse_ts(o["buyer_registered"]))
        assert max(first.values()) <= 3 * DAY  # fresh accounts
        assert len(first) >= 0.7 * len(p.order_ids)  # mostly one order each
        assert all(reviews[i]["rating"] == 5 and reviews[i]["order_id"] in p.order_ids
                   for i in p.review_ids)


def test_review_bombing_hits_a_victim_with_a_burst_of_unverified_one_stars(small):
    reviews = small.by_id("review_id")
    for p in _instances(small, "review_bombing"):
        assert p.culprit_sellers == [] and len(p.victims) == 1
        rs = [reviews[i] for i in p.review_ids]
        assert {r["seller_id"] for r in rs} == set(p.victims)
        assert all(r["rating"] <= 2 and "order_id" not in r for r in rs)
        assert parse_ts(p.end) - parse_ts(p.start) <= DAY
        assert {r["reviewer_id"] for r in rs} == set(p.culprit_accounts)
        assert p.victims[0] in small.truth.victims
        assert p.victims[0] not in small.truth.honest_sellers


def _sales(small):
    from producers.clock import local_date

    sales: Counter[tuple[str, str]] = Counter()
    count: Counter[str] = Counter()
    for e in small.events:
        if e["type"] == "order":
            sales[(e["seller_id"], local_date(parse_ts(e["ts"])))] += e["amount"]
            count[e["seller_id"]] += 1
    return sales, count


def test_invoice_padding_far_above_sales(small):
    records = small.by_id("record_id")
    sales, _ = _sales(small)
    for p in _instances(small, "invoice_padding"):
        assert p.record_ids
        for i in p.record_ids:
            r = records[i]
            assert r["source"] == "invoice"
            assert r["amount"] >= 2 * sales[(r["seller_id"], r["details"]["date"])] > 0


def test_invoices_without_sales(small):
    records = small.by_id("record_id")
    _, count = _sales(small)
    for p in _instances(small, "invoice_without_sales"):
        (seller,) = p.culprit_sellers
        assert count[seller] <= 2
        assert sum(records[i]["amount"] for i in p.record_ids) > 50_000
        assert all(records[i]["source"] == "invoice" for i in p.record_ids)


def test_proxy_ring_puppets_share_no_identifier(small):
    orders = small.by_id("order_id")
    for p in _instances(small, "proxy_ring"):
        wash = [orders[i] for i in p.order_ids]
        puppets = set(p.culprit_accounts)
        assert {o["buyer_id"] for o in wash} == puppets
        for field in ("device_id", "payment_id", "address_id"):
            holders: dict[str, set[str]] = defaultdict(set)
            for o in orders.values():
                holders[o[field]].add(o["buyer_id"])
            # every puppet's own identifiers, held by it alone
            assert all(len(holders[o[field]]) == 1 for o in wash)
        # IPs come from a proxy pool the puppets share
        assert len({o["ip"] for o in wash}) < len(wash)
        per = Counter(o["buyer_id"] for o in wash)
        assert min(per.values()) >= 1 and sum(per.values()) >= 2 * len(puppets)
