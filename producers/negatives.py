"""Hard negatives: honest behaviour that a naive detector would flag.

Each looks like a pattern on one axis and differs on the others: a flash sale is a burst, but of
many distinct, established buyers with their own identities; B2B buyers repeat large orders, but
are few, old and ship real goods; a viral newcomer grows fast, but from diverse buyers; digital
goods never ship, but have genuine buyers; a campus NAT shares one IP, but among students with
their own devices and cards; loyal customers repeat and praise, but are old, distinct accounts
that buy elsewhere too.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.random import Generator

from producers.base import HardNegative, Instance
from producers.clock import DAY, HOUR, YEAR
from producers.marketplace import Account, Seller, World, ratings_for
from producers.texts import honest_text

__all__ = ["FlashSale", "B2BBulk", "ViralNewcomer", "DigitalGoods", "CampusIP",
           "LoyalCustomers", "NEGATIVES"]


class FlashSale(HardNegative):
    """An evening promotion: hundreds of ordinary buyers order the discounted hero item at once."""

    name: ClassVar[str] = "flash_sale"

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        c = world.clock
        s = world.pick_sellers(rng, 1, inst.id, size=(0.5, 0.95), quality=(0.7, 1.0))[0]
        day = int(rng.integers(1, max(2, c.days - 1)))
        t0 = c.start_ms + day * DAY + 20 * HOUR
        hours = float(rng.uniform(2, 4))
        n = round(self.intensity * rng.uniform(300, 600))
        n = min(n, len(world.accounts) // 4)
        established = world.pick_accounts(rng, int(n * 0.9), None, min_age_ms=60 * DAY)
        others = world.pick_accounts(rng, n - len(established), None, min_age_ms=0)
        buyers = list({a.id: a for a in established + others}.values())
        hero_id, hero_price = s.item(rng, cheapest=False)
        discount = float(rng.uniform(0.5, 0.7))
        times = t0 + (rng.beta(1.2, 4.0, len(buyers)) * hours * HOUR).astype(np.int64)
        for a, t in zip(buyers, times.tolist(), strict=True):
            qty = 2 if rng.random() < 0.1 else 1
            ref = inst.add(world.buy(rng, t, s, a, item=(hero_id, hero_price), quantity=qty,
                                     amount=hero_price * discount * qty), inst.orders)
            world.organic_followup(rng, ref, s, a)
        inst.sellers = [s.id]
        inst.accounts = [a.id for a in buyers]
        inst.params.update(buyers=len(buyers), hours=round(hours, 2), discount=round(discount, 3))


class B2BBulk(HardNegative):
    """A few old business accounts re-ordering large quantities every few days, shipped."""

    name: ClassVar[str] = "b2b_bulk"

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        c = world.clock
        s = world.pick_sellers(rng, 1, inst.id, size=(0.3, 0.9), quality=(0.6, 1.0))[0]
        buyers = []
        for _ in range(int(rng.integers(2, 5))):
            office = world.ids.ip.one()
            buyers.append(world.new_account(rng, int(c.start_ms - rng.uniform(1, 8) * YEAR),
                                            "business", role=inst.id, home_ip=office))
        for a in buyers:
            item = s.item(rng)
            every = float(rng.uniform(2, 5))
            t = c.start_ms + int(rng.uniform(0, 4) * DAY)
            while t < c.end_ms:
                t_ = int(c.sample(rng, t, t + 8 * HOUR, n=1)[0])
                qty = int(rng.integers(20, 201))
                ref = inst.add(world.buy(rng, t_, s, a, item=item, quantity=qty,
                                         amount=item[1] * qty * 0.85, ip=a.home_ip), inst.orders)
                if ref is not None and rng.random() < 0.1:
                    rating = 5 if rng.random() < 0.7 else 4
                    world.review(t_ + int(rng.uniform(3, 8) * DAY), s, a, rating, order_ref=ref,
                                 text=honest_text(rng, rating))
                t += int(every * DAY * rng.uniform(0.8, 1.2) / self.intensity)
        inst.sellers = [s.id]
        inst.accounts = [a.id for a in buyers]
        inst.params.update(buyers=len(buyers))


class ViralNewcomer(HardNegative):
    """A new shop whose daily orders grow exponentially, from many unrelated buyers."""

    name: ClassVar[str] = "viral_newcomer"

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        c = world.clock
        t0 = c.start_ms + int(rng.uniform(0.15, 0.45) * (c.end_ms - c.start_ms))
        s = world.new_seller(rng, inst.id, registered_ms=int(t0 - rng.uniform(3, 20) * DAY),
                             quality=float(rng.beta(12, 1.5)))
        world.ledger.record(s.registered_ms, s.id, "registry", "business_registered",
                            details={"registered": s.registered_ms})
        pool = [a for a in world.accounts if a.kind == "ordinary"]
        w = np.array([a.activity for a in pool]) + 0.5
        w = w / w.sum()
        days = (c.end_ms - t0) / DAY
        r1 = max(25.0, 0.004 * len(pool) * self.intensity * float(rng.uniform(0.7, 1.3)))
        r0 = r1 / float(rng.uniform(15, 30))
        growth = np.log(r1 / r0) / days
        seen: dict[str, Account] = {}
        d = 0
        while t0 + d * DAY < c.end_ms:
            lo = t0 + d * DAY
            n = int(rng.poisson(r0 * np.exp(growth * (d + 0.5))))
            who = rng.choice(len(pool), size=n, p=w).tolist()
            for i, t in zip(who, c.sample(rng, lo, min(lo + DAY, c.end_ms), n=n).tolist(),
                            strict=True):
                a = pool[i]
                if a.registered_ms >= t:
                    continue
                seen.setdefault(a.id, a)
                ref = inst.add(world.buy(rng, t, s, a), inst.orders)
                world.organic_followup(rng, ref, s, a, review_rate=0.35)
            d += 1
        inst.sellers = [s.id]
        inst.accounts = list(seen)
        inst.params.update(final_daily_orders=round(r1, 1), growth_per_day=round(growth, 4))


class DigitalGoods(HardNegative):
    """Sellers of game cards and licence keys: nothing is ever shipped, buyers are genuine."""

    name: ClassVar[str] = "digital_goods"

    def __init__(self, count: int, intensity: float = 1.0) -> None:
        super().__init__(count, intensity)
        self._chosen: list[Seller] = []
        self._orders: dict[str, list[int]] = {}

    def prepare(self, world: World, rng: Generator) -> None:
        if self.count == 0:
            return
        self._chosen = world.pick_sellers(rng, self.count, "digital_goods", size=(0.2, 0.9))
        for s in self._chosen:
            s.digital = True
            s.price = float(rng.lognormal(np.log(30), 0.6))
            s.items = np.round(s.price * rng.lognormal(0, 0.4, len(s.items)) + 0.5, 2)

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        s = self._chosen[len(self.instances) - 1]
        s.role = inst.id
        if not self._orders:
            self._orders = {x.id: [] for x in self._chosen}
            for ref, _, sid, _ in world.ledger.orders():
                if sid in self._orders:
                    self._orders[sid].append(ref)
        inst.orders = self._orders[s.id]
        inst.sellers = [s.id]


class CampusIP(HardNegative):
    """A university behind one NAT address: hundreds of students, own devices and cards, dorm
    rooms of four to six sharing an address, many accounts opened when term started."""

    name: ClassVar[str] = "campus_ip"

    def __init__(self, count: int, intensity: float = 1.0) -> None:
        super().__init__(count, intensity)
        self._students: list[list[Account]] = []

    def prepare(self, world: World, rng: Generator) -> None:
        c = world.clock
        base = [a.activity for a in world.accounts if a.kind == "ordinary"]
        mean = float(np.mean(base)) if base else 8.0
        for k in range(self.count):
            nat = world.ids.ip.one()
            n = round(self.intensity * float(np.clip(0.008 * len(world.accounts), 100, 400)))
            students = []
            room, beds = "", 0  # the current dorm room and its beds still free
            for _ in range(n):
                if beds == 0:
                    room, beds = world.ids.address.one(), int(rng.integers(4, 7))
                beds -= 1
                u = rng.random()
                reg = (int(c.start_ms - rng.uniform(1, 35) * DAY) if u < 0.4
                       else int(c.start_ms - rng.uniform(1, 4) * YEAR))
                a = world.new_account(rng, reg, "student", role=f"campus_ip-{k}", address=room)
                a.campus_ip = nat
                a.activity = mean * float(rng.pareto(1.6) + 1) * 0.375
                students.append(a)
            self._students.append(students)

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        students = self._students[len(self.instances) - 1]
        nat = students[0].campus_ip if students else None
        ids = {a.id for a in students}
        inst.orders = [ref for ref in world.ledger.order_refs
                       if world.ledger.event(ref)["buyer_id"] in ids
                       and world.ledger.event(ref).get("ip") == nat]
        buyers = {world.ledger.event(ref)["buyer_id"] for ref in inst.orders}
        inst.accounts = [a.id for a in students if a.id in buyers]
        inst.params.update(ip=nat, students=len(students))


class LoyalCustomers(HardNegative):
    """Old customers of a good shop re-buying every few days and often praising it."""

    name: ClassVar[str] = "loyal_customers"

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        c = world.clock
        s = world.pick_sellers(rng, 1, inst.id, size=(0.3, 0.9), quality=(0.8, 1.0))[0]
        customers = world.pick_accounts(rng, int(rng.integers(10, 26)), inst.id,
                                        min_age_ms=365 * DAY, distinct_households=True)
        for a in customers:
            t = c.start_ms + int(rng.uniform(0, 4) * DAY)
            while t < c.end_ms:
                t_ = int(c.sample(rng, t, t + DAY, n=1)[0])
                ref = inst.add(world.buy(rng, t_, s, a, quantity=1 + int(rng.random() < 0.2)),
                               inst.orders)
                if ref is not None and rng.random() < 0.6:
                    rating = int(ratings_for(rng, np.array([s.quality]))[0])
                    inst.add(world.review(t_ + int((1.5 + rng.gamma(2, 1)) * DAY), s, a, rating,
                                          order_ref=ref, text=honest_text(rng, rating)),
                             inst.reviews)
                t += int(rng.uniform(2, 6) * DAY / self.intensity)
        inst.sellers = [s.id]
        inst.accounts = [a.id for a in customers]
        inst.params.update(customers=len(customers))


NEGATIVES: dict[str, type[HardNegative]] = {n.name: n for n in (
    FlashSale, B2BBulk, ViralNewcomer, DigitalGoods, CampusIP, LoyalCustomers)}
