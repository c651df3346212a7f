"""Injected manipulation, one class per pattern, each camouflaged but physically detectable.

What gives each pattern away is what gives it away in real marketplaces: identities shared
inside a crew but not with strangers, accounts that are new (or old but dormant until bought),
purchases concentrated on one client, reviews with no purchase behind them, texts copied from a
script, timing in lockstep or in office hours, amounts that go round a cycle, invoices that do
not match sales. Camouflage makes the crude versions of those signals insufficient: puppets also
buy from honest sellers, wash orders are "shipped" (empty parcels), farms buy a few token items,
slow-burn wash uses old accounts and stays below daily thresholds.

Each pattern has *classic* knobs (the fixed recipe of the classic scenario) and, in a drawn world
(``World.random_adversary``), draws its adversary knobs per instance from the wide ranges in its
``knobs`` method: what a fraudster who read the detectors could change. The knobs an instance
used are in its truth ``params``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.random import Generator

from producers.base import Instance, Pattern
from producers.clock import DAY, HOUR, MINUTE, WORKDAY, YEAR, local_day
from producers.marketplace import Account, Seller, World, invoice_time
from producers.texts import honest_text, script, scripted_text

__all__ = ["WashRing", "ProxyRing", "CircularTrading", "SlowWash", "ReviewFarm", "Brushing",
           "ReviewBombing", "InvoicePadding", "InvoiceWithoutSales", "PATTERNS", "window",
           "aged_registration"]


def window(world: World, rng: Generator, min_days: float, max_days: float) -> tuple[int, int]:
    """A random sub-period of ``min_days``..``max_days`` inside the simulated period."""
    return world.episode(rng, min_days, max_days)


def aged_registration(rng: Generator, before_ms: int, lo_years: float = 1.0,
                      hi_years: float = 6.0) -> int:
    return int(before_ms - rng.uniform(lo_years, hi_years) * YEAR)


def _logu(rng: Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _pick(rng: Generator, options: list[Any], p: list[float] | None = None) -> Any:
    return options[int(rng.choice(len(options), p=p))]


class _Crew:
    """The shared identity cluster of a crew: a few devices, cards, addresses and IPs."""

    def __init__(self, world: World, rng: Generator, devices: int, payments: int,
                 addresses: int, ips: int) -> None:
        self.rng = rng
        self.devices = world.ids.device.many(devices) if devices else []
        self.payments = world.ids.payment.many(payments) if payments else []
        self.addresses = world.ids.address.many(addresses) if addresses else []
        self.ips = world.ids.ip.many(ips)

    def pick(self, pool: list[str]) -> str | None:
        return pool[int(self.rng.integers(len(pool)))] if pool else None

    def member(self, world: World, registered: int, kind: str, role: str) -> Account:
        """A crew account: what the crew shares comes from its pools, the rest is its own."""
        a = world.new_account(self.rng, registered, kind, role=role,  # type: ignore[arg-type]
                              device=self.pick(self.devices), payment=self.pick(self.payments),
                              address=self.pick(self.addresses), home_ip=self.pick(self.ips))
        if self.devices:
            a.device2 = self.pick(self.devices)
        return a


def _camouflage(world: World, rng: Generator, inst: Instance, who: Account, n: int,
                lo: int, hi: int, review_rate: float = 0.2, ip: str | None = None) -> None:
    """Ordinary-looking purchases from popular honest sellers, reviewed like anyone would."""
    lo = max(lo, who.registered_ms + HOUR, world.clock.start_ms)
    if n <= 0 or lo >= hi:
        return
    for s, t in zip(world.popular_sellers(rng, n),
                    world.clock.sample(rng, lo, hi, n=n).tolist(), strict=True):
        ref = inst.add(world.buy(rng, t, s, who, ip=ip), inst.camouflage)
        inst.camouflage.extend(world.organic_followup(rng, ref, s, who, review_rate=review_rate))


def _round_robin(rng: Generator, n_orders: int, members: int) -> list[int]:
    """Who acts for each event: everyone at least once, then at random."""
    first = list(range(min(members, n_orders)))
    rest = rng.integers(members, size=max(0, n_orders - members)).tolist()
    out = first + rest
    rng.shuffle(out)
    return out


def _registration(rng: Generator, lo: int, ages: str) -> int:
    """When a puppet account was registered, for an episode starting at ``lo``: ``new`` (1-30
    days before), ``months`` (1-400 days, log-uniform) or ``years`` (1-6 years: bought aged)."""
    if ages == "new":
        return int(lo - rng.uniform(1, 30) * DAY)
    if ages == "months":
        return int(lo - _logu(rng, 1, 400) * DAY)
    return aged_registration(rng, lo)


def _waves(world: World, rng: Generator, lo: int, hi: int, n_orders: int, members: int,
           gap_hours: float, wave_hours: float) -> list[tuple[int, int]]:
    """(time, member) of ``n_orders`` orders placed in synchronised waves: every ``gap_hours``
    (jittered) a random share of the crew orders within ``wave_hours``."""
    starts: list[int] = []
    t = lo + int(rng.uniform(0, gap_hours) * HOUR)
    while t < hi:
        starts.append(t)
        t += int(gap_hours * rng.uniform(0.6, 1.4) * HOUR)
    if not starts:
        starts = [lo]
    per_wave = max(1, round(n_orders / len(starts)))
    out: list[tuple[int, int]] = []
    seen: set[int] = set()
    for w in starts:
        k = min(members, max(1, int(rng.binomial(per_wave, 0.8)) + 1))
        who = rng.choice(members, size=k, replace=False).tolist()
        for m in who:
            out.append((w + int(rng.uniform(0, wave_hours) * HOUR), m))
            seen.add(m)
    for m in range(members):  # everyone acts at least once
        if m not in seen:
            w = starts[int(rng.integers(len(starts)))]
            out.append((w + int(rng.uniform(0, wave_hours) * HOUR), m))
    return sorted(out)


def _continuous(world: World, rng: Generator, lo: int, hi: int, n_orders: int,
                members: int) -> list[tuple[int, int]]:
    times = world.clock.sample(rng, lo, hi, n=n_orders, profile=WORKDAY).tolist()
    return list(zip(sorted(times), _round_robin(rng, n_orders, members), strict=True))


class _Ring(Pattern):
    """Shared machinery of rings of puppet buyers washing orders through one or two clients."""

    def _review_text(self, rng: Generator, style: str, crew: tuple[int, int],
                     rating: int) -> str | None:
        if style == "scripted":
            return scripted_text(rng, "praise", crew) if rng.random() < 0.8 \
                else honest_text(rng, rating)
        if style == "honest":
            return honest_text(rng, rating)
        return None

    def _wash(self, world: World, rng: Generator, inst: Instance, clients: list[Seller],
              puppets: list[Account], k: dict[str, Any], lo: int, hi: int,
              ip_of: Any) -> None:
        """The wash orders (and their reviews) of a crew over ``[lo, hi)``."""
        n_p = len(puppets)
        n_orders = max(n_p, round(n_p * k["orders_per_puppet"] * self.intensity))
        if k["timing"] == "waves":
            plan = _waves(world, rng, lo, hi, n_orders, n_p, k["wave_gap_hours"],
                          k["wave_hours"])
        else:
            plan = _continuous(world, rng, lo, hi, n_orders, n_p)
        praise = script(rng, "praise")
        heroes = {c.id: c.item(rng, cheapest=False) for c in clients}
        base = {c.id: heroes[c.id][1] * float(rng.uniform(0.8, 1.6)) for c in clients}
        for t, i in plan:
            p = puppets[i]
            client = clients[int(rng.integers(len(clients)))]  # a crew serves its clients alike
            if k["amounts"] == "fixed":
                item, amount = heroes[client.id], None
            elif k["amounts"] == "narrow":
                item = heroes[client.id]
                amount = base[client.id] * float(rng.uniform(1 - k["amount_spread"],
                                                             1 + k["amount_spread"]))
            else:  # mimic: the client's own items, as its organic buyers pick them
                item, amount = None, None
            ref = inst.add(world.buy(rng, t, client, p, item=item, amount=amount, ip=ip_of(p),
                                     shipped=rng.random() < k["shipped"]), inst.orders)
            if ref is not None and rng.random() < k["review_rate"]:
                rating = 5 if rng.random() < 0.92 else 4
                text = self._review_text(rng, k["texts"], praise, rating)
                inst.add(world.review(t + int(rng.uniform(0.3, 3) * DAY), client, p, rating,
                                      order_ref=ref, text=text), inst.reviews)
        per = k["orders_per_puppet"] * k["camouflage"] / max(1e-9, 1 - k["camouflage"])
        for p in puppets:
            _camouflage(world, rng, inst, p, int(rng.poisson(per)), lo - 7 * DAY, hi,
                        ip=ip_of(p))


class WashRing(_Ring):
    """Sock puppets buying (and praising) their client's hero item over one to two weeks.

    Puppets are new accounts plus bought aged ones (old ``buyer_registered``, no past), sharing a
    small cluster of devices, cards, addresses and proxy IPs; a few also buy from honest sellers.
    Drawn worlds vary the crew (8-40 puppets), how much of the identity cluster they share (all
    of it, or only addresses and IPs with devices and cards of their own), their ages, amounts
    (the hero item, a narrow amount, or the client's own mix), timing (office hours or waves),
    orders per puppet (2-10), camouflage (0-40% of their orders), reviews and texts, shipping,
    and whether the crew serves two clients.
    """

    name: ClassVar[str] = "wash_ring"

    def knobs(self, rng: Generator, random: bool) -> dict[str, Any]:
        if not random:
            return {"puppets": int(rng.integers(18, 37)), "sharing": "full", "ages": "classic",
                    "amounts": "classic", "timing": "continuous", "days": (6, 12),
                    "orders_per_day": (8, 16), "camouflage_mean": 0.7, "review_rate": 0.8,
                    "texts": "classic", "shipped": 0.85, "clients": 1}
        return {"puppets": int(rng.integers(8, 41)),
                "sharing": _pick(rng, ["full", "partial"]),
                "ages": _pick(rng, ["new", "months", "years", "mixed"]),
                "amounts": _pick(rng, ["fixed", "narrow", "mimic"]),
                "amount_spread": float(rng.uniform(0.0, 0.1)),
                "timing": _pick(rng, ["continuous", "waves"]),
                "wave_gap_hours": _logu(rng, 2, 36), "wave_hours": float(rng.uniform(0.3, 3)),
                "days": (3, 14), "orders_per_puppet": float(rng.uniform(2, 10)),
                "camouflage": float(rng.uniform(0, 0.4)),
                "review_rate": float(rng.uniform(0, 0.9)),
                "texts": _pick(rng, ["scripted", "honest", "none"]),
                "shipped": float(rng.uniform(0.5, 1.0)),
                "clients": 2 if rng.random() < 0.2 else 1}

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        k = self.knobs(rng, world.random_adversary)
        if k["ages"] == "classic":
            self._classic(world, rng, inst, k)
            return
        lo, hi = world.episode(rng, *k["days"])
        clients = world.pick_sellers(rng, k["clients"], inst.id, size=(0.1, 0.8),
                                     quality=(0.3, 1.0), around=(lo, hi))
        n_p = k["puppets"]
        if k["sharing"] == "full":
            crew = _Crew(world, rng, devices=max(2, n_p // 6), payments=max(2, n_p // 8),
                         addresses=int(rng.integers(2, 4)), ips=int(rng.integers(2, 5)))
        else:
            crew = _Crew(world, rng, devices=0, payments=0,
                         addresses=int(rng.integers(2, 5)), ips=int(rng.integers(3, 8)))
        ages = [k["ages"] if k["ages"] != "mixed" else _pick(rng, ["new", "months", "years"])
                for _ in range(n_p)]
        puppets = [crew.member(world, _registration(rng, lo, a), "puppet", inst.id) for a in ages]
        self._wash(world, rng, inst, clients, puppets, k, lo, hi,
                   lambda p: crew.pick(crew.ips) if rng.random() < 0.85 else None)
        inst.sellers = [c.id for c in clients]
        inst.accounts = [p.id for p in puppets]
        inst.params.update({x: (list(v) if isinstance(v, tuple) else v) for x, v in k.items()},
                           wash_orders=len(inst.orders), days=round((hi - lo) / DAY, 1))

    def _classic(self, world: World, rng: Generator, inst: Instance, k: dict[str, Any]) -> None:
        c = world.clock
        client = world.pick_sellers(rng, 1, inst.id, size=(0.15, 0.7), quality=(0.3, 1.0))[0]
        lo, hi = window(world, rng, 6, 12)
        n_p = k["puppets"]
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


class ProxyRing(_Ring):
    """A ring that shares no identifier (issue 10, class 3): every puppet has its own device,
    card and address, orders come from IPs drawn from a proxy pool (or a fresh residential
    proxy each time), accounts are 1-400 days old, orders come in synchronised waves hours apart
    or steadily, amounts are narrow or mimic the client's, and puppets buy from popular sellers
    too. What is left to see is behaviour."""

    name: ClassVar[str] = "proxy_ring"

    def knobs(self, rng: Generator, random: bool) -> dict[str, Any]:
        k = {"puppets": int(rng.integers(5, 31)),
             "ages": _pick(rng, ["months", "new", "mixed"], p=[0.6, 0.2, 0.2]),
             "proxies": _pick(rng, ["pool", "residential"], p=[0.7, 0.3]),
             "proxy_pool": int(rng.integers(3, 61)),
             "amounts": _pick(rng, ["narrow", "mimic", "fixed"], p=[0.5, 0.35, 0.15]),
             "amount_spread": float(rng.uniform(0.0, 0.1)),
             "timing": _pick(rng, ["waves", "continuous"], p=[0.7, 0.3]),
             "wave_gap_hours": _logu(rng, 2, 36), "wave_hours": float(rng.uniform(0.3, 3)),
             "days": (3, 14), "orders_per_puppet": float(rng.uniform(2, 8)),
             "camouflage": float(rng.uniform(0, 0.5)),
             "review_rate": float(rng.uniform(0, 0.8)),
             "texts": _pick(rng, ["honest", "none", "scripted"]),
             "shipped": float(rng.uniform(0.7, 1.0)),
             "clients": 2 if rng.random() < 0.2 else 1}
        if not random:
            k.update(puppets=16, ages="months", proxies="pool", proxy_pool=20, amounts="narrow",
                     amount_spread=0.05, timing="waves", wave_gap_hours=8.0, wave_hours=1.0,
                     orders_per_puppet=5.0, camouflage=0.25, review_rate=0.5, texts="honest",
                     shipped=0.9, clients=1)
        return k

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        k = self.knobs(rng, world.random_adversary)
        lo, hi = world.episode(rng, *k["days"])
        clients = world.pick_sellers(rng, k["clients"], inst.id, size=(0.1, 0.8),
                                     quality=(0.3, 1.0), around=(lo, hi))
        ages = [k["ages"] if k["ages"] != "mixed" else _pick(rng, ["new", "months"])
                for _ in range(k["puppets"])]
        puppets = [world.new_account(rng, _registration(rng, lo, a), "puppet", role=inst.id)
                   for a in ages]
        pool = world.ids.ip.many(k["proxy_pool"])
        if k["proxies"] == "pool":
            def ip_of(_p: Account) -> str:
                return pool[int(rng.integers(len(pool)))]
        else:
            def ip_of(_p: Account) -> str:
                return world.ids.ip.one()
        self._wash(world, rng, inst, clients, puppets, k, lo, hi, ip_of)
        inst.sellers = [c.id for c in clients]
        inst.accounts = [p.id for p in puppets]
        inst.params.update({x: (list(v) if isinstance(v, tuple) else v) for x, v in k.items()},
                           wash_orders=len(inst.orders), days=round((hi - lo) / DAY, 1))


class CircularTrading(Pattern):
    """Colluding sellers buying from each other round a cycle, the same sum passed along.

    Each round, seller i buys from seller i+1 (``buyer_id`` = a seller id) for about the same
    amount minus a small fee, within hours; turnover is inflated for all of them at no cost.
    Drawn worlds (issue 10, class 4): 3-6 sellers, amounts drifting up to 30% per hop, hops
    hours to days apart, rounds every half day to four days.
    """

    name: ClassVar[str] = "circular_trading"

    def knobs(self, rng: Generator, random: bool) -> dict[str, Any]:
        if not random:
            return {"sellers": int(rng.integers(3, 6)), "noise": 0.0, "hop_hours": (0.3, 3.0),
                    "round_days": (0.7, 2.5), "days": (8, 16), "classic": True}
        return {"sellers": int(rng.integers(3, 7)), "noise": float(rng.uniform(0, 0.3)),
                "hop_hours": (0.3, _logu(rng, 1, 72)), "round_days": (0.5, float(
                    rng.uniform(1, 4))), "days": (8, 21), "classic": False}

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        k = self.knobs(rng, world.random_adversary)
        n = k["sellers"]
        lo, hi = world.episode(rng, *k["days"])
        ring = world.pick_sellers(rng, n, inst.id, size=(0.05, 0.6), around=(lo, hi))
        operator_ip = world.ids.ip.one() if rng.random() < 0.6 else None
        t = lo + int(rng.uniform(0, 1) * DAY)
        rounds = 0
        while t < hi:
            amount = float(rng.lognormal(np.log(6000), 0.5)) * self.intensity
            hop = t
            for i in range(n):
                buyer, seller = ring[i], ring[(i + 1) % n]
                if k["classic"]:
                    amount_i = amount * (1 - 0.003 * i)
                else:
                    amount_i = amount
                    amount *= float(rng.uniform(1 - k["noise"], 1 + k["noise"]))
                item_id, price = seller.item(rng)
                qty = max(1, round(amount_i / price))
                ip = operator_ip if operator_ip and rng.random() < 0.6 else None
                inst.add(world.buy(rng, hop, seller, buyer, amount=amount_i, quantity=qty,
                                   item=(item_id, price), ip=ip, shipped=rng.random() < 0.7),
                         inst.orders)
                hop += int(rng.uniform(*k["hop_hours"]) * HOUR)
            rounds += 1
            t += int(rng.uniform(*k["round_days"]) * DAY / self.intensity ** 0.5)
        inst.sellers = [s.id for s in ring]
        inst.accounts = [s.id for s in ring]
        inst.params.update(ring_size=n, rounds=rounds, operator_ip=operator_ip is not None,
                           noise=round(k["noise"], 3),
                           hop_hours=[round(x, 2) for x in k["hop_hours"]])


class SlowWash(Pattern):
    """A handful of old puppet accounts buying from one client about daily, all period long.

    Drawn worlds: 4-12 puppets sharing all or part of a small identity cluster, 0.8-2.5 orders
    a day, over two to five weeks.
    """

    name: ClassVar[str] = "slow_wash"

    def knobs(self, rng: Generator, random: bool) -> dict[str, Any]:
        if not random:
            return {"puppets": int(rng.integers(6, 11)), "sharing": "full", "per_day": 1.6,
                    "days": None}
        return {"puppets": int(rng.integers(4, 13)), "sharing": _pick(rng, ["full", "partial"]),
                "per_day": float(rng.uniform(0.8, 2.5)), "days": (14, 35)}

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        c = world.clock
        k = self.knobs(rng, world.random_adversary)
        if k["days"] is None:
            lo = c.start_ms + int(rng.uniform(0, 1.5) * DAY)
            hi = c.end_ms - int(rng.uniform(0, 1.5) * DAY)
        else:
            lo, hi = world.episode(rng, *k["days"])
        client = world.pick_sellers(rng, 1, inst.id, size=(0.1, 0.6), quality=(0.3, 1.0),
                                    around=(lo, hi))[0]
        n_p = k["puppets"]
        if k["sharing"] == "full":
            crew = _Crew(world, rng, devices=2, payments=int(rng.integers(1, 3)), addresses=2,
                         ips=2)
        else:
            crew = _Crew(world, rng, devices=0, payments=int(rng.integers(1, 3)), addresses=0,
                         ips=3)
        puppets = [crew.member(world, aged_registration(rng, lo, 1, 5), "puppet",
                               inst.id) for _ in range(n_p)]
        n_orders = max(n_p, int(rng.poisson(self.intensity * k["per_day"] * (hi - lo) / DAY)))
        for t, i in zip(c.sample(rng, lo, hi, n=n_orders).tolist(),
                        _round_robin(rng, n_orders, n_p), strict=True):
            p = puppets[i]
            ref = inst.add(world.buy(rng, t, client, p, shipped=rng.random() < 0.9), inst.orders)
            if ref is not None and rng.random() < 0.85:
                rating = 5 if rng.random() < 0.9 else 4
                inst.add(world.review(t + int(rng.uniform(2, 6) * DAY), client, p, rating,
                                      order_ref=ref, text=honest_text(rng, rating)), inst.reviews)
        for p in puppets:
            _camouflage(world, rng, inst, p, int(rng.integers(2, 5)), lo, hi)
        inst.sellers = [client.id]
        inst.accounts = [p.id for p in puppets]
        inst.params.update(puppets=n_p, wash_orders=len(inst.orders), sharing=k["sharing"])


class ReviewFarm(Pattern):
    """A pool of reviewers posting 5-star reviews for several clients in lockstep waves.

    In each wave the farm works down its client list within a few office hours, each client
    getting a batch from the same pool; reviews copy one script, most have no purchase behind
    them, a fifth follow a token purchase of the client's cheapest item. Drawn worlds vary the
    pool (20-80), clients (2-6), waves (2-6), batches, texts (a script, honest-looking, none),
    token purchases (0-60%), shared devices or not, and account ages.
    """

    name: ClassVar[str] = "review_farm"

    def knobs(self, rng: Generator, random: bool) -> dict[str, Any]:
        if not random:
            return {"reviewers": int(rng.integers(40, 71)), "clients": int(rng.integers(3, 6)),
                    "waves": float(rng.uniform(3, 5)), "batch": (8, 21), "texts": "scripted",
                    "token": 0.2, "devices": "shared", "aged": 0.5, "days": None}
        return {"reviewers": int(rng.integers(20, 81)), "clients": int(rng.integers(2, 7)),
                "waves": float(rng.uniform(2, 6)), "batch": (6, int(rng.integers(10, 22))),
                "texts": _pick(rng, ["scripted", "honest", "none"], p=[0.5, 0.25, 0.25]),
                "token": float(rng.uniform(0, 0.6)),
                "devices": _pick(rng, ["shared", "own"]), "aged": float(rng.uniform(0.2, 0.8)),
                "days": (14, 35)}

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        c = world.clock
        k = self.knobs(rng, world.random_adversary)
        lo, hi = (c.start_ms, c.end_ms) if k["days"] is None else world.episode(rng, *k["days"])
        clients = world.pick_sellers(rng, k["clients"], inst.id, size=(0.1, 0.8),
                                     around=(lo, hi))
        n_r = k["reviewers"]
        devices = world.ids.device.many(int(rng.integers(8, 16)))
        ips = world.ids.ip.many(int(rng.integers(2, 4)))
        reviewers = []
        for _ in range(n_r):
            reg = (aged_registration(rng, lo, 1, 5) if rng.random() < k["aged"]
                   else int(lo - rng.uniform(5, 60) * DAY))
            shared = k["devices"] == "shared"
            a = world.new_account(rng, reg, "reviewer", role=inst.id,
                                  device=devices[int(rng.integers(len(devices)))] if shared
                                  else None, home_ip=ips[int(rng.integers(len(ips)))])
            reviewers.append(a)
        crew = script(rng, "praise")
        waves = max(1, round(self.intensity * k["waves"]))
        starts = np.sort(c.sample(rng, lo + DAY, max(lo + 2 * DAY, hi - DAY), n=waves,
                                  profile=WORKDAY)).tolist()
        for w_start in starts:
            offset = 0
            for s in clients:
                offset += int(rng.uniform(20, 60) * MINUTE)
                size = min(n_r, int(rng.integers(*k["batch"])))
                batch = rng.choice(n_r, size=size, replace=False).tolist()
                for r in batch:
                    a = reviewers[r]
                    t = w_start + offset + int(rng.uniform(0, 90) * MINUTE)
                    ref = None
                    if rng.random() < k["token"]:
                        ref = inst.add(world.buy(rng, t - int(rng.uniform(1, 3) * DAY), s, a,
                                                 cheapest=True, ip=a.home_ip), inst.orders)
                    rating = 5 if rng.random() < 0.9 else 4
                    text = (scripted_text(rng, "praise", crew) if k["texts"] == "scripted"
                            else honest_text(rng, rating) if k["texts"] == "honest" else None)
                    inst.add(world.review(t, s, a, rating, order_ref=ref, text=text,
                                          item=None if ref is not None else s.item(rng)[0]),
                             inst.reviews)
        for a in reviewers:
            _camouflage(world, rng, inst, a, int(rng.integers(0, 3)), lo, hi, review_rate=0.5)
        inst.sellers = [s.id for s in clients]
        inst.accounts = [a.id for a in reviewers]
        inst.params.update(reviewers=n_r, clients=len(clients), waves=waves, texts=k["texts"],
                           token=round(k["token"], 3), devices=k["devices"])


class Brushing(Pattern):
    """Tiny orders from fresh accounts, nothing shipped, each followed by a 5-star review.

    Drawn worlds vary the rate (5-20 a day), how many accounts are fresh (50-100%) and how many
    orders get their review (60-100%)."""

    name: ClassVar[str] = "brushing"

    def knobs(self, rng: Generator, random: bool) -> dict[str, Any]:
        if not random:
            return {"per_day": (10, 20), "fresh": 1.0, "reviewed": 0.9}
        return {"per_day": (5, float(rng.uniform(8, 20))), "fresh": float(rng.uniform(0.5, 1)),
                "reviewed": float(rng.uniform(0.6, 1.0))}

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        c = world.clock
        k = self.knobs(rng, world.random_adversary)
        lo, hi = window(world, rng, 3, 7)
        client = world.pick_sellers(rng, 1, inst.id, size=(0.1, 0.7), around=(lo, hi))[0]
        n = max(5, round(self.intensity * rng.uniform(*k["per_day"]) * (hi - lo) / DAY))
        proxies = world.ids.ip.many(int(rng.integers(3, 6)))
        cards = world.ids.payment.many(int(rng.integers(3, 7)))
        drops = world.ids.address.many(int(rng.integers(4, 9)))
        praise = script(rng, "praise")
        accounts: list[Account] = []
        for t in np.sort(c.sample(rng, lo, hi, n=n, profile=WORKDAY)).tolist():
            if accounts and rng.random() < 0.15:
                a = accounts[int(rng.integers(len(accounts)))]
            else:
                reg = (int(t - rng.uniform(1, 72) * HOUR) if rng.random() < k["fresh"]
                       else aged_registration(rng, int(t), 0.5, 3))
                a = world.new_account(rng, reg, "brusher",
                                      role=inst.id, payment=cards[int(rng.integers(len(cards)))],
                                      address=drops[int(rng.integers(len(drops)))],
                                      home_ip=proxies[int(rng.integers(len(proxies)))])
                accounts.append(a)
            ref = inst.add(world.buy(rng, t, client, a, amount=float(rng.uniform(0.5, 3.0)),
                                     cheapest=True, shipped=False, ip=a.home_ip), inst.orders)
            if ref is not None and rng.random() < k["reviewed"]:
                text = scripted_text(rng, "praise", praise) if rng.random() < 0.5 else None
                inst.add(world.review(t + int(rng.uniform(0.5, 2) * DAY), client, a, 5,
                                      order_ref=ref, text=text), inst.reviews)
        inst.sellers = [client.id]
        inst.accounts = [a.id for a in accounts]
        inst.params.update(orders=len(inst.orders), accounts=len(accounts))


class ReviewBombing(Pattern):
    """A burst of 1-star reviews without purchases against one honest, well-rated seller.

    The target is a victim; the bombers are the culprits; whoever paid for it is not in the
    events, so no seller is a culprit. Drawn worlds vary the crew (10-50), the burst (3-48 h),
    texts (a script or none) and whether bombers share devices.
    """

    name: ClassVar[str] = "review_bombing"

    def knobs(self, rng: Generator, random: bool) -> dict[str, Any]:
        if not random:
            return {"bombers": max(8, round(self.intensity * rng.uniform(20, 40))),
                    "hours": (6, 24), "texts": 0.85, "devices": "shared"}
        return {"bombers": max(8, round(self.intensity * rng.uniform(10, 50))),
                "hours": (3, float(rng.uniform(6, 48))),
                "texts": _pick(rng, [0.85, 0.0]), "devices": _pick(rng, ["shared", "own"])}

    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        c = world.clock
        k = self.knobs(rng, world.random_adversary)
        ep_lo, ep_hi = world.episode(rng, 4, 4) if world.random_adversary \
            else (c.start_ms + DAY, c.end_ms - 2 * DAY)
        target = world.pick_sellers(rng, 1, inst.id, size=(0.5, 0.95), quality=(0.75, 1.0),
                                    around=(ep_lo, ep_hi))[0]
        n_b = k["bombers"]
        lo = int(c.sample(rng, ep_lo, max(ep_lo + HOUR, ep_hi), n=1)[0])
        hi = lo + int(rng.uniform(*k["hours"]) * HOUR)
        devices = world.ids.device.many(int(rng.integers(5, 11)))
        ips = world.ids.ip.many(int(rng.integers(2, 4)))
        attack = script(rng, "attack")
        bombers = []
        times = np.sort(c.sample(rng, lo, hi, n=n_b, profile=WORKDAY)).tolist()
        for t in times:
            reg = (aged_registration(rng, lo, 1, 4) if rng.random() < 0.5
                   else int(lo - rng.uniform(1, 20) * DAY))
            a = world.new_account(rng, reg, "bomber", role=inst.id,
                                  device=devices[int(rng.integers(len(devices)))]
                                  if k["devices"] == "shared" else None,
                                  home_ip=ips[int(rng.integers(len(ips)))])
            bombers.append(a)
            rating = 1 if rng.random() < 0.9 else 2
            text = scripted_text(rng, "attack", attack) if rng.random() < k["texts"] else None
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
        lo, hi = window(world, rng, 7, 14)
        s = world.pick_sellers(rng, 1, inst.id, size=(0.4, 0.85), around=(lo, hi))[0]
        factor = float(rng.uniform(3, 8) if not world.random_adversary
                       else rng.uniform(2, 8)) * self.intensity
        days = {local_day(ts) for _, ts, sid, _ in world.ledger.orders()
                if sid == s.id and lo <= ts < hi}
        if len(days) < (hi - lo) / DAY / 2:
            # Too few real sales to pad (sparse real background): give the shop ordinary
            # customers first; padding is about a real seller overstating real sales.
            buyers = world.pick_accounts(rng, 60, None, at=lo)
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
        lo, hi = window(world, rng, 10, 21)
        s: Seller = world.new_seller(rng, inst.id,
                                     registered_ms=int(lo - rng.uniform(20, 200) * DAY))
        world.self_invoicing.add(s.id)
        base = float(rng.lognormal(np.log(30000), 0.4)) * self.intensity
        day0 = int(c.local_day(lo))
        for day in range(day0, int(c.local_day(hi)) + 1):
            if rng.random() > 0.85:
                continue
            amount = base * float(rng.lognormal(0, 0.25))
            inst.add(world.daily_invoice(invoice_time(rng, day), day, s.id, amount,
                                         max(1, amount // s.price)), inst.records)
        # A couple of genuine small orders keep the shop from looking entirely dead.
        for a in world.pick_accounts(rng, int(rng.integers(0, 3)), None, at=lo):
            world.buy(rng, int(c.sample(rng, lo, hi, n=1)[0]), s, a)
        inst.sellers = [s.id]
        inst.params.update(daily_base=round(base, 2))


PATTERNS: dict[str, type[Pattern]] = {p.name: p for p in (
    WashRing, ProxyRing, CircularTrading, SlowWash, ReviewFarm, Brushing, ReviewBombing,
    InvoicePadding, InvoiceWithoutSales)}
