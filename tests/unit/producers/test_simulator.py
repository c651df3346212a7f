"""The simulator's output: valid contract events, time-ordered, consistent references."""

from __future__ import annotations

import re
from collections import Counter

from credence.contract import parse_event, parse_ts
from producers.scenario import Scenario

ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_every_event_validates_against_the_contract(small):
    lines = (small.dir / "events.jsonl").read_bytes().splitlines()
    assert len(lines) == small.truth.counts["events"] > 10_000
    kinds = Counter(parse_event(line).type for line in lines)
    assert set(kinds) == {"order", "refund", "review", "record"}
    sources = Counter(e["source"] for e in small.events if e["type"] == "record")
    # The rare sources (court, ipr, registry) are Poisson draws per seller: some may be absent.
    assert {"invoice", "customs"} <= set(sources) <= {"invoice", "customs", "court", "ipr",
                                                      "registry"}


def test_lines_are_compact_json_with_iso_utc_milliseconds(small):
    raw = (small.dir / "events.jsonl").read_bytes()
    assert raw.endswith(b"\n") and b"\n\n" not in raw
    assert b'", "' not in raw and b'": ' not in raw  # compact separators
    for e in small.events[:2000]:
        assert ISO_MS_Z.match(e["ts"]), e["ts"]
        for k in ("buyer_registered", "reviewer_registered"):
            if k in e:
                assert ISO_MS_Z.match(e[k])


def test_events_are_time_ordered_inside_the_period(small):
    ts = [parse_ts(e["ts"]) for e in small.events]
    assert ts == sorted(ts)
    assert parse_ts(small.truth.start) <= ts[0] and ts[-1] < parse_ts(small.truth.end)


def test_ids_are_unique_and_references_point_back_in_time(small):
    orders = small.by_id("order_id")
    assert len(orders) == small.truth.counts["orders"]
    assert len(small.by_id("review_id")) == small.truth.counts["reviews"]
    assert len(small.by_id("record_id")) == small.truth.counts["records"]
    linked = unlinked = 0
    for e in small.events:
        if e["type"] in ("refund", "review") and "order_id" in e:
            o = orders[e["order_id"]]
            assert parse_ts(o["ts"]) < parse_ts(e["ts"])
            assert o["seller_id"] == e["seller_id"]
            if e["type"] == "review":
                assert o["buyer_id"] == e["reviewer_id"]
                linked += 1
        elif e["type"] == "review":
            unlinked += 1
    assert linked > 0 and unlinked > 0  # some genuine reviews have no order in the period


def test_registration_precedes_activity(small):
    for e in small.events:
        reg = e.get("buyer_registered") or e.get("reviewer_registered")
        if reg is not None:
            assert parse_ts(reg) < parse_ts(e["ts"]), e


def test_background_realism(small):
    orders = [e for e in small.events if e["type"] == "order"]
    by_buyer = Counter(o["buyer_id"] for o in orders)
    # Heavy-tailed activity: the most active buyers buy far more than the median one.
    counts = sorted(by_buyer.values())
    assert counts[-1] >= 8 * counts[len(counts) // 2]
    by_seller = Counter(o["seller_id"] for o in orders)
    top = sorted(by_seller.values(), reverse=True)
    assert sum(top[: len(top) // 10]) > 0.3 * len(orders)  # heavy-tailed seller sizes
    # Diurnal rhythm: the evening peak (20-23 local = 12-15 UTC) beats the night (2-6 local).
    hours = Counter(int(o["ts"][11:13]) for o in orders)
    assert sum(hours[h] for h in (12, 13, 14)) > 4 * sum(hours[h] for h in (18, 19, 20))
    # Shared identifiers exist among honest buyers (households, mobile NAT).
    ip_users: dict[str, set[str]] = {}
    for o in orders:
        ip_users.setdefault(o["ip"], set()).add(o["buyer_id"])
    assert max(len(v) for v in ip_users.values()) >= 20
    ratings = Counter(e["rating"] for e in small.events if e["type"] == "review")
    assert ratings[5] > ratings[4] > ratings[3] and ratings[1] > ratings[2]  # J-shaped
    new = {o["buyer_id"] for o in orders if o["buyer_registered"] >= small.truth.start}
    assert new  # genuinely new accounts


def test_invoices_match_sales_for_honest_sellers(small):
    honest = set(small.truth.honest_sellers)
    sales: Counter[tuple[str, str]] = Counter()
    from producers.clock import local_date

    for e in small.events:
        if e["type"] == "order":
            sales[(e["seller_id"], local_date(parse_ts(e["ts"])))] += e["amount"]
    checked = 0
    for e in small.events:
        if e["type"] == "record" and e["source"] == "invoice" and e["seller_id"] in honest:
            s = sales[(e["seller_id"], e["details"]["date"])]
            assert 0.98 * s <= e["amount"] <= s + 0.01
            checked += 1
    assert checked > 100


def test_default_scenario_size():
    pop = Scenario().population()
    assert pop.sellers == 1000 and pop.buyers == 40000
    assert Scenario().days == 21
    small = Scenario(scale=0.1).population()
    assert small.sellers == 100 and small.buyers == 4000
