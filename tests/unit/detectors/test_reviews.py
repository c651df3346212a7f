"""`detectors.reviews.FakeReviews`: review bursts, bombing victims, and what must stay quiet."""

from __future__ import annotations

import math
import random

import pytest

from credence.contract import Order, Review
from detectors.base import Finding
from detectors.nulls import poisson_tail_nlp
from detectors.reviews import FakeReviews, MinHasher
from tests.unit.detectors import support

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_790_000_000_000
OLD = T0 - 3 * 365 * DAY  # an established account's registration

_VOCAB = ("good", "quality", "fast", "delivery", "nice", "colour", "fits", "well", "packed",
          "cheap", "solid", "build", "works", "fine", "price", "value", "seller", "helpful",
          "arrived", "early", "kid", "loves", "size", "small", "large", "soft", "warm", "bright",
          "sturdy", "light", "heavy", "smell", "box", "gift", "daughter", "son", "office", "car",
          "kitchen", "garden", "battery", "charger", "screen", "strap", "zip", "pocket", "lid")
_OPEN = ("Excellent product", "Amazing quality", "Perfect item", "Very satisfied")
_CLOSE = ("will definitely buy again!", "five stars!", "highly recommended!", "must buy!")
_PRAISE = "the seller is very professional and the item is exactly as shown"
_ATTACK = "the product is fake and the seller refuses any refund"


def honest_text(rng: random.Random) -> str | None:
    if rng.random() < 0.4:
        return None
    return " ".join(rng.sample(_VOCAB, rng.randint(2, 7))).capitalize()


def scripted(rng: random.Random, body: str) -> str:
    if rng.random() < 0.3:
        body = body.replace(" and ", ", ")
    return f"{rng.choice(_OPEN)}! {body}, {rng.choice(_CLOSE)}"


class Stream:
    """Hand-made events, kept in time order."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.events: list[Order | Review] = []
        self.n = 0

    def _id(self, p: str) -> str:
        self.n += 1
        return f"{p}{self.n:06d}"

    def order(self, seller: str, buyer: str, ts: int, *, amount: float = 60.0,
              shipped: bool = True, registered: int = OLD, device: str | None = None) -> str:
        oid = self._id("o")
        self.events.append(Order(order_id=oid, seller_id=seller, buyer_id=buyer, amount=amount,
                                 ts=ts, tracking_no=f"SF{self.n}" if shipped else None,
                                 buyer_registered=registered, device_id=device))
        return oid

    def review(self, seller: str, reviewer: str, rating: int, ts: int, *,
               order_id: str | None = None, text: str | None = None,
               registered: int = OLD) -> str:
        rid = self._id("r")
        self.events.append(Review(review_id=rid, seller_id=seller, reviewer_id=reviewer,
                                   rating=rating, ts=ts, order_id=order_id, text=text,
                                   reviewer_registered=registered))
        return rid

    def honest(self, seller: str, start: int, days: float, per_day: float, *,
               ratings: tuple[int, ...] = (5, 5, 5, 4, 4, 3, 1), prefix: str = "h") -> None:
        """Verified reviews from distinct established buyers, 1.5-4 days after the purchase."""
        n = int(days * per_day)
        for i in range(n):
            t = start + int(i * days * DAY / n) + self.rng.randrange(HOUR)
            buyer = f"{prefix}{seller}-{i}"
            oid = self.order(seller, buyer, t - self.rng.randrange(36, 96) * HOUR)
            self.review(seller, buyer, self.rng.choice(ratings), t, order_id=oid,
                        text=honest_text(self.rng))

    def sorted(self) -> list[Order | Review]:
        return sorted(self.events, key=lambda e: (e.ts, 0 if e.type == "order" else 1))


def run(det: FakeReviews, events: list, tick: int = MIN) -> list[Finding]:
    return support.run(det, events, tick, extra_ticks=120)  # time goes on for two more hours


def about(findings: list[Finding], seller: str) -> list[Finding]:
    return [f for f in findings if f.seller_id == seller]


# --------------------------------------------------------------------------- helpers


def test_poisson_tail_matches_the_exact_sum():
    for k, mu in ((1, 0.5), (3, 0.02), (5, 2.0), (12, 3.0), (4, 7.0)):
        exact = 1.0 - sum(math.exp(-mu) * mu ** j / math.factorial(j) for j in range(k))
        assert poisson_tail_nlp(k, mu) == pytest.approx(-math.log10(exact), rel=1e-6)
    assert poisson_tail_nlp(0, 1.0) == 0.0
    assert poisson_tail_nlp(40, 0.01) == 50.0  # capped, not inf


def test_minhash_finds_copied_scripts_not_honest_texts():
    rng = random.Random(3)
    h = MinHasher()
    a, b = h.signature(scripted(rng, _PRAISE)), h.signature(scripted(rng, _PRAISE))
    assert a is not None and b is not None
    assert MinHasher.similarity(a, b) >= 0.25
    c = h.signature("Solid build and warm colour, my daughter loves the pocket and the zip")
    assert c is not None and MinHasher.similarity(a, c) < 0.1
    assert h.signature("Good quality") is None  # too short to tell copying from coincidence
    # Fixed seed: another instance (another process) gives the same signature.
    assert (MinHasher().signature(scripted(random.Random(3), _PRAISE)) == a).all()


# --------------------------------------------------------------------------- patterns


def test_positive_burst_incriminates_the_seller_and_its_reviewers():
    s = Stream()
    s.honest("s1", T0, 14, 3)
    burst = T0 + 14 * DAY + 10 * HOUR
    farm = [f"farm{i}" for i in range(9)]
    for i, a in enumerate(farm):
        s.review("s1", a, 5, burst + i * 6 * MIN, text=scripted(s.rng, _PRAISE))
    found = about(run(FakeReviews(), s.sorted()), "s1")
    assert found, "the farm burst must fire"
    assert all(not f.victim for f in found)
    assert max(f.score for f in found) >= 0.6
    best = found[-1]  # the episode's latest finding names everyone so far
    assert best.score >= 0.6
    assert set(farm) <= set(best.accounts)
    assert min(best.accounts[a] for a in farm) >= 0.5
    assert not any(a.startswith("hs1") for f in found for a in f.accounts)
    assert "duplicate_texts" in best.reasons and "unverified" in best.reasons
    assert best.summary.endswith(".") and len(best.evidence["review_ids"]) <= 20
    # It fires during the burst, not after it.
    assert min(f.ts for f in found) <= burst + HOUR


def test_a_customers_words_echoing_a_farms_script_do_not_list_the_customer():
    """Training world 113: a farm that copies real reviews; a customer who bought here lately
    and reviewed without citing the order, in the farm's hour, in words close to the farm's,
    is not linked to the crew by the copy alone. An account that bought nothing here is."""
    s = Stream()
    s.honest("s1", T0, 14, 3)
    burst = T0 + 14 * DAY + 10 * HOUR
    for i in range(9):
        s.review("s1", f"farm{i}", 5, burst + i * 6 * MIN, text=scripted(s.rng, _PRAISE))
    s.order("s1", "cust", burst - 3 * DAY)
    s.order("s2", "other", burst - 3 * DAY)
    for i, who in enumerate(("cust", "other")):
        s.review("s1", who, 5, burst + (20 + i) * MIN, text=scripted(s.rng, _PRAISE))
    found = about(run(FakeReviews(), s.sorted()), "s1")
    best = {a: max(f.accounts.get(a, 0.0) for f in found) for a in ("cust", "other", "farm0")}
    assert best["cust"] <= 0.25 < best["other"]
    assert best["farm0"] >= 0.5


def test_token_purchase_does_not_hide_a_copied_script():
    s = Stream()
    s.honest("s1", T0, 14, 3)
    burst = T0 + 14 * DAY + 10 * HOUR
    token = s.order("s1", "farm0", burst - 2 * DAY, amount=9.9)
    s.review("s1", "farm0", 5, burst, order_id=token, text=scripted(s.rng, _PRAISE))
    for i in range(1, 9):
        s.review("s1", f"farm{i}", 5, burst + i * 6 * MIN, text=scripted(s.rng, _PRAISE))
    found = about(run(FakeReviews(), s.sorted()), "s1")
    assert any("farm0" in f.accounts for f in found)


def test_review_bombing_marks_a_victim_never_a_culprit():
    s = Stream()
    s.honest("s2", T0, 14, 4, ratings=(5, 5, 5, 4, 4))
    attack = T0 + 14 * DAY + 9 * HOUR
    bombers = [f"bomb{i}" for i in range(12)]
    for i, a in enumerate(bombers):
        reg = T0 + 10 * DAY if i % 2 else OLD
        s.review("s2", a, 1, attack + i * 10 * MIN, text=scripted(s.rng, _ATTACK), registered=reg)
    # The target's fans answer with unverified praise: still no culprit finding for it.
    for i in range(8):
        s.review("s2", f"fan{i}", 5, attack + 3 * HOUR + i * 5 * MIN,
                 text=scripted(s.rng, _PRAISE))
    found = about(run(FakeReviews(), s.sorted()), "s2")
    assert found and all(f.victim for f in found)
    best = found[-1]
    assert best.score >= 0.6
    assert set(bombers) <= set(best.accounts)
    assert "s2" not in best.accounts
    assert sum(v >= 0.8 for v in best.accounts.values()) >= 8
    assert "review_bombing" in best.reasons
    assert min(f.ts for f in found) <= attack + HOUR


def test_bombers_who_keep_coming_join_the_episode():
    s = Stream()
    s.honest("s2", T0, 14, 4, ratings=(5, 5, 4))
    attack = T0 + 14 * DAY + 9 * HOUR
    for i in range(20):  # one every 40 minutes, over 13 hours
        s.review("s2", f"bomb{i}", 1, attack + i * 40 * MIN, text=scripted(s.rng, _ATTACK))
    found = about(run(FakeReviews(), s.sorted()), "s2")
    named = set().union(*(f.accounts for f in found))
    assert {f"bomb{i}" for i in range(20)} <= named


def test_hollow_orders_from_fresh_accounts_are_brushing():
    s = Stream()
    s.honest("s5", T0, 14, 2)
    start = T0 + 14 * DAY
    for i in range(16):
        t = start + i * 90 * MIN
        a = f"brush{i}"
        oid = s.order("s5", a, t - 20 * HOUR, amount=1.5, shipped=False, registered=t - DAY)
        s.review("s5", a, 5, t, order_id=oid, registered=t - DAY,
                 text=scripted(s.rng, _PRAISE) if i % 2 else None)
    found = about(run(FakeReviews(), s.sorted()), "s5")
    assert found and not any(f.victim for f in found)
    best = found[-1]
    assert best.score >= 0.6 and "hollow_orders" in best.reasons
    assert len(best.accounts) >= 10


# --------------------------------------------------------------------------- hard negatives


def test_declining_quality_from_real_buyers_is_not_an_attack():
    s = Stream()
    s.honest("s3", T0, 10, 4, ratings=(5, 5, 4, 4))
    s.honest("s3", T0 + 10 * DAY, 10, 6, ratings=(1, 1, 2, 2, 3, 4), prefix="late")
    assert about(run(FakeReviews(), s.sorted()), "s3") == []


def test_verified_angry_spike_is_not_an_attack():
    s = Stream()
    s.honest("s3", T0, 14, 4, ratings=(5, 5, 4))
    bad = T0 + 14 * DAY + 10 * HOUR
    for i in range(15):  # a bad batch: real buyers complain within hours
        a = f"angry{i}"
        oid = s.order("s3", a, bad - 3 * DAY + i * MIN)
        s.review("s3", a, 1, bad + i * 8 * MIN, order_id=oid, text=honest_text(s.rng))
    assert about(run(FakeReviews(), s.sorted()), "s3") == []


def test_viral_newcomer_with_verified_reviews_stays_quiet():
    s = Stream()
    start = T0 + 5 * DAY
    n = 0
    for day in range(10):
        per_day = int(3 * math.exp(0.35 * day))
        for _ in range(per_day):
            t = start + day * DAY + s.rng.randrange(DAY)
            buyer = f"v{n}"
            n += 1
            oid = s.order("s4", buyer, t - 2 * DAY)
            s.review("s4", buyer, s.rng.choice((5, 5, 5, 4, 4, 3)), t, order_id=oid,
                     text=honest_text(s.rng))
    assert n > 200
    assert about(run(FakeReviews(), s.sorted()), "s4") == []


def test_a_few_unverified_honest_reviews_stay_quiet():
    s = Stream()
    s.honest("s6", T0, 14, 6)
    t = T0 + 3 * DAY
    for i in range(5):  # reviews of purchases made before the window, from regular buyers
        s.order("s7", f"old{i}", t - DAY)
        s.review("s6", f"old{i}", 5, t + i * 10 * MIN, text=honest_text(s.rng))
    assert [f for f in run(FakeReviews(), s.sorted()) if f.score >= 0.4] == []


def _phone_farm(devices: int, seed: int = 7) -> tuple[Stream, list[str]]:
    """A farm of 24 aged accounts that shop around (no 'no purchase lately' footprint) and post
    bare 5-star reviews for a client in two waves of eight within the hour, half of them on a
    token purchase (verified); their orders come from ``devices`` devices among them (24: a
    phone each). Held-out world 9810 and training world 111: nothing else showed."""
    s = Stream(seed)
    s.honest("client", T0, 20, 1)
    farm = [f"pf{i}" for i in range(24)]
    for i, a in enumerate(farm):
        for d in range(0, 16, 5):
            s.order(f"shop{s.rng.randrange(6)}", a, T0 + d * DAY + s.rng.randrange(DAY),
                    device=f"dev{i % devices}")
    for wave in range(2):
        at = T0 + (16 + 2 * wave) * DAY + 10 * HOUR
        for i, a in enumerate(s.rng.sample(farm, 8)):
            oid = (s.order("client", a, at - 2 * DAY + i * HOUR, device=f"dev{farm.index(a) % devices}")
                   if i % 2 else None)
            s.review("client", a, 5, at + i * 6 * MIN, order_id=oid)
    return s, farm


def test_a_phone_farms_shared_devices_are_its_footprint():
    """Issue 10 (review farms on shared devices, with token purchases and no texts): members
    whose orders came from one device are a crew; accounts with a phone each are not."""
    shared, farm = _phone_farm(devices=4)
    own, _ = _phone_farm(devices=24)
    couples, _ = _phone_farm(devices=12)  # two accounts a device: a household's tablet
    best = {name: max((f.score for f in about(run(FakeReviews(**kw), s.sorted()), "client")),
                      default=0.0)
            for name, s, kw in (("shared", shared, {}), ("off", shared, {"w_device": 0.0}),
                                ("own", own, {}), ("couples", couples, {}))}
    assert best["shared"] >= 0.7
    # nothing emitted: an unverified review alone, or from a couple's tablet
    assert best["off"] == best["own"] == best["couples"] == 0.0
    found = about(run(FakeReviews(), shared.sorted()), "client")
    assert "shared_devices" in found[-1].reasons
    assert {a for f in found for a in f.accounts} <= set(farm)


def test_a_phone_farms_devices_carry_the_crew_to_its_next_client():
    """The accounts a farm sends to its second client are not the ones it sent to the first,
    but they order from the same phones: the crew's footprint follows the devices."""
    def farm(devices: int) -> list[Finding]:
        s = Stream(9)
        for c in ("c1", "c2"):
            s.honest(c, T0, 20, 1, prefix=f"h{c}")
        pool = [f"pf{i}" for i in range(16)]
        for i, a in enumerate(pool):
            s.order(f"shop{i % 5}", a, T0 + 10 * DAY + i * HOUR, device=f"dev{i % devices}")
        at = T0 + 16 * DAY + 10 * HOUR
        for j, c in enumerate(("c1", "c2")):  # c1: the first eight, c2: the other eight
            for i, a in enumerate(pool[8 * j:8 * j + 8]):
                s.review(c, a, 5, at + j * DAY + i * 6 * MIN)
        return run(FakeReviews(), s.sorted())

    shared, own = farm(2), farm(16)
    assert max(f.evidence["crew_share"] for f in about(shared, "c2")) >= 0.5
    assert all(f.evidence["crew_share"] == 0 for f in about(own, "c2"))
    assert about(shared, "c1")[0].evidence["crew_share"] == 0  # the first client: no crew yet


def test_a_lone_texted_review_is_no_near_duplicate():
    """One texted review in a burst has nothing to be a copy of: text alone adds no footprint."""
    lone = "Lovely warm scarf, my daughter wears it every single day"

    def burst(text_first: bool, history: bool) -> list[Finding]:
        s = Stream()
        if history:
            s.honest("s1", T0, 14, 3)
        else:
            s.order("s9", "x", T0)  # the stream starts here; s1 has no history
        t = T0 + 14 * DAY + 10 * HOUR if history else T0 + 11 * DAY
        for i in range(3):  # established accounts, unverified 5 stars
            s.review("s1", f"new{i}", 5, t + i * 5 * MIN, text=lone if text_first and i == 0 else None)
        return about(run(FakeReviews(), s.sorted()), "s1")

    # Adding text to one review must not change what is reported, with or without history.
    assert [f.score for f in burst(True, history=False)] == \
        [f.score for f in burst(False, history=False)]
    # Reported either way: the texted reviewer is no near-duplicate and stays a loner.
    plain, texted = burst(False, history=True), burst(True, history=True)
    assert plain and texted
    assert [f.score for f in texted] == [f.score for f in plain]
    assert all("duplicate_texts" not in f.reasons for f in texted)
    assert all(f.evidence["duplicate_share"] == 0 for f in texted)
    assert [f.accounts for f in texted] == [f.accounts for f in plain]


# --------------------------------------------------------------------------- state


def test_state_expires():
    s = Stream()
    s.honest("s1", T0, 20, 10)
    for i in range(50):  # orders from devices: the phones and purchases kept for verification
        s.order(f"shop{i % 3}", f"b{i}", T0 + 15 * DAY + i * HOUR, device=f"dev{i % 7}")
    det = FakeReviews()
    run(det, s.sorted())
    busy = det.state_size()
    assert busy > 300 and det._devices and len(det._bought_at)
    for k in range(1, 40):
        det.evaluate(T0 + 20 * DAY + k * DAY)
    assert det.state_size() < busy / 10
    assert not det._devices and not det._device_days
    assert len(det._bought) == len(det._bought_at) == 0


def _farm_without_texts(seed: int = 5) -> tuple[Stream, list[str], list[str]]:
    """A pool of 30 aged accounts that also shop around (no 'no purchase lately' footprint),
    posting unverified 5-star reviews without texts for four clients in three waves, each
    client a batch of 8 drawn from the pool: no text, no registration age, no purchase
    footprint; only the same accounts turning up in one client's burst after another."""
    s = Stream(seed)
    clients = ["c1", "c2", "c3", "c4"]
    for c in clients:
        s.honest(c, T0, 14, 2, prefix=f"h{c}")
    pool = [f"pool{i}" for i in range(30)]
    for a in pool:
        for d in range(0, 17, 4):
            s.order(f"shop{s.rng.randrange(5)}", a, T0 + d * DAY + s.rng.randrange(DAY))
    for wave in range(3):
        start = T0 + (14 + 2 * wave) * DAY + 10 * HOUR
        for j, c in enumerate(clients):
            for i, a in enumerate(s.rng.sample(pool, 8)):
                s.review(c, a, 5, start + j * 40 * MIN + i * 5 * MIN)
    return s, clients, pool


def test_a_farm_pool_working_several_clients_carries_the_crews_footprint():
    """Issue 10 (a review farm with no texts on a platform without registration dates): its
    accounts recur in the significant bursts of one client after another (Mukherjee et al.,
    WWW 2012, group spam), which an honest bystander does not."""
    s, clients, _ = _farm_without_texts()
    with_crew = run(FakeReviews(), s.sorted())
    without = run(FakeReviews(w_crew=0.0), s.sorted())
    best = {c: max((f.score for f in about(with_crew, c)), default=0.0) for c in clients}
    base = {c: max((f.score for f in about(without, c)), default=0.0) for c in clients}
    assert all(best[c] > base[c] for c in clients)
    assert min(best.values()) >= 0.5
    assert any("farm_crew" in f.reasons for f in with_crew)
    # The clients' own verified reviewers are never named.
    assert not any(a.startswith("h") for f in with_crew for a in f.accounts)


def test_a_bystander_without_the_crews_mark_stays_under_the_release_level():
    """Training world 113: where most of a burst's members carry the crew's mark (here, the
    same accounts in one client's burst after another), a customer who bought nothing lately
    and posted an unverified review in the farm's hour is no member of the crew; on a
    platform where the farm shows nothing else, no purchase lately still links."""
    s, clients, _ = _farm_without_texts()
    wave = T0 + 18 * DAY + 10 * HOUR + 3 * 40 * MIN  # the last client's last wave
    s.review(clients[-1], "by0", 5, wave + 12 * MIN)
    found = about(run(FakeReviews(), s.sorted()), clients[-1])
    named = [f for f in found if "by0" in f.accounts]
    assert named and max(f.evidence["crew_share"] for f in named) >= 0.5
    assert max(f.accounts["by0"] for f in named) <= 0.25
    lone = Stream(5)
    lone.honest("c", T0, 14, 2)
    at = T0 + 15 * DAY + 10 * HOUR
    for i in range(8):  # a farm with no mark at all: no purchase lately is its signature
        lone.review("c", f"fm{i}", 5, at + i * 5 * MIN)
    best = max(about(run(FakeReviews(), lone.sorted()), "c"), key=lambda f: f.score)
    assert best.evidence["crew_share"] == 0 and min(best.accounts.values()) > 0.25


def test_one_unverified_burst_at_one_seller_carries_no_crew_footprint():
    s = Stream(8)
    s.honest("s1", T0, 14, 3)
    burst = T0 + 14 * DAY + 10 * HOUR
    for i in range(9):
        s.review("s1", f"x{i}", 5, burst + i * 6 * MIN)
    found = about(run(FakeReviews(), s.sorted()), "s1")
    assert found, "the unverified burst is reported"
    for f in found:
        assert f.evidence["crew_share"] == 0.0
        assert "farm_crew" not in f.reasons


def test_the_crews_memory_expires():
    s, _, pool = _farm_without_texts()
    det = FakeReviews()
    run(det, s.sorted())
    assert set(det._bursts) & set(pool), "the farm's bursts are remembered"
    last = max(e.ts for e in s.events)
    for k in range(1, 20):
        det.evaluate(last + k * DAY)
    assert not det._bursts


def _waves(days: tuple[float, ...], size: int = 5, seed: int = 9) -> Stream:
    """A client with steady verified reviews and, on each of ``days``, a wave of ``size``
    unverified 5-star reviews from aged accounts of a farm's pool that bought nothing lately."""
    s = Stream(seed)
    s.honest("c", T0, max(days) + 3, 2)
    for w, d in enumerate(days):
        at = T0 + int(d * DAY) + 10 * HOUR
        for i in range(size):
            s.review("c", f"fw{w}-{i}", 5, at + i * 7 * MIN)
    return s


def test_a_farms_waves_at_one_client_add_up():
    """Issue 10 (held-out world 9906): a farm working four clients for two weeks sent each a
    few accounts in three waves, days apart; each wave alone scored 0.42-0.79 and none was
    listed. Separate episodes are separate evidence."""
    found = about(run(FakeReviews(), _waves((14, 18, 22)).sorted()), "c")
    by_wave = [[f for f in found if T0 + d * DAY <= f.ts < T0 + (d + 2) * DAY]
               for d in (14, 18, 22)]
    assert all(by_wave), "every wave is reported"
    first, third = by_wave[0][-1], by_wave[2][-1]
    assert first.evidence["earlier_episodes"] == []
    assert first.score == first.evidence["episode_score"]
    assert len(third.evidence["earlier_episodes"]) == 2 and "repeated_bursts" in third.reasons
    assert third.score > third.evidence["episode_score"] + 0.1
    alone = about(run(FakeReviews(repeat_weight=0.0), _waves((14, 18, 22)).sorted()), "c")
    assert max(f.score for f in alone) < max(f.score for f in found)


def test_one_long_episode_does_not_reinforce_itself():
    s = Stream(10)
    s.honest("c", T0, 20, 2)
    at = T0 + 14 * DAY
    for i in range(40):  # a review every three hours for five days: one episode
        s.review("c", f"tr{i}", 5, at + i * 3 * HOUR)
    found = about(run(FakeReviews(), s.sorted()), "c")
    assert found, "the trickle is reported"
    for f in found:
        assert f.evidence["earlier_episodes"] == []


def test_a_sellers_earlier_episodes_are_forgotten():
    def late(det: FakeReviews) -> list[Finding]:
        found = about(run(det, _waves((14, 30)).sorted()), "c")
        return [f for f in found if f.ts >= T0 + 30 * DAY]

    remembered, forgotten = late(FakeReviews()), late(FakeReviews(repeat_memory_ms=10 * DAY))
    assert remembered and all(len(f.evidence["earlier_episodes"]) == 1 for f in remembered)
    assert forgotten and all(f.evidence["earlier_episodes"] == [] for f in forgotten)


def _token_wave(devices: int, seed: int = 11) -> Stream:
    """Sixteen aged accounts that shop around from ``devices`` devices; eight of them buy a
    token at a client the day before and review it 5-star within the hour, every review citing
    its order (verified)."""
    s = Stream(seed)
    s.honest("client", T0, 20, 1)
    pool = [f"tk{i}" for i in range(16)]
    for i, a in enumerate(pool):
        for d in range(0, 16, 5):
            s.order(f"shop{s.rng.randrange(6)}", a, T0 + d * DAY + s.rng.randrange(DAY),
                    device=f"dev{i % devices}")
    at = T0 + 16 * DAY + 10 * HOUR
    for i, a in enumerate(pool[:8]):
        oid = s.order("client", a, at - DAY + i * HOUR, device=f"dev{i % devices}")
        s.review("client", a, 5, at + i * 6 * MIN, order_id=oid)
    return s


def test_a_token_purchase_from_a_farms_phone_verifies_nothing():
    """Held-out world 10018 of issue 10: a farm on twelve phones verified half its reviews with
    token purchases and drew one alert at 0.50 over two clients and three waves. A review whose
    author orders from a device that three of the seller's recent reviewers order from counts
    as unverified; a couple's tablet (two accounts) and a phone each verify as before."""
    farm = about(run(FakeReviews(), _token_wave(devices=2).sorted()), "client")
    assert farm and max(f.score for f in farm) >= 0.5
    assert max(f.evidence["token_share"] for f in farm) >= 0.5
    assert not about(run(FakeReviews(device_crowd=99), _token_wave(devices=2).sorted()), "client")
    assert not about(run(FakeReviews(), _token_wave(devices=4).sorted()), "client")  # couples
    assert not about(run(FakeReviews(), _token_wave(devices=16).sorted()), "client")


def test_the_copy_null_counts_matches_and_comparisons_of_one_polarity():
    """The pair rate behind a copy (`copy_nlp`) is matches over comparisons among texts of one
    polarity: a 1-star text sharing its words with a 5-star one ("... as described ...") is
    neither a comparison nor a match of either."""
    det = FakeReviews()
    t0 = 1_790_000_000_000
    said = "the item was exactly as described and the delivery was quick"
    for k, (rating, text) in enumerate([(1, said.replace("exactly", "not")), (5, said),
                                        (5, said.replace("quick", "fast"))]):
        det.observe(Review(review_id=f"r{k}", seller_id="s1", reviewer_id=f"u{k}", rating=rating,
                           ts=t0 + k * 60_000, text=text))
    seen, hits, _ = det._pairs[1]
    assert (seen, hits) == (1.0, 1.0)  # the second 5-star text against the first
    assert det._pairs[-1][:2] == (0.0, 0.0)
