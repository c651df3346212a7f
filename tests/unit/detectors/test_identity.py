"""`detectors.identity.SockPuppets`: identity-linked rings converging on a client, and the honest
clusters that must stay quiet (households, a campus NAT, camouflage victims)."""

from __future__ import annotations

import random
from collections.abc import Callable

from credence.contract import Event, Order, Review
from detectors.base import Finding
from detectors.identity import SockPuppets
from tests.unit.detectors.support import run, snapshot_copy

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_790_000_000_000
HONEST = [f"s{i:02d}" for i in range(30)]


class World:
    """A small marketplace: old honest buyers with their own identities, in households."""

    def __init__(self, seed: int = 3, buyers: int = 400, days: int = 10) -> None:
        self.rng = random.Random(seed)
        self.days = days
        self.events: list[Order] = []
        self.n = 0
        for h in range(buyers // 3):
            size = self.rng.choice((1, 1, 2, 3, 4))
            card = f"p_h{h}" if self.rng.random() < 0.3 else None
            for m in range(size):
                b = f"u{h}_{m}"
                favs = self.rng.sample(HONEST, 2)
                for _ in range(self.rng.randint(1, 6)):
                    s = self.rng.choice(favs) if self.rng.random() < 0.6 \
                        else self.rng.choice(HONEST)
                    self.order(s, b, T0 + self.rng.randrange(days * DAY), device=f"d_{b}",
                               payment=card or f"p_{b}", address=f"a_h{h}", ip=f"ip_h{h}")

    def order(self, seller: str, buyer: str, ts: int, *, device: str | None = None,
              payment: str | None = None, address: str | None = None, ip: str | None = None,
              registered: int = T0 - 800 * DAY, shipped: bool = True,
              amount: float | None = None) -> str:
        self.n += 1
        oid = f"o{self.n:06d}"
        self.events.append(Order(
            order_id=oid, seller_id=seller, buyer_id=buyer,
            amount=amount if amount is not None else round(self.rng.uniform(20, 200), 2), ts=ts,
            device_id=device, payment_id=payment, address_id=address, ip=ip,
            tracking_no=f"T{oid}" if shipped else None, buyer_registered=registered))
        return oid

    def ring(self, client: str, puppets: int = 20, orders: int = 60, start: int = T0 + DAY,
             days: float = 5, camouflage: int = 1, prefix: str = "pup") -> list[str]:
        """Sock puppets sharing a few devices, cards, addresses and proxies; each also buys
        ``camouflage`` times from popular honest sellers."""
        devs = [f"d_{prefix}{i}" for i in range(4)]
        cards = [f"p_{prefix}{i}" for i in range(3)]
        addrs = [f"a_{prefix}{i}" for i in range(2)]
        ips = [f"ip_{prefix}{i}" for i in range(2)]
        names = [f"{prefix}{i}" for i in range(puppets)]
        regs = {p: (start - self.rng.randrange(1, 10) * DAY if self.rng.random() < 0.6
                    else T0 - 1500 * DAY) for p in names}
        ident = {p: (self.rng.choice(devs), self.rng.choice(cards), self.rng.choice(addrs))
                 for p in names}
        who = names + [self.rng.choice(names) for _ in range(orders - puppets)]
        for i, p in enumerate(who):
            d, c, a = ident[p]
            ts = start + int(i * days * DAY / orders) + self.rng.randrange(HOUR)
            self.order(client, p, ts, device=d, payment=c, address=a, ip=self.rng.choice(ips),
                       registered=regs[p], shipped=self.rng.random() < 0.85)
        for p in names:
            d, c, a = ident[p]
            for _ in range(camouflage):
                self.order(self.rng.choice(HONEST[:5]), p,
                           start + self.rng.randrange(int(days * DAY)), device=d, payment=c,
                           address=a, ip=f"ip_home_{p}", registered=regs[p])
        return names

    def campus(self, students: int = 150) -> None:
        """Students behind one NAT, four to a dorm room (shared address), own devices and cards,
        many accounts opened at the start of term."""
        for i in range(students):
            b = f"st{i}"
            reg = T0 - self.rng.randrange(5, 30) * DAY if i % 2 else T0 - 700 * DAY
            for _ in range(self.rng.randint(1, 4)):
                self.order(self.rng.choice(HONEST), b, T0 + self.rng.randrange(self.days * DAY),
                           device=f"d_{b}", payment=f"p_{b}", address=f"a_room{i // 4}",
                           ip="ip_campus", registered=reg)

    def sorted(self) -> list[Order]:
        return sorted(self.events, key=lambda e: (e.ts, e.seller_id, e.order_id))


def best(findings: list[Finding]) -> dict[str, Finding]:
    out: dict[str, Finding] = {}
    for f in findings:
        if f.seller_id not in out or f.score > out[f.seller_id].score:
            out[f.seller_id] = f
    return out


def test_ring_fires_on_its_client_with_the_puppets():
    w = World()
    puppets = w.ring("s_client")
    by = best(run(SockPuppets(), w.sorted()))
    assert set(by) == {"s_client"}, "camouflage sellers and honest sellers stay quiet"
    f = by["s_client"]
    assert f.score >= 0.9
    assert set(f.accounts) <= set(puppets) and len(f.accounts) >= 15
    assert min(f.accounts.values()) >= 0.8
    assert f.evidence["share_of_linked_purchases"] >= 0.9
    assert f.evidence["order_ids"] and len(f.evidence["order_ids"]) <= 20
    assert f.summary.endswith(".")


def test_camouflage_does_not_hide_the_ring_or_implicate_its_hosts():
    w = World()
    w.ring("s_client", camouflage=4)
    by = best(run(SockPuppets(), w.sorted()))
    assert set(by) == {"s_client"}
    assert by["s_client"].score >= 0.9


def test_ring_is_reported_early_with_a_moderate_score_then_escalates():
    w = World()
    w.ring("s_client")
    fs = [f for f in run(SockPuppets(), w.sorted()) if f.seller_id == "s_client"]
    assert fs[0].evidence["linked_accounts"] <= 6
    assert fs[0].score < fs[-1].score


def test_households_and_campus_stay_quiet():
    w = World(seed=5, buyers=600)
    w.campus()
    # a household of four (one address, a family card, a shared tablet) that makes all the
    # orders of one small shop, and buys elsewhere too
    for m in range(4):
        for k in range(3):
            w.order("s_fav", f"hh{m}", T0 + (m * 3 + k) * DAY // 2,
                    device="d_tablet" if k == 1 else f"d_hh{m}", payment="p_family",
                    address="a_family", ip="ip_family")
            w.order(HONEST[m], f"hh{m}", T0 + (m * 3 + k) * DAY // 2 + HOUR,
                    device=f"d_hh{m}", payment="p_family", address="a_family", ip="ip_family")
    assert run(SockPuppets(), w.sorted()) == []


def test_slow_ring_of_aged_accounts_is_found():
    w = World(days=20)
    rng = random.Random(9)
    puppets = [f"old{i}" for i in range(7)]
    for i in range(30):
        p = puppets[i % 7]
        w.order("s_slow", p, T0 + i * 15 * HOUR + rng.randrange(HOUR),
                device=f"d_old{i % 2}", payment="p_old", address=f"a_old{i % 7 % 2}",
                registered=T0 - 1000 * DAY)
    by = best(run(SockPuppets(), w.sorted()))
    assert set(by) == {"s_slow"}
    assert by["s_slow"].score >= 0.8
    assert set(by["s_slow"].accounts) == set(puppets)


def test_links_expire_with_the_window():
    det = SockPuppets(window_ms=5 * DAY, rebuild_every_ms=HOUR)
    mk = World(buyers=0)
    e1 = [mk.order("s1", "x", T0, device="d_shared"), mk.order("s1", "y", T0 + MIN,
                                                               device="d_shared")]
    for e in mk.sorted():
        det.observe(e)
    det.evaluate(T0 + 2 * MIN)
    assert det._root("x") == det._root("y")
    assert e1
    det.observe(Order(order_id="late", seller_id="s2", buyer_id="y", amount=5.0,
                      ts=T0 + 4 * DAY, device_id="d_other"))
    det.evaluate(T0 + 6 * DAY)  # x's only order and y's use of d_shared are out of the window
    assert det._root("x") != det._root("y")
    assert "d:d_shared" not in det._ident
    det.evaluate(T0 + 10 * DAY)
    assert det.state_size() == 0


def test_hub_identifier_stops_linking():
    det = SockPuppets(hub_accounts=10, rebuild_every_ms=HOUR)
    w = World(buyers=0)
    for i in range(30):  # a parcel locker used by thirty strangers
        w.order(HONEST[i % 30], f"locker{i}", T0 + i * MIN, device=f"d{i}", address="a_locker")
    run(det, w.sorted())
    w2 = World(buyers=0)
    w2.order("s1", "locker0", T0 + 7 * HOUR, device="d0")
    run(det, w2.sorted())  # the rebuild after the locker became a hub unlinks its holders
    assert det._root("locker0") != det._root("locker5")  # linked before it was a hub


def test_state_survives_a_snapshot_midway():
    w = World()
    w.ring("s_client")
    ev = w.sorted()
    half = len(ev) // 2
    a = SockPuppets()
    run(a, ev[:half])
    b = snapshot_copy(a)
    assert [vars(f) for f in run(a, ev[half:])] == [vars(f) for f in run(b, ev[half:])]


def test_big_ring_is_judged_on_a_schedule_and_still_reported():
    w = World(buyers=200)
    puppets = w.ring("s_client", puppets=80, orders=240)
    det = SockPuppets(big_cluster=30, big_every_ms=2 * HOUR)
    fs = [f for f in run(det, w.sorted()) if f.seller_id == "s_client"]
    assert fs and max(f.score for f in fs) >= 0.9
    assert set(fs[-1].accounts) == set(puppets)


def _crew(client: str, crew: list[str], ids: Callable[[str], dict[str, str]], *, seed: int,
          orders: int, every_hours: int, elsewhere: int, praise_client: float,
          praise_elsewhere: float, four_stars: float = 0.0) -> tuple[list[Event], list[str]]:
    """Aged accounts with identifiers ``ids(account)`` buying from ``client`` in turn every
    ``every_hours`` and ``elsewhere`` times each from popular shops; each order is reviewed
    with the given probability (at the client, elsewhere), 5-star, or 4-star with probability
    ``four_stars``."""
    w = World(days=20)
    rng = random.Random(seed)
    reviews: list[Event] = []

    def buy(seller: str, b: str, ts: int, p_review: float) -> None:
        oid = w.order(seller, b, ts, registered=T0 - 900 * DAY, **ids(b))
        if rng.random() < p_review:
            rating = 4 if four_stars and rng.random() < four_stars else 5
            reviews.append(Review(review_id=f"r{oid}", seller_id=seller, reviewer_id=b,
                                  rating=rating, order_id=oid, ts=ts + 2 * DAY))

    for i in range(orders):
        buy(client, crew[i % len(crew)], T0 + i * every_hours * HOUR + rng.randrange(HOUR),
            praise_client)
    for b in crew:
        for _ in range(elsewhere):
            buy(rng.choice(HONEST[:5]), b, T0 + rng.randrange(18 * DAY), praise_elsewhere)
    return sorted([*w.events, *reviews], key=lambda e: (e.ts, e.event_id)), crew


def _card_crew(praise_client: float, praise_elsewhere: float, four_stars: float = 0.0
               ) -> tuple[list[Event], list[str]]:
    """Six aged accounts on one card, each with its own device and address, buying from
    ``s_card`` about daily."""
    return _crew("s_card", [f"crew{i}" for i in range(6)],
                 lambda b: {"device": f"d_{b}", "payment": "p_crew", "address": f"a_{b}"},
                 seed=11, orders=30, every_hours=15, elsewhere=4, praise_client=praise_client,
                 praise_elsewhere=praise_elsewhere, four_stars=four_stars)


def _ip_crew(praise_client: float, praise_elsewhere: float) -> tuple[list[Event], list[str]]:
    """Issue 10, slow wash on an IP-only platform: seven aged accounts on two home connections,
    no device, card or address sent, reordering from ``s_ip`` about daily."""
    crew = [f"ipc{i}" for i in range(7)]
    return _crew("s_ip", crew, lambda b: {"ip": f"ip_crew{crew.index(b) % 2}"}, seed=12,
                 orders=35, every_hours=13, elsewhere=3, praise_client=praise_client,
                 praise_elsewhere=praise_elsewhere)


def test_a_crew_on_two_home_connections_is_found_by_its_reorders_and_praise():
    """Where the platform sends only the IP, accounts that reorder from one seller from one
    address are linked; with the review push they are a crew."""
    events, crew = _ip_crew(praise_client=0.9, praise_elsewhere=0.1)
    # each connection's accounts are a cluster of their own (nothing links the two): alone,
    # the larger scored 0.62 at the push weight of then (held-out world 10802 of issue 10:
    # 0.79 at most, never listed)
    alone = best(run(SockPuppets(merge_floor=2.0, w_push=2.5), events))
    assert set(alone) == {"s_ip"} and 0.4 <= alone["s_ip"].score < 0.8
    assert len(alone["s_ip"].accounts) < len(crew)
    # both make s_ip their top seller and push reviews there: one crew of seven
    for det in (SockPuppets(w_push=2.5), SockPuppets()):
        by = best(run(det, events))
        assert set(by) == {"s_ip"} and by["s_ip"].score >= 0.8
        assert set(by["s_ip"].accounts) == set(crew)
        assert "clusters_converge" in by["s_ip"].reasons


def test_an_office_reordering_on_one_connection_without_praise_stays_quiet():
    events, _ = _ip_crew(praise_client=0.3, praise_elsewhere=0.3)
    by = best(run(SockPuppets(), events))
    assert "s_ip" not in by or by["s_ip"].score < 0.4


def test_strangers_behind_a_nat_reordering_at_one_shop_are_not_linked():
    """Beyond ``ip_hub_accounts`` accounts an (IP, seller) pair links nobody, from the next
    evaluation on: a carrier NAT's regulars of a popular shop are strangers."""
    det = SockPuppets(ip_hub_accounts=4)
    w = World(buyers=0)
    for i in range(10):
        for k in range(2):
            w.order("s_pop", f"nat{i}", T0 + (2 * i + k) * HOUR, ip="ip_nat")
    run(det, w.sorted())
    assert len({det._root(f"nat{i}") for i in range(10)}) == 10


def test_review_push_is_the_behaviour_that_benign_sharing_lacks():
    """Issue 10, class 2: a company card shared by aged accounts with shipped ordinary orders
    stays a prior; the same sharing with 5-star reviews at the client far above the crew's own
    review habit elsewhere is a puppet's behaviour (slow wash with honest-looking texts)."""
    events, crew = _card_crew(praise_client=0.9, praise_elsewhere=0.1)
    by = best(run(SockPuppets(), events))
    assert set(by) == {"s_card"}
    assert by["s_card"].evidence["puppet_behaviour"] == 1.0
    assert by["s_card"].score >= 0.6  # one shared card is a moderate finding on its own
    assert set(by["s_card"].accounts) == set(crew)
    assert by["s_card"].evidence["review_share"] > by["s_card"].evidence["expected_review_share"]


def test_a_push_of_four_and_five_stars_is_a_push():
    """Held-out world 10516 of issue 10: a slow wash's puppets reviewed 55 % of their orders at
    the client against 6 % elsewhere, 3 of 11 reviews 4-star, and a push of "nearly all 5-star"
    read none (the client was never alerted). Praise is 4 or 5 stars; a crew told to vary its
    ratings is still a crew."""
    events, crew = _card_crew(praise_client=0.9, praise_elsewhere=0.1, four_stars=0.4)
    reviews = [e for e in events if isinstance(e, Review) and e.seller_id == "s_card"]
    assert sum(r.rating == 4 for r in reviews) > 0.25 * len(reviews)  # no "nearly all 5-star"
    by = best(run(SockPuppets(), events))
    assert by["s_card"].evidence["puppet_behaviour"] == 1.0
    assert by["s_card"].score >= 0.6 and set(by["s_card"].accounts) == set(crew)


def test_employees_who_review_everyone_alike_are_no_push():
    events, _ = _card_crew(praise_client=0.7, praise_elsewhere=0.7)
    by = best(run(SockPuppets(), events))
    assert "s_card" not in by or by["s_card"].score < 0.4


def test_a_crews_camouflage_host_is_no_client_but_its_puppets_stay_puppets():
    """Golden case camouflage_host_vs_client (held-out world 9205 of issue 10): the crew makes
    1-2 % of the market leader's orders, so the leader's score shrinks with that share while
    the puppets keep the cluster's score; at the client (over half of its orders) nothing
    shrinks."""
    from tests.fixtures.cases import camouflage_host_vs_client, events_of

    found = run(SockPuppets(), events_of(camouflage_host_vs_client))
    host = [f for f in found if f.seller_id == "s019"]
    client = [f for f in found if f.seller_id == "s020"]
    assert host and client
    for f in host:
        assert "small_share_of_seller_orders" in f.reasons
        assert f.score < 0.5 < max(f.accounts.values())
        assert f.score < f.evidence["account_score"]
    assert max(f.score for f in host) < 0.8 < max(f.score for f in client)
    for f in client:
        assert "small_share_of_seller_orders" not in f.reasons
        assert abs(f.score - f.evidence["account_score"]) < 1e-4


def test_a_review_counts_once_and_only_while_the_order_it_names_is_live():
    """Golden case reviewing_staff_of_a_supplier: a repeat buyer's reviews must leave with the
    orders they were about, as a one-off buyer's do (before, they stayed on the pair)."""
    from detectors.identity import _REVIEWS
    from tests.fixtures.cases import events_of, reviewing_staff_of_a_supplier

    det = SockPuppets(window_ms=10 * 86_400_000)
    t0 = 1_791_000_000_000
    day = 86_400_000

    def order(oid: str, t: int) -> Order:
        return Order(order_id=oid, seller_id="s1", buyer_id="b1", amount=10.0, ts=t)

    det.observe(order("o1", t0))
    det.observe(order("o2", t0 + 5 * day))
    for _ in range(2):  # the same review twice counts once
        det.observe(Review(review_id="r1", seller_id="s1", reviewer_id="b1", rating=5,
                           ts=t0 + 6 * day, order_id="o1"))
    det.observe(Review(review_id="r2", seller_id="s1", reviewer_id="b1", rating=5,
                       ts=t0 + 6 * day, order_id="o-unknown"))
    assert det._pair[("b1", "s1")][_REVIEWS] == 1
    det.evaluate(t0 + 11 * day)  # o1 expires, and its review with it; o2 stays
    assert det._pair[("b1", "s1")][_REVIEWS] == 0
    assert not any(f.seller_id == "s026" for f in run(SockPuppets(),
                                                          events_of(reviewing_staff_of_a_supplier)))


def _small_card_crew(praise_client: float) -> tuple[list[Event], list[str]]:
    """After world 11802 of issue 10 (slow wash s15075: four aged accounts linked there by one
    home IP at the shop; here by one card): each with its own device and address, 12 orders at
    ``s_card`` over eight days, among the shop's 90 orders from its own customers, and each a
    few camouflage orders at shops of its own; reviewed 75 % at the client against 17 %
    elsewhere."""
    w = World(days=10)
    rng = random.Random(13)
    crew = [f"crew{i}" for i in range(4)]
    reviews: list[Event] = []

    def buy(seller: str, b: str, ts: int, p_review: float, **ids: str) -> None:
        oid = w.order(seller, b, ts, registered=T0 - 900 * DAY, **ids)
        if rng.random() < p_review:
            reviews.append(Review(review_id=f"r{oid}", seller_id=seller, reviewer_id=b,
                                  rating=5, order_id=oid, ts=ts + 2 * DAY))

    for i in range(12):
        b = crew[i % 4]
        buy("s_card", b, T0 + i * 16 * HOUR + rng.randrange(HOUR), praise_client,
            device=f"d_{b}", payment="p_crew", address=f"a_{b}")
    for k, b in enumerate(crew):
        for j in range(3):
            buy(HONEST[5 * k + j], b, T0 + rng.randrange(8 * DAY), 0.15, device=f"d_{b}",
                payment="p_crew", address=f"a_{b}")
    for i in range(90):
        c = f"cust{i % 60}"
        buy("s_card", c, T0 + rng.randrange(8 * DAY), 0.2, device=f"d_{c}",
            payment=f"p_{c}", address=f"a_{c}")
    return sorted([*w.events, *reviews], key=lambda e: (e.ts, e.event_id)), crew


def test_a_household_sized_crew_with_a_strong_push_is_listed_by_it():
    """Held-out worlds 11802, 11210, 11715 of issue 10: slow washes of four or five aged
    accounts whose only puppet behaviour was the review push scored 0.60-0.71 (log-odds
    0.4-0.9: a household's size, a small share) and were never listed. The push is a tail
    probability against the accounts' own habit, so at full strength it is worth more than a
    household's size takes away (``w_push`` 4; on 26 training worlds no honest cluster's score
    moved past 0.42). Without the push the same sharing stays a prior."""
    events, crew = _small_card_crew(praise_client=0.85)
    by = best(run(SockPuppets(), events))
    assert by["s_card"].evidence["puppet_behaviour"] == 1.0
    assert by["s_card"].evidence["share_of_seller_orders"] < 0.2
    assert by["s_card"].score >= 0.8 and set(by["s_card"].accounts) == set(crew)
    assert best(run(SockPuppets(w_push=2.5), events))["s_card"].score < 0.8
    quiet, _ = _small_card_crew(praise_client=0.1)
    assert "s_card" not in best(run(SockPuppets(), quiet))
