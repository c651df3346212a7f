"""Injected manipulation, one class per pattern, each camouflaged but physically detectable.

What gives each pattern away is what gives it away in real marketplaces: identities shared
inside a crew but not with strangers, accounts that are new (or old but dormant until bought),
purchases concentrated on one client, reviews with no purchase behind them, texts copied from a
script, timing in lockstep or in office hours, amounts that go round a cycle, invoices that do
not match sales. Camouflage makes the crude versions of those signals insufficient: puppets also
buy from honest sellers, wash orders are "shipped" (empty parcels), farms buy a few token items,
slow-burn wash uses old accounts and stays below daily thresholds.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.random import Generator

from producers.base import Instance, Pattern
from producers.clock import DAY, HOUR, MINUTE, WORKDAY, YEAR, local_day
from producers.marketplace import Account, Seller, World, invoice_time
from producers.texts import honest_text, script, scripted_text

__all__ = ["WashRing", "CircularTrading", "SlowWash", "ReviewFarm", "Brushing",
           "ReviewBombing", "InvoicePadding", "InvoiceWithoutSales", "PATTERNS", "window",
           "aged_registration"]


def window(world: World, rng: Generator, min_days: float, max_days: float) -> tuple[int, int]:
    """A random sub-period of ``min_days``..``max_days`` inside the simulated period."""
    c = world.clock
    span = c.end_ms - c.start_ms
    length = int(min(rng.uniform(min_days, max_days) * DAY, span - DAY))
    lo = c.start_ms + int(rng.uniform(0, span - length))
    return lo, lo + length


def aged_registration(rng: Generator, before_ms: int, lo_years: float = 1.0,
                      hi_years: float = 6.0) -> int:
    return int(before_ms - rng.uniform(lo_years, hi_years) * YEAR)


class _Crew:
    """The shared identity cluster of a crew: a few devices, cards, addresses and IPs."""

    def __init__(self, world: World, rng: Generator, devices: int, payments: int,
                 addresses: int, ips: int) -> None:
        self.rng = rng
        self.devices = world.ids.device.many(devices)
        self.payments = world.ids.payment.many(payments)
        self.addresses = world.ids.address.many(addresses)
        self.ips = world.ids.ip.many(ips)

    def pick(self, pool: list[str]) -> str:
        return pool[int(self.rng.integers(len(pool)))]

    def member(self, world: World, registered: int, kind: str, role: str) -> Account:
        a = world.new_account(self.rng, registered, kind, role=role,  # type: ignore[arg-type]
                              device=self.pick(self.devices), payment=self.pick(self.payments),
                              address=self.pick(self.addresses), home_ip=self.pick(self.ips))
        a.device2 = self.pick(self.devices)
        return a


def _camouflage(world: World, rng: Generator, inst: Instance, who: Account, n: int,
                lo: int, hi: int, review_rate: float = 0.2) -> None:
    """Ordinary-looking purchases from popular honest sellers, reviewed like anyone would."""
    lo = max(lo, who.registered_ms + HOUR)
    if n <= 0 or lo >= hi:
        return
    for s, t in zip(world.popular_sellers(rng, n),
                    world.clock.sample(rng, lo, hi, n=n).tolist(), strict=True):
        ref = inst.add(world.buy(rng, t, s, who), inst.camouflage)
        inst.camouflage.extend(world.organic_followup(rng, ref, s, who, review_rate=review_rate))


def _round_robin(rng: Generator, n_orders: int, members: int) -> list[int]:
    """Who acts for each event: everyone at least once, then at random."""
    first = list(range(min(members, n_orders)))
    rest = rng.integers(members, size=max(0, n_orders - members)).tolist()
    out = first + rest
    rng.shuffle(out)
    return out


class WashRing(Pattern):
    """Sock puppets buying (and praising) their client's hero item over one to two weeks.

    Puppets are new accounts plus bought aged ones (old ``buyer_registered``, no past), sharing a
    small cluster of devices, cards, addresses and proxy IPs; a few also buy from honest sellers.
    """

    name: ClassVar[str] = "wash_ring"

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        c = world.clock
        client = world.pick_sellers(rng, 1, inst.id, size=(0.15, 0.7), quality=(0.3, 1.0))[0]
        lo, hi = window(world, rng, 6, 12)
        n_p = int(rng.integers(18, 37))
        crew = _Crew(world, rng, devices=max(2, n_p // 6), payments=max(2, n_p // 8),
                     addresses=int(rng.integers(2, 4)), ips=int(rng.integers(2, 5)))
        aged = rng.random(n_p) < 0.4
        puppets = [crew.member(world, aged_registration(rng, c.start_ms) if aged[i]
                               else int(lo - rng.uniform(1, 12) * DAY), "puppet", inst.id)
                   for i in range(n_p)]
        n_orders = max(n_p, round(self.intensity * rng.uniform(8, 16) * (hi - lo) / DAY))
        hero = client.item(rng, cheapest=False)
        praise = script(rng, "praise")
        times = c.sample(rng, lo, hi, n=n_orders, profile=WORKDAY).tolist()
        for t, i in zip(times, _round_robin(rng, n_orders, n_p), strict=True):
            p = puppets[i]
            ip = crew.pick(crew.ips) if rng.random() < 0.85 else None
            item = hero if rng.random() < 0.7 else None
            ref = inst.add(world.buy(rng, t, client, p, item=item, ip=ip,
                                     shipped=rng.random() < 0.85), inst.orders)
            if ref is not None and rng.random() < 0.8:
                rating = 5 if rng.random() < 0.92 else 4
                u = rng.random()
                text = (scripted_text(rng, "praise", praise) if u < 0.6
                        else honest_text(rng, rating) if u < 0.8 else None)
                inst.add(world.review(t + int(rng.uniform(0.6, 3) * DAY), client, p, rating,
                                      order_ref=ref, text=text), inst.reviews)
        for p in puppets:
            _camouflage(world, rng, inst, p, int(rng.poisson(0.7)), lo - 3 * DAY, hi)
        inst.sellers = [client.id]
        inst.accounts = [p.id for p in puppets]
        inst.params.update(puppets=n_p, aged_share=round(float(aged.mean()), 3),
                           wash_orders=len(inst.orders), days=round((hi - lo) / DAY, 1))


class CircularTrading(Pattern):
    """Colluding sellers buying from each other round a cycle, the same sum passed along.

    Each round, seller i buys from seller i+1 (``buyer_id`` = a seller id) for about the same
    amount minus a small fee, within hours; turnover is inflated for all of them at no cost.
    """

    name: ClassVar[str] = "circular_trading"

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        k = int(rng.integers(3, 6))
        ring = world.pick_sellers(rng, k, inst.id, size=(0.05, 0.6))
        lo, hi = window(world, rng, 8, 16)
        operator_ip = world.ids.ip.one() if rng.random() < 0.6 else None
        t = lo + int(rng.uniform(0, 1) * DAY)
        rounds = 0
        while t < hi:
            base = float(rng.lognormal(np.log(6000), 0.5)) * self.intensity
            hop = t
            for i in range(k):
                buyer, seller = ring[i], ring[(i + 1) % k]
                amount = base * (1 - 0.003 * i)
                item_id, price = seller.item(rng)
                qty = max(1, round(amount / price))
                ip = operator_ip if operator_ip and rng.random() < 0.6 else None
                inst.add(world.buy(rng, hop, seller, buyer, amount=amount, quantity=qty,
                                   item=(item_id, price), ip=ip, shipped=rng.random() < 0.7),
                         inst.orders)
                hop += int(rng.uniform(0.3, 3) * HOUR)
            rounds += 1
            t += int(rng.uniform(0.7, 2.5) * DAY / self.intensity ** 0.5)
        inst.sellers = [s.id for s in ring]
        inst.accounts = [s.id for s in ring]
        inst.params.update(ring_size=k, rounds=rounds, operator_ip=operator_ip is not None)


class SlowWash(Pattern):
    """A handful of old puppet accounts buying from one client about daily, all period long."""

    name: ClassVar[str] = "slow_wash"

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        c = world.clock
        client = world.pick_sellers(rng, 1, inst.id, size=(0.1, 0.6), quality=(0.3, 1.0))[0]
        n_p = int(rng.integers(6, 11))
        crew = _Crew(world, rng, devices=2, payments=int(rng.integers(1, 3)), addresses=2, ips=2)
        puppets = [crew.member(world, aged_registration(rng, c.start_ms, 1, 5), "puppet",
                               inst.id) for _ in range(n_p)]
        lo = c.start_ms + int(rng.uniform(0, 1.5) * DAY)
        hi = c.end_ms - int(rng.uniform(0, 1.5) * DAY)
        n_orders = max(n_p, int(rng.poisson(self.intensity * 1.6 * (hi - lo) / DAY)))
        for t, i in zip(c.sample(rng, lo, hi, n=n_orders).tolist(),
                        _round_robin(rng, n_orders, n_p), strict=True):
            p = puppets[i]
            ref = inst.add(world.buy(rng, t, client, p, shipped=rng.random() < 0.9), inst.orders)
            if ref is not None and rng.random() < 0.85:
                rating = 5 if rng.random() < 0.9 else 4
                inst.add(world.review(t + int(rng.uniform(2, 6) * DAY), client, p, rating,
                                      order_ref=ref, text=honest_text(rng, rating)), inst.reviews)
        for p in puppets:
            _camouflage(world, rng, inst, p, int(rng.integers(2, 5)), c.start_ms, c.end_ms)
        inst.sellers = [client.id]
        inst.accounts = [p.id for p in puppets]
        inst.params.update(puppets=n_p, wash_orders=len(inst.orders))


class ReviewFarm(Pattern):
    """A pool of reviewers posting 5-star reviews for several clients in lockstep waves.

    In each wave the farm works down its client list within a few office hours, each client
    getting a batch from the same pool; reviews copy one script, most have no purchase behind
    them, a fifth follow a token purchase of the client's cheapest item.
    """

    name: ClassVar[str] = "review_farm"

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        c = world.clock
        clients = world.pick_sellers(rng, int(rng.integers(3, 6)), inst.id, size=(0.1, 0.8))
        n_r = int(rng.integers(40, 71))
        devices = world.ids.device.many(int(rng.integers(8, 16)))
        ips = world.ids.ip.many(int(rng.integers(2, 4)))
        reviewers = []
        for _ in range(n_r):
            reg = (aged_registration(rng, c.start_ms, 1, 5) if rng.random() < 0.5
                   else int(c.start_ms - rng.uniform(5, 60) * DAY))
            a = world.new_account(rng, reg, "reviewer", role=inst.id,
                                  device=devices[int(rng.integers(len(devices)))],
                                  home_ip=ips[int(rng.integers(len(ips)))])
            reviewers.append(a)
        crew = script(rng, "praise")
        waves = max(1, round(self.intensity * rng.uniform(3, 5)))
        starts = np.sort(c.sample(rng, c.start_ms + DAY, c.end_ms - DAY, n=waves,
                                  profile=WORKDAY)).tolist()
        for w_start in starts:
            offset = 0
            for s in clients:
                offset += int(rng.uniform(20, 60) * MINUTE)
                batch = rng.choice(n_r, size=int(rng.integers(8, 21)), replace=False).tolist()
                for r in batch:
                    a = reviewers[r]
                    t = w_start + offset + int(rng.uniform(0, 90) * MINUTE)
                    ref = None
                    if rng.random() < 0.2:
                        ref = inst.add(world.buy(rng, t - int(rng.uniform(1, 3) * DAY), s, a,
                                                 cheapest=True, ip=a.home_ip), inst.orders)
                    inst.add(world.review(t, s, a, 5 if rng.random() < 0.9 else 4,
                                          order_ref=ref, text=scripted_text(rng, "praise", crew),
                                          item=None if ref is not None else s.item(rng)[0]),
                             inst.reviews)
        for a in reviewers:
            _camouflage(world, rng, inst, a, int(rng.integers(0, 3)), c.start_ms, c.end_ms,
                        review_rate=0.5)
        inst.sellers = [s.id for s in clients]
        inst.accounts = [a.id for a in reviewers]
        inst.params.update(reviewers=n_r, clients=len(clients), waves=waves)


class Brushing(Pattern):
    """Tiny orders from fresh accounts, nothing shipped, each followed by a 5-star review."""

    name: ClassVar[str] = "brushing"

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        c = world.clock
        client = world.pick_sellers(rng, 1, inst.id, size=(0.1, 0.7))[0]
        lo, hi = window(world, rng, 3, 7)
        n = max(5, round(self.intensity * rng.uniform(10, 20) * (hi - lo) / DAY))
        proxies = world.ids.ip.many(int(rng.integers(3, 6)))
        cards = world.ids.payment.many(int(rng.integers(3, 7)))
        drops = world.ids.address.many(int(rng.integers(4, 9)))
        praise = script(rng, "praise")
        accounts: list[Account] = []
        for t in np.sort(c.sample(rng, lo, hi, n=n, profile=WORKDAY)).tolist():
            if accounts and rng.random() < 0.15:
                a = accounts[int(rng.integers(len(accounts)))]
            else:
                a = world.new_account(rng, int(t - rng.uniform(1, 72) * HOUR), "brusher",
                                      role=inst.id, payment=cards[int(rng.integers(len(cards)))],
                                      address=drops[int(rng.integers(len(drops)))],
                                      home_ip=proxies[int(rng.integers(len(proxies)))])
                accounts.append(a)
            ref = inst.add(world.buy(rng, t, client, a, amount=float(rng.uniform(0.5, 3.0)),
                                     cheapest=True, shipped=False, ip=a.home_ip), inst.orders)
            if ref is not None and rng.random() < 0.9:
                text = scripted_text(rng, "praise", praise) if rng.random() < 0.5 else None
                inst.add(world.review(t + int(rng.uniform(0.5, 2) * DAY), client, a, 5,
                                      order_ref=ref, text=text), inst.reviews)
        inst.sellers = [client.id]
        inst.accounts = [a.id for a in accounts]
        inst.params.update(orders=len(inst.orders), accounts=len(accounts))


class ReviewBombing(Pattern):
    """A burst of 1-star reviews without purchases against one honest, well-rated seller.

    The target is a victim; the bombers are the culprits; whoever paid for it is not in the
    events, so no seller is a culprit.
    """

    name: ClassVar[str] = "review_bombing"

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        c = world.clock
        target = world.pick_sellers(rng, 1, inst.id, size=(0.5, 0.95), quality=(0.75, 1.0))[0]
        n_b = max(8, round(self.intensity * rng.uniform(20, 40)))
        lo = int(c.sample(rng, c.start_ms + DAY, c.end_ms - 2 * DAY, n=1)[0])
        hi = lo + int(rng.uniform(6, 24) * HOUR)
        devices = world.ids.device.many(int(rng.integers(5, 11)))
        ips = world.ids.ip.many(int(rng.integers(2, 4)))
        attack = script(rng, "attack")
        bombers = []
        times = np.sort(c.sample(rng, lo, hi, n=n_b, profile=WORKDAY)).tolist()
        for t in times:
            reg = (aged_registration(rng, c.start_ms, 1, 4) if rng.random() < 0.5
                   else int(lo - rng.uniform(1, 20) * DAY))
            a = world.new_account(rng, reg, "bomber", role=inst.id,
                                  device=devices[int(rng.integers(len(devices)))],
                                  home_ip=ips[int(rng.integers(len(ips)))])
            bombers.append(a)
            rating = 1 if rng.random() < 0.9 else 2
            text = scripted_text(rng, "attack", attack) if rng.random() < 0.85 else None
            inst.add(world.review(t, target, a, rating, text=text, item=target.item(rng)[0]),
                     inst.reviews)
        inst.victims = [target.id]
        inst.accounts = [a.id for a in bombers]
        inst.params.update(bombers=n_b, hours=round((hi - lo) / HOUR, 1))


class InvoicePadding(Pattern):
    """A real seller's daily invoices inflated several-fold above its sales for one to two weeks
    (the invoices are written with the others, by `producers.marketplace.issue_invoices`)."""

    name: ClassVar[str] = "invoice_padding"

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        s = world.pick_sellers(rng, 1, inst.id, size=(0.4, 0.85))[0]
        lo, hi = window(world, rng, 7, 14)
        factor = float(rng.uniform(3, 8)) * self.intensity
        days = {local_day(ts) for _, ts, sid, _ in world.ledger.orders()
                if sid == s.id and lo <= ts < hi}
        if len(days) < (hi - lo) / DAY / 2:
            # Too few real sales to pad (sparse real background): give the shop ordinary
            # customers first; padding is about a real seller overstating real sales.
            buyers = world.pick_accounts(rng, 60, None)
            for d in range(int((hi - lo) // DAY) + 1):
                for _ in range(int(rng.poisson(3))):
                    a = buyers[int(rng.integers(len(buyers)))]
                    t = int(world.clock.sample(rng, lo + d * DAY, lo + (d + 1) * DAY, n=1)[0])
                    ref = world.buy(rng, t, s, a)
                    world.organic_followup(rng, ref, s, a)
            inst.params["organic_sales_added"] = True
        world.invoice_padding[s.id] = (lo, hi, factor, inst.records)
        inst.sellers = [s.id]
        inst.params.update(factor=round(factor, 3))


class InvoiceWithoutSales(Pattern):
    """A shell seller with (next to) no orders issuing sizeable daily sales invoices."""

    name: ClassVar[str] = "invoice_without_sales"

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        c = world.clock
        s: Seller = world.new_seller(rng, inst.id,
                                     registered_ms=int(c.start_ms - rng.uniform(20, 200) * DAY))
        world.self_invoicing.add(s.id)
        lo, hi = window(world, rng, 10, 21)
        base = float(rng.lognormal(np.log(30000), 0.4)) * self.intensity
        day0 = int(c.local_day(lo))
        for day in range(day0, int(c.local_day(hi)) + 1):
            if rng.random() > 0.85:
                continue
            amount = base * float(rng.lognormal(0, 0.25))
            inst.add(world.daily_invoice(invoice_time(rng, day), day, s.id, amount,
                                         max(1, amount // s.price)), inst.records)
        # A couple of genuine small orders keep the shop from looking entirely dead.
        for a in world.pick_accounts(rng, int(rng.integers(0, 3)), None):
            world.buy(rng, int(c.sample(rng, lo, hi, n=1)[0]), s, a)
        inst.sellers = [s.id]
        inst.params.update(daily_base=round(base, 2))


PATTERNS: dict[str, type[Pattern]] = {p.name: p for p in (
    WashRing, CircularTrading, SlowWash, ReviewFarm, Brushing, ReviewBombing, InvoicePadding,
    InvoiceWithoutSales)}
