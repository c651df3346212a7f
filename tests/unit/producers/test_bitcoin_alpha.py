"""Bitcoin-Alpha conversion (Kumar et al., ICDM 2016; WSDM 2018) and injection into it."""

from __future__ import annotations

import csv
from collections import Counter

import orjson
import pytest

from credence.contract import parse_event, parse_ts
from producers import bitcoin_alpha
from producers.base import PATTERN_NAMES
from producers.bitcoin_alpha import STARS, stars
from producers.scenario import Scenario
from producers.simulator import simulate, write

DATA = bitcoin_alpha.dataset_dir()
needs_data = pytest.mark.skipif(not (DATA / "ratings.csv").is_file(),
                                reason=f"Bitcoin-Alpha not found at {DATA}")


def test_star_mapping_is_monotone_and_keeps_the_sign():
    assert [stars(r) for r in (-10, -5, -4, -2, -1, 1, 2, 10)] == [1, 1, 2, 2, 3, 4, 5, 5]
    keys = sorted(STARS)
    assert keys == [r for r in range(-10, 11) if r != 0]
    assert all(STARS[a] <= STARS[b] for a, b in zip(keys, keys[1:], strict=False))
    assert all((STARS[r] >= 4) == (r > 0) for r in keys)
    with pytest.raises(ValueError):
        stars(0)


def test_dataset_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CREDENCE_DATASETS", str(tmp_path))
    assert bitcoin_alpha.dataset_dir() == tmp_path / "bitcoin-alpha"
    assert bitcoin_alpha.dataset_dir(tmp_path / "x") == tmp_path / "x"


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    d = tmp_path_factory.mktemp("ba")
    sim = simulate(Scenario(background="bitcoin-alpha", inject=False))
    write(sim, d)
    return [orjson.loads(x) for x in (d / "events.jsonl").read_bytes().splitlines()], sim.truth


@needs_data
def test_every_rating_is_an_order_and_a_linked_review(converted):
    events, truth = converted
    with (DATA / "ratings.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 24_186
    orders = {e["order_id"]: e for e in events if e["type"] == "order"}
    reviews = {e["review_id"]: e for e in events if e["type"] == "review"}
    assert len(orders) == len(reviews) == 24_186
    assert truth.counts["orders"] == truth.counts["reviews"] == 24_186
    for i, row in enumerate(rows):
        o, r = orders[f"ba-o-{i}"], reviews[f"ba-r-{i}"]
        assert (o["buyer_id"], o["seller_id"]) == (row["rater"], row["ratee"])
        assert (r["reviewer_id"], r["seller_id"]) == (row["rater"], row["ratee"])
        assert r["order_id"] == o["order_id"] and r["rating"] == stars(int(row["rating"]))
        day = int(row["unix_ts"]) * 1000
        assert day <= parse_ts(o["ts"]) < parse_ts(r["ts"]) < day + 86_400_000
        assert o["tracking_no"] and o["amount"] > 0
    assert all(parse_event(orjson.dumps(e)) for e in events[:3000])
    stars_hist = Counter(r["rating"] for r in reviews.values())
    assert stars_hist[4] > stars_hist[5] > stars_hist[1] > stars_hist[3] > stars_hist[2]


@needs_data
def test_labels_are_the_truth_labels(converted):
    _, truth = converted
    assert len(truth.labels) == 237
    assert Counter(truth.labels.values()) == {"fraudulent": 102, "benign": 135}
    assert truth.patterns == []


@needs_data
def test_patterns_injected_into_the_final_weeks():
    sim = simulate(Scenario(background="bitcoin-alpha", scale=0.5))
    t = sim.truth
    assert {p.pattern for p in t.patterns} == set(PATTERN_NAMES)
    assert {n.kind for n in t.hard_negatives} == set(bitcoin_alpha.INJECTABLE_NEGATIVES)
    users = set()
    with (DATA / "ratings.csv").open() as f:
        for row in csv.DictReader(f):
            users |= {row["rater"], row["ratee"]}
    window_start = parse_ts(t.end) - 21 * 86_400_000
    for p in t.patterns:
        assert parse_ts(p.start) >= window_start - 3 * 86_400_000
        # New accounts take unused numeric ids of the same space.
        for a in p.culprit_accounts:
            assert a.isdigit()
        if p.pattern in ("wash_ring", "brushing", "review_farm", "review_bombing"):
            assert not set(p.culprit_accounts) & users
        for v in p.victims:
            assert v in users and t.labels.get(v) != "fraudulent"
    lines = sim.events.lines
    assert all(parse_event(x) for x in lines[-3000:])
    order_ids = [e["order_id"] for e in map(orjson.loads, lines) if e["type"] == "order"]
    assert len(set(order_ids)) == len(order_ids) == t.counts["orders"] > 24_186
