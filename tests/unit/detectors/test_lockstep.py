"""`detectors.lockstep.Lockstep`: CopyCatch-style groups across sellers, and what must stay quiet."""

from __future__ import annotations

import random

from credence.contract import Review
from detectors.lockstep import Lockstep
from tests.unit.detectors.support import run

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_790_000_000_000


class Stream:
    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.events: list[Review] = []

    def review(self, seller: str, reviewer: str, rating: int, ts: int,
               order_id: str | None = None) -> None:
        self.events.append(Review(review_id=f"r{len(self.events):06d}", seller_id=seller,
                                  reviewer_id=reviewer, rating=rating, ts=ts,
                                  order_id=order_id))

    def background(self, sellers: list[str], reviewers: int, per_reviewer: int,
                   start: int, days: int, prefix: str = "u") -> None:
        """Unrelated reviewers reviewing sellers at independent random times."""
        for i in range(reviewers):
            for _ in range(per_reviewer):
                self.review(self.rng.choice(sellers), f"{prefix}{i}",
                            self.rng.choice((5, 5, 4, 4, 3, 1)),
                            start + self.rng.randrange(days * DAY))

    def wave(self, clients: list[str], pool: list[str], start: int, batch: int,
             rating: int = 5) -> None:
        """A farm's wave: client after client, each a batch from the pool within 90 minutes."""
        offset = 0
        for s in clients:
            offset += self.rng.randrange(20, 60) * MIN
            for a in self.rng.sample(pool, batch):
                order = f"token-{a}-{s}" if self.rng.random() < 0.2 else None
                self.review(s, a, rating, start + offset + self.rng.randrange(90) * MIN, order)

    def sorted(self) -> list[Review]:
        return sorted(self.events, key=lambda e: (e.ts, e.review_id))


HONEST = [f"s{i}" for i in range(30)]


def test_farm_clients_and_reviewers_are_found():
    s = Stream()
    s.background(HONEST, 400, 3, T0, 14)
    clients = ["c1", "c2", "c3", "c4"]
    pool = [f"farm{i}" for i in range(20)]
    s.background(HONEST, 20, 1, T0, 14, prefix="farm")  # camouflage
    s.wave(clients, pool, T0 + 3 * DAY + 9 * HOUR, batch=10)
    s.wave(clients, pool, T0 + 8 * DAY + 9 * HOUR, batch=10)
    found = run(Lockstep(), s.sorted())
    assert {f.seller_id for f in found} == set(clients)
    assert not any(f.victim for f in found)
    named = {a for f in found for a, v in f.accounts.items() if v >= 0.5}
    # a member's own hits, corrected for the reviewers the search chose among: most of the pool
    assert len(named & set(pool)) >= 12
    assert not any(a.startswith("u") for a in named)
    top = max(found, key=lambda f: f.score)
    assert top.score >= 0.75
    assert top.summary.endswith(".") and len(top.evidence["review_ids"]) <= 20
    assert set(top.evidence["group_sellers"]) == set(clients)
    # Three days into the stream the farm's first wave is an eighth of all reviews, which
    # chance could nearly give; the second wave gives it away within hours of its start.
    assert min(f.ts for f in found) < T0 + 8 * DAY + 14 * HOUR


def test_negative_lockstep_marks_victims():
    s = Stream()
    s.background(HONEST, 300, 3, T0, 10)
    targets = ["t1", "t2", "t3"]
    crew = [f"bomb{i}" for i in range(15)]
    # Two waves: against the market's few negative reviews, one wave of a small crew over
    # three targets is not yet lockstep beyond chance (fake_reviews flags each burst).
    s.wave(targets, crew, T0 + 4 * DAY + 10 * HOUR, batch=10, rating=1)
    s.wave(targets, crew, T0 + 6 * DAY + 10 * HOUR, batch=10, rating=1)
    found = run(Lockstep(), s.sorted())
    assert found and {f.seller_id for f in found} <= set(targets)
    assert all(f.victim for f in found)
    assert {a for f in found for a in f.accounts} & set(crew)


def test_popular_seller_reviewed_by_many_at_different_times_stays_quiet():
    s = Stream()
    # 600 reviewers, each reviews the popular shop once and two others, at random times.
    for i in range(600):
        s.review("popular", f"u{i}", 5, T0 + s.rng.randrange(10 * DAY))
        for _ in range(2):
            s.review(s.rng.choice(HONEST[:5]), f"u{i}", 5, T0 + s.rng.randrange(10 * DAY))
    assert run(Lockstep(), s.sorted()) == []


def test_flash_sale_reviewers_are_one_seller_not_a_group():
    s = Stream()
    s.background(HONEST, 300, 3, T0, 10)
    for i in range(80):  # a flash sale's buyers reviewing the same shop the same evening
        s.review("flash", f"fan{i}", 5, T0 + 4 * DAY + 20 * HOUR + s.rng.randrange(2 * HOUR))
    for i in range(80):  # ... and reviewing other shops on other days
        s.review(s.rng.choice(HONEST), f"fan{i}", 5, T0 + s.rng.randrange(10 * DAY))
    assert run(Lockstep(), s.sorted()) == []


def test_state_expires_with_the_window():
    s = Stream()
    s.background(HONEST, 300, 4, T0, 10)
    det = Lockstep(window_ms=7 * DAY)
    run(det, s.sorted())
    assert 0 < det.state_size() <= 1200
    det.evaluate(T0 + 30 * DAY)
    assert det.state_size() == 0


def test_heavy_reviewers_of_popular_sellers_are_not_a_group():
    """Issue 10, class 1: in a power-law market heavy reviewers of the most popular sellers meet
    in the same hours by chance; judged against the market's traffic they are not lockstep,
    while the farm in the same market is."""
    from tests.fixtures.cases import events_of, popular_coreviewers_vs_review_farm

    found = run(Lockstep(), events_of(popular_coreviewers_vs_review_farm))
    flagged = {f.seller_id for f in found if f.score >= 0.4}
    assert flagged == {"s004", "s017", "s035"}  # the farm's clients, no popular seller
