"""Hard negatives: honest behaviour that a naive detector would flag.

Each looks like a pattern on one axis and differs on the others: a flash sale is a burst, but of
many distinct, established buyers with their own identities; B2B buyers repeat large orders, but
are few, old and ship real goods; a viral newcomer grows fast, but from diverse buyers; digital
goods never ship, but have genuine buyers; a campus NAT shares one IP, but among students with
their own devices and cards; loyal customers repeat and praise, but are old, distinct accounts
that buy elsewhere too; a company's employees share one card and one delivery address, but are
old accounts placing ordinary, shipped orders everywhere; sellers supplying each other form
seller-to-seller trade, even cycles, but of independent amounts and times; the most popular
sellers have heavy buyers and reviewers in common by sheer volume.
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
           "LoyalCustomers", "CorporateBuyers", "B2BTrade", "PopularSeller", "NEGATIVES"]


class FlashSale(HardNegative):
    """An evening promotion: hundreds of ordinary buyers order the discounted hero item at once."""

    name: ClassVar[str] = "flash_sale"

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        c = world.clock
        day = int(rng.integers(1, max(2, c.days - 1)))
        t0 = c.start_ms + day * DAY + 20 * HOUR
        s = world.pick_sellers(rng, 1, inst.id, size=(0.5, 0.95), quality=(0.7, 1.0),
                               around=(t0, t0 + DAY))[0]
        hours = float(rng.uniform(2, 4))
        n = round(self.intensity * rng.uniform(300, 600))
        n = min(n, len(world.accounts) // 4)
        established = world.pick_accounts(rng, int(n * 0.9), None, min_age_ms=60 * DAY, at=t0)
        others = world.pick_accounts(rng, n - len(established), None, min_age_ms=0, at=t0)
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
        lo, hi = world.period(rng, 14, 35)
        s = world.pick_sellers(rng, 1, inst.id, size=(0.3, 0.9), quality=(0.6, 1.0),
                               around=(lo, hi))[0]
        buyers = []
        for _ in range(int(rng.integers(2, 5))):
            office = world.ids.ip.one()
            buyers.append(world.new_account(rng, int(lo - rng.uniform(1, 8) * YEAR),
                                            "business", role=inst.id, home_ip=office))
        for a in buyers:
            item = s.item(rng)
            every = float(rng.uniform(2, 5))
            t = lo + int(rng.uniform(0, 4) * DAY)
            while t < hi:
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
        lo, hi = world.period(rng, 14, 35)
        t0 = lo + int(rng.uniform(0.15, 0.45) * (hi - lo))
        s = world.new_seller(rng, inst.id, registered_ms=int(t0 - rng.uniform(3, 20) * DAY),
                             quality=float(rng.beta(12, 1.5)))
        world.ledger.record(s.registered_ms, s.id, "registry", "business_registered",
                            details={"registered": s.registered_ms})
        pool = [a for a in world.accounts if a.kind == "ordinary"]
        w = np.array([a.activity for a in pool]) + 0.5
        w = w / w.sum()
        days = (hi - t0) / DAY
        r1 = max(25.0, 0.004 * len(pool) * self.intensity * float(rng.uniform(0.7, 1.3)))
        r0 = r1 / float(rng.uniform(15, 30))
        growth = np.log(r1 / r0) / days
        seen: dict[str, Account] = {}
        d = 0
        while t0 + d * DAY < hi:
            day0 = t0 + d * DAY
            n = int(rng.poisson(r0 * np.exp(growth * (d + 0.5))))
            who = rng.choice(len(pool), size=n, p=w).tolist()
            for i, t in zip(who, c.sample(rng, day0, min(day0 + DAY, hi), n=n).tolist(),
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
        lo, hi = world.period(rng, 14, 35)
        s = world.pick_sellers(rng, 1, inst.id, size=(0.3, 0.9), quality=(0.8, 1.0),
                               around=(lo, hi))[0]
        customers = world.pick_accounts(rng, int(rng.integers(10, 26)), inst.id,
                                        min_age_ms=365 * DAY, distinct_households=True, at=lo)
        for a in customers:
            t = lo + int(rng.uniform(0, 4) * DAY)
            while t < hi:
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


class CorporateBuyers(HardNegative):
    """A company's employees: several aged accounts ordering on one company card to one office
    address (from the office's IP in office hours), ordinary shipped orders at popular sellers,
    and repeat orders from one to three suppliers (issue 10, class 2: sharing with an innocent
    reason). The suppliers are this negative's sellers."""

    name: ClassVar[str] = "corporate_buyers"

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        c = world.clock
        lo, hi = world.period(rng, 14, 35)
        card, office = world.ids.payment.one(), world.ids.address.one()
        office_ip = world.ids.ip.one()
        staff: list[Account] = []
        for _ in range(int(rng.integers(4, 26))):
            a = world.new_account(rng, int(lo - rng.uniform(1, 8) * YEAR), "employee",
                                  role=inst.id, payment=card, address=office)
            a.office_ip = office_ip
            staff.append(a)
        days = (hi - lo) / DAY
        for a in staff:  # their ordinary shopping, on the company card
            n = int(rng.poisson(days * float(rng.uniform(0.1, 0.5))))
            for s, t in zip(world.popular_sellers(rng, n),
                            c.sample(rng, max(lo, a.registered_ms), hi, n=n).tolist(),
                            strict=True):
                ref = world.buy(rng, t, s, a)
                world.organic_followup(rng, ref, s, a)
        suppliers = world.pick_sellers(rng, int(rng.integers(1, 4)), inst.id, size=(0.2, 0.9),
                                       around=(lo, hi))
        for s in suppliers:
            team = rng.choice(len(staff), size=int(rng.integers(min(3, len(staff)),
                                                                len(staff) + 1)),
                              replace=False).tolist()
            for i in team:
                a = staff[i]
                every = float(rng.uniform(2, 10))
                t = lo + int(rng.uniform(0, every) * DAY)
                while t < hi:
                    t_ = int(c.sample(rng, t, t + 8 * HOUR, n=1)[0])
                    ref = inst.add(world.buy(rng, t_, s, a, quantity=int(rng.integers(1, 6))),
                                   inst.orders)
                    world.organic_followup(rng, ref, s, a)
                    t += int(every * DAY * rng.uniform(0.7, 1.3))
        inst.sellers = [s.id for s in suppliers]
        inst.accounts = [a.id for a in staff]
        inst.params.update(employees=len(staff), suppliers=len(suppliers))


class B2BTrade(HardNegative):
    """Three to six sellers buying supplies from each other: each buys from one or two of the
    others every few days, shipped, amounts of the supplier's goods in bulk. Trade runs both
    ways between some pairs and the supply graph can close a cycle, but amounts and times are
    independent (issue 10, class 4: the honest null of circular trading)."""

    name: ClassVar[str] = "b2b_trade"

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        c = world.clock
        lo, hi = world.period(rng, 14, 35)
        m = int(rng.integers(3, 7))
        group = world.pick_sellers(rng, m, inst.id, size=(0.2, 0.9), around=(lo, hi))
        m = len(group)
        edges: set[tuple[int, int]] = set()
        for i in range(m):
            k = 1 + int(rng.random() < 0.5)
            for j in rng.choice([x for x in range(m) if x != i], size=min(k, m - 1),
                                replace=False).tolist():
                edges.add((i, j))
        for i, j in sorted(edges):
            buyer, supplier = group[i], group[j]
            every = float(rng.uniform(1.5, 10))
            item = supplier.item(rng)
            t = lo + int(rng.uniform(0, every) * DAY)
            while t < hi:
                t_ = int(c.sample(rng, t, t + 10 * HOUR, n=1)[0])
                qty = max(2, int(rng.lognormal(np.log(20), 0.7)))
                inst.add(world.buy(rng, t_, supplier, buyer, item=item, quantity=qty,
                                   amount=item[1] * qty * float(rng.uniform(0.8, 1.0))),
                         inst.orders)
                t += int(every * DAY * rng.uniform(0.6, 1.4))
        inst.sellers = [s.id for s in group]
        inst.params.update(sellers=m, edges=len(edges))


class PopularSeller(HardNegative):
    """The most popular sellers, as they are: heavy buyers and heavy reviewers have them in
    common by sheer volume, and flash sales and camouflage purchases go there (issue 10, class
    1). Nothing is injected; the instance names one of the top sellers by demand."""

    name: ClassVar[str] = "popular_seller"

    def __init__(self, count: int, intensity: float = 1.0) -> None:
        super().__init__(count, intensity)
        self._chosen: list[Seller] = []
        self._orders: dict[str, list[int]] = {}

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        if not self._chosen:
            free = sorted((s for s in world.sellers if s.role is None and s.weight > 0),
                          key=lambda s: (-s.weight, s.id))
            self._chosen = free[:self.count]
            for s in self._chosen:
                s.role = "popular_seller"
            ids = {s.id: [] for s in self._chosen}
            for ref, _, sid, _ in world.ledger.orders():
                if sid in ids and len(ids[sid]) < 100:
                    ids[sid].append(ref)
            self._orders = ids
        k = len(self.instances) - 1
        if k < len(self._chosen):
            s = self._chosen[k]
            inst.sellers = [s.id]
            inst.orders = self._orders[s.id]  # a sample of its (organic) orders
            inst.params.update(rank=k + 1, weight=round(s.weight, 3))


NEGATIVES: dict[str, type[HardNegative]] = {n.name: n for n in (
    PopularSeller, FlashSale, B2BBulk, ViralNewcomer, DigitalGoods, CampusIP, LoyalCustomers,
    CorporateBuyers, B2BTrade)}
