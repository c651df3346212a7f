"""truth.json: the schema the evaluation harness relies on, and its consistency with events."""

from __future__ import annotations

from collections import Counter

import orjson

from producers.truth import read_truth

TOP = ["seed", "scale", "start", "end", "counts", "patterns", "hard_negatives",
       "culprit_sellers", "culprit_accounts", "victims", "honest_sellers", "labels"]
PATTERN = ["id", "pattern", "start", "end", "culprit_sellers", "culprit_accounts", "victims",
           "order_ids", "review_ids", "record_ids", "params"]
NEGATIVE = ["id", "kind", "start", "end", "sellers", "accounts"]


def test_schema(small):
    data = orjson.loads((small.dir / "truth.json").read_bytes())
    assert set(TOP) <= set(data)
    assert data["seed"] == 7 and data["scale"] == 0.06 and data["labels"] == {}
    assert data["start"] == "2026-09-30T16:00:00.000Z"  # 2026-10-01T00:00+08:00
    assert data["end"] == "2026-10-21T16:00:00.000Z"
    for p in data["patterns"]:
        assert set(PATTERN) <= set(p)
    for n in data["hard_negatives"]:
        assert set(NEGATIVE) <= set(n)
    assert read_truth(small.dir / "truth.json") == small.truth


def test_unions_and_honest_sellers(small):
    t = small.truth
    assert t.culprit_sellers == sorted({s for p in t.patterns for s in p.culprit_sellers})
    assert t.culprit_accounts == sorted({a for p in t.patterns for a in p.culprit_accounts})
    assert t.victims == sorted({v for p in t.patterns for v in p.victims})
    sellers = {e["seller_id"] for e in small.events}
    assert t.honest_sellers == sorted(sellers - set(t.culprit_sellers) - set(t.victims))
    # Colluding sellers who buy are culprit accounts too; victims never are culprits.
    assert not set(t.victims) & set(t.culprit_sellers)


def test_counts_match_events(small):
    kinds = Counter(e["type"] for e in small.events)
    c = small.truth.counts
    assert c["events"] == len(small.events)
    assert (c["orders"], c["refunds"], c["reviews"], c["records"]) == (
        kinds["order"], kinds["refund"], kinds["review"], kinds["record"])
    assert c["sellers"] == len({e["seller_id"] for e in small.events
                                if e["type"] in ("order", "review", "record")})


def test_manipulated_ids_are_disjoint_from_hard_negatives(small):
    bad = {i for p in small.truth.patterns for i in p.order_ids + p.review_ids}
    for n in small.truth.hard_negatives:
        assert not bad & set(n.order_ids + n.review_ids)
