"""The honest marketplace: sellers, buyers and their identities, organic trade, and paperwork.

`World` holds the population and the ledger, and offers what patterns and hard negatives need
(pick a seller for a role, mint an account, place an order with realistic identifiers).
`Marketplace` fills a world with synthetic background: heavy-tailed seller sizes and prices,
heavy-tailed buyer activity with favourite sellers, the diurnal rhythm, refunds, J-shaped
reviews tied to seller quality, shared identifiers (households, offices, mobile carrier NAT) and
the records a real seller leaves (daily invoices matching sales, customs declarations of
exporters, rare court, IPR and registry entries).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.random import Generator

from producers.clock import (
    DAY,
    HOUR,
    MINUTE,
    YEAR,
    Clock,
    IntOrArray,
    local_date,
    local_day,
    local_day_start,
    local_hour,
    local_weekday,
)
from producers.identities import Minters
from producers.ledger import Ledger
from producers.texts import honest_text

__all__ = ["AccountKind", "Seller", "Account", "World", "Marketplace", "Population",
           "ratings_for", "REFUND_REASONS", "invoice_time"]

AccountKind = Literal["ordinary", "student", "business", "employee", "puppet", "reviewer",
                      "bomber", "brusher"]

REFUND_REASONS = ("not as described", "damaged in transit", "changed my mind", "wrong size",
                  "quality problem", "late delivery")
_COUNTRIES = ("US", "DE", "GB", "JP", "KR", "AU", "RU", "BR", "AE", "MY", "TH", "VN", "FR", "NL")
_HS = ("6109", "6204", "8517", "8471", "9503", "4202", "6403", "8516", "3304", "9405")


@dataclass(slots=True, eq=False)
class Seller:
    id: str
    price: float  # typical item price, CNY
    quality: float  # 0..1: sets rating and refund odds
    weight: float  # share of organic demand (0: none)
    registered_ms: int
    items: np.ndarray  # item prices
    device: str  # the seller's business identity, used when it buys as an account
    ip: str
    payment: str
    address: str
    digital: bool = False
    exporter: bool = False
    role: str | None = None  # set when a pattern or hard negative takes this seller

    def item(self, rng: Generator, cheapest: bool = False) -> tuple[str, float]:
        # Squaring the draw skews demand to the first (hero) items of a shop.
        k = int(np.argmin(self.items)) if cheapest else int(len(self.items) * rng.random() ** 2)
        return f"{self.id}-{k}", float(self.items[k])


@dataclass(slots=True, eq=False)
class Account:
    id: str
    registered_ms: int
    device: str
    payment: str
    address: str
    home_ip: str
    device2: str | None = None
    office_ip: str | None = None
    campus_ip: str | None = None
    activity: float = 0.0  # expected organic orders over the period
    review_p: float | None = None  # this buyer's review propensity (None: the market's rate)
    kind: AccountKind = "ordinary"
    role: str | None = None
    favourites: list[int] = field(default_factory=list)  # indices of organic sellers


def ratings_for(rng: Generator, quality: np.ndarray) -> np.ndarray:
    """Star ratings 1..5, J-shaped: mostly 5, a bump at 1, growing with (1 - quality)."""
    b = 1.0 - np.asarray(quality, dtype=np.float64)
    p1 = 0.03 + 0.30 * b
    p2 = 0.02 + 0.08 * b
    p3 = 0.04 + 0.12 * b
    p4 = 0.14 + 0.06 * b
    u = rng.random(b.shape)
    c1 = p1
    c2 = c1 + p2
    c3 = c2 + p3
    c4 = c3 + p4
    return np.where(u < c1, 1, np.where(u < c2, 2, np.where(u < c3, 3, np.where(u < c4, 4, 5))))


def _office_hours(ts: IntOrArray) -> IntOrArray:
    """Whether local time is a weekday between 09:00 and 18:00 (an int or an array of times)."""
    hour = local_hour(ts)
    return (local_weekday(ts) < 5) & (hour >= 9) & (hour < 18)


def _own_ip(a: Account, u: float, office_hours: bool, cgnat: float) -> str | None:
    """The address account ``a`` orders from, given a uniform draw ``u``; None for a shared
    carrier-grade NAT address (which the caller picks; ``cgnat`` is the share of orders placed
    from a mobile line)."""
    if a.campus_ip is not None and u < 0.85:
        return a.campus_ip
    if a.office_ip is not None and office_hours and u < 0.7:
        return a.office_ip
    if cgnat and u > 1.0 - cgnat:
        return None
    return a.home_ip


class World:
    """Population, ledger and clock of one simulation; the API of patterns and negatives."""

    def __init__(self, clock: Clock, ledger: Ledger, minters: Minters) -> None:
        self.clock = clock
        self.ledger = ledger
        self.ids = minters
        self.sellers: list[Seller] = []
        self.accounts: list[Account] = []
        self.cgnat: list[str] = []  # mobile carrier NAT addresses, shared by strangers
        self.cgnat_use = 0.35  # share of orders placed from a mobile line (behind the NAT)
        # random adversaries: each pattern instance draws its knobs from wide ranges
        self.random_adversary = False
        # seller id -> (first, last) activity, where the background is real data (episodes of
        # patterns are then placed on sellers active around them)
        self.active: dict[str, tuple[int, int]] = {}
        # seller id -> (from, to, factor, references of the padded invoices)
        self.invoice_padding: dict[str, tuple[int, int, float, list[int]]] = {}
        self.self_invoicing: set[str] = set()  # sellers whose invoices a pattern writes

    # ------------------------------------------------------------------ population

    def add_sellers(self, rng: Generator, n: int, *, registered: np.ndarray,
                    price: np.ndarray, quality: np.ndarray, weight: np.ndarray,
                    items: Sequence[np.ndarray] | None = None,
                    ids: list[str] | None = None) -> list[Seller]:
        ids = ids if ids is not None else self.ids.seller.many(n)
        dev, ips = self.ids.device.many(n), self.ids.ip.many(n)
        pay, adr = self.ids.payment.many(n), self.ids.address.many(n)
        if items is None:
            k = 2 + np.minimum(rng.poisson(4.0, n), 30)
            items = [price[i] * rng.lognormal(0.0, 0.35, k[i]) for i in range(n)]
        made = [Seller(ids[i], float(price[i]), float(quality[i]), float(weight[i]),
                       int(registered[i]), np.round(np.maximum(items[i], 0.5), 2),
                       dev[i], ips[i], pay[i], adr[i]) for i in range(n)]
        self.sellers.extend(made)
        return made

    def new_seller(self, rng: Generator, role: str, *, registered_ms: int,
                   price: float | None = None, quality: float | None = None) -> Seller:
        """A seller outside the organic demand (weight 0): a newcomer or a shell company."""
        p = np.array([price if price is not None else float(rng.lognormal(np.log(90), 0.6))])
        q = np.array([quality if quality is not None else float(rng.beta(6, 1.6))])
        s = self.add_sellers(rng, 1, registered=np.array([registered_ms]), price=p, quality=q,
                             weight=np.zeros(1))[0]
        s.role = role
        return s

    def new_account(self, rng: Generator, registered_ms: int, kind: AccountKind, *,
                    role: str | None = None, device: str | None = None,
                    payment: str | None = None, address: str | None = None,
                    home_ip: str | None = None, account_id: str | None = None) -> Account:
        a = Account(account_id or self.ids.account.one(), int(registered_ms),
                    device or self.ids.device.one(), payment or self.ids.payment.one(),
                    address or self.ids.address.one(), home_ip or self.ids.ip.one(),
                    kind=kind, role=role)
        self.accounts.append(a)
        return a

    # ------------------------------------------------------------------ picking for roles

    def episode(self, rng: Generator, min_days: float, max_days: float) -> tuple[int, int]:
        """A random sub-period of ``min_days``..``max_days`` inside the simulated period (the
        whole period when it is shorter): where one instance of a pattern or negative acts."""
        c = self.clock
        span = c.end_ms - c.start_ms
        length = int(min(rng.uniform(min_days, max_days) * DAY, max(span - DAY, DAY)))
        lo = c.start_ms + int(rng.uniform(0, max(span - length, 0)))
        return lo, lo + length

    def period(self, rng: Generator, min_days: float, max_days: float) -> tuple[int, int]:
        """The whole simulated period when it is a market's few weeks, else (a real background
        spanning years) an episode of ``min_days``..``max_days`` in it: where honest behaviour
        that would otherwise run all period long (loyal customers, suppliers) takes place."""
        c = self.clock
        if c.end_ms - c.start_ms <= 120 * DAY:
            return c.start_ms, c.end_ms
        return self.episode(rng, min_days, max_days)

    def pick_sellers(self, rng: Generator, k: int, role: str, *,
                     size: tuple[float, float] = (0.2, 0.8),
                     quality: tuple[float, float] = (0.0, 1.0),
                     digital: bool = False, around: tuple[int, int] | None = None
                     ) -> list[Seller]:
        """``k`` free sellers whose size rank (0 smallest, 1 largest) and quality are in range.

        A seller gets one role at most, so the signals of two patterns never mix on one seller.
        On a real background (``World.active``), ``around`` prefers sellers active within 90
        days of that period.
        """
        free = [s for s in self.sellers if s.role is None and s.weight > 0
                and s.digital == digital]
        if around is not None and self.active:
            near = [s for s in free if s.id in self.active
                    and self.active[s.id][0] - 90 * DAY <= around[1]
                    and self.active[s.id][1] + 90 * DAY >= around[0]]
            if len(near) >= max(k, 5):
                free = near
        if not free:
            raise ValueError(f"no free seller left for {role}: raise the scale")
        ranked = sorted(free, key=lambda s: (s.weight, s.id))
        n = len(ranked)
        pool = [s for i, s in enumerate(ranked)
                if size[0] <= i / max(n - 1, 1) <= size[1] and quality[0] <= s.quality <= quality[1]]
        if len(pool) < k:
            pool = [s for i, s in enumerate(ranked) if size[0] <= i / max(n - 1, 1) <= size[1]]
        if len(pool) < k:
            pool = ranked
        chosen = rng.choice(len(pool), size=min(k, len(pool)), replace=False).tolist()
        out = [pool[i] for i in chosen]
        for s in out:
            s.role = role
        return out

    def pick_accounts(self, rng: Generator, k: int, role: str | None, *,
                      kinds: tuple[AccountKind, ...] = ("ordinary",),
                      min_age_ms: int = 60 * DAY, distinct_households: bool = False,
                      at: int | None = None) -> list[Account]:
        """``k`` established accounts (at least ``min_age_ms`` old at ``at``, default the start
        of the period), more likely the more active (they are the ones seen)."""
        cutoff = (self.clock.start_ms if at is None else at) - min_age_ms
        pool = [a for a in self.accounts
                if a.kind in kinds and a.role is None and a.registered_ms <= cutoff]
        if distinct_households:
            seen: dict[str, Account] = {}
            for a in pool:
                seen.setdefault(a.address, a)
            pool = list(seen.values())
        if not pool:
            return []
        w = np.array([a.activity for a in pool]) + 0.5
        chosen = rng.choice(len(pool), size=min(k, len(pool)), replace=False, p=w / w.sum())
        out = [pool[i] for i in chosen.tolist()]
        if role is not None:
            for a in out:
                a.role = role
        return out

    def popular_sellers(self, rng: Generator, k: int) -> list[Seller]:
        """Free, physical sellers drawn by organic demand: where camouflage purchases go."""
        pool = [s for s in self.sellers if s.role in (None, "popular_seller") and s.weight > 0
                and not s.digital]
        if not pool and k > 0:
            raise ValueError("no free seller left for camouflage purchases: raise the scale")
        w = np.array([s.weight for s in pool])
        idx = rng.choice(len(pool), size=k, replace=True, p=w / w.sum())
        return [pool[i] for i in idx.tolist()]

    # ------------------------------------------------------------------ events

    def ip_for(self, rng: Generator, a: Account, ts: int) -> str:
        ip = _own_ip(a, rng.random(), bool(_office_hours(ts)),
                     self.cgnat_use if self.cgnat else 0.0)
        return ip if ip is not None else self.cgnat[int(rng.integers(len(self.cgnat)))]

    def daily_invoice(self, ts: int, day: int, seller_id: str, amount: float,
                      orders: float) -> int | None:
        """Record seller ``seller_id``'s sales invoice for local day ``day``, issued at ``ts``."""
        return self.ledger.record(ts, seller_id, "invoice", "daily_sales", amount=amount,
                                  details={"date": local_date(local_day_start(day)),
                                           "orders": int(orders)})

    def buy(self, rng: Generator, ts: int, seller: Seller, buyer: Account | Seller, *,
            amount: float | None = None, quantity: int = 1, shipped: bool | None = None,
            cheapest: bool = False, item: tuple[str, float] | None = None,
            ip: str | None = None, device: str | None = None, payment: str | None = None,
            address: str | None = None) -> int | None:
        """One order with the buyer's own identifiers unless overridden."""
        item_id, price = item or seller.item(rng, cheapest=cheapest)
        if amount is None:
            amount = price * quantity
        if isinstance(buyer, Seller):
            dev, pay, adr, ip_ = buyer.device, buyer.payment, buyer.address, buyer.ip
            reg = buyer.registered_ms
        else:
            dev = buyer.device2 if buyer.device2 and rng.random() < 0.3 else buyer.device
            pay, adr, reg = buyer.payment, buyer.address, buyer.registered_ms
            ip_ = ip or self.ip_for(rng, buyer, ts)
        return self.ledger.order(
            int(ts), seller.id, buyer.id, amount, item=item_id, quantity=quantity,
            device=device or dev, ip=ip or ip_, payment=payment or pay,
            address=address or adr,
            shipped=(not seller.digital) if shipped is None else shipped, registered=reg)

    def review(self, ts: int, seller: Seller, reviewer: Account, rating: int, *,
               order_ref: int | None = None, text: str | None = None,
               item: str | None = None) -> int | None:
        if order_ref is not None and item is None:
            item = self.ledger.event(order_ref).get("item_id")
        return self.ledger.review(int(ts), seller.id, reviewer.id, rating, order_ref=order_ref,
                                  item=item, text=text, registered=reviewer.registered_ms)

    def organic_followup(self, rng: Generator, ref: int | None, seller: Seller,
                         buyer: Account, *, review_rate: float = 0.3) -> list[int]:
        """What an ordinary order leads to: maybe a refund, maybe a later genuine review."""
        if ref is None:
            return []
        out: list[int] = []
        ts = self.ledger.ts_of(ref)
        amount = self.ledger.event(ref)["amount"]
        refunded = rng.random() < 0.02 + 0.10 * (1 - seller.quality)
        if refunded:
            r = self.ledger.refund(ts + int(rng.uniform(2, 12) * DAY), ref, amount,
                                   REFUND_REASONS[int(rng.integers(len(REFUND_REASONS)))])
            if r is not None:
                out.append(r)
        if rng.random() < (review_rate if buyer.review_p is None else buyer.review_p):
            q = seller.quality * (0.5 if refunded else 1.0)
            rating = int(ratings_for(rng, np.array([q]))[0])
            delay = int((1.5 + rng.gamma(2.0, 1.5)) * DAY)
            r = self.review(ts + delay, seller, buyer, rating, order_ref=ref,
                            text=honest_text(rng, rating))
            if r is not None:
                out.append(r)
        return out


@dataclass(frozen=True)
class Population:
    """Sizes and rates of the synthetic background (already scaled).

    The defaults are the classic marketplace; a drawn world (`producers.scenario.Scenario.drawn`)
    sets every field from wide ranges.
    """

    sellers: int
    buyers: int
    orders_per_buyer: float
    review_rate: float = 0.30
    unlinked_review_share: float = 0.04
    new_account_share: float = 0.04
    favourite_share: float = 0.55
    #: None: seller demand is lognormal(0, 1.3); else a power law P(w) ~ w^-alpha (capped)
    popularity_alpha: float | None = None
    #: Pareto shape of buyer activity (smaller: heavier buyers)
    activity_shape: float = 1.6
    #: mean extra favourite sellers per buyer (Poisson, plus one)
    favourites_mean: float = 1.2
    #: None: every buyer reviews at ``review_rate``; else propensities are Beta with that mean
    #: and this concentration (small: a few heavy reviewers review almost everything)
    review_concentration: float | None = None
    household_card_share: float = 0.25
    office_share: float = 0.15
    cgnat_use: float = 0.35
    price_sigma: float = 0.8


class Marketplace:
    """Synthetic honest background: `populate`, then `trade`, and last `paperwork`."""

    def __init__(self, population: Population) -> None:
        self.pop = population

    def populate(self, world: World, rng: Generator) -> None:
        c = world.clock
        n = self.pop.sellers
        alpha = self.pop.popularity_alpha
        if alpha is None:
            weight = rng.lognormal(0.0, 1.3, n)
        else:
            # Pareto draws (density ~ w^-alpha); the cap keeps one seller from taking most of
            # the market at alpha near 1.5.
            weight = np.minimum((1.0 - rng.random(n)) ** (-1.0 / (alpha - 1.0)), 3000.0)
        price = np.clip(rng.lognormal(np.log(90), self.pop.price_sigma, n), 5, 5000)
        quality = rng.beta(6.0, 1.6, n)
        registered = c.start_ms - (np.exp(rng.uniform(np.log(0.3), np.log(8.0), n)) * YEAR)
        sellers = world.add_sellers(rng, n, registered=registered.astype(np.int64), price=price,
                                    quality=quality, weight=weight)
        for s, e in zip(sellers, (rng.random(n) < 0.10).tolist(), strict=True):
            s.exporter = e
        self._buyers(world, rng, self.pop.buyers)
        world.cgnat = world.ids.ip.many(max(40, self.pop.buyers // 15))
        world.cgnat_use = self.pop.cgnat_use

    def _buyers(self, world: World, rng: Generator, n: int) -> None:
        c = world.clock
        u = rng.random(n)
        span = c.end_ms - c.start_ms
        old = c.start_ms - np.exp(rng.uniform(np.log(90), np.log(3650), n)) * DAY
        recent = c.start_ms - rng.uniform(0, 90, n) * DAY
        # Genuinely new accounts: registered during the period, buying only after that.
        new = c.start_ms + rng.uniform(0, 0.85, n) * span
        share = self.pop.new_account_share
        registered = np.where(u < share, new, np.where(u < share + 0.06, recent, old))
        shape = self.pop.activity_shape
        # Pareto with minimum 1 has mean shape / (shape - 1): scaled to orders_per_buyer.
        activity = self.pop.orders_per_buyer * (rng.pareto(shape, n) + 1) * ((shape - 1) / shape)
        activity = np.minimum(activity, 60 * self.pop.orders_per_buyer)
        review_p = None
        if self.pop.review_concentration is not None:
            m, k = self.pop.review_rate, self.pop.review_concentration
            review_p = rng.beta(max(m * k, 1e-3), max((1 - m) * k, 1e-3), n)
        devices, payments = world.ids.device.many(n), world.ids.payment.many(n)
        extra = world.ids.device.many(n)
        has2 = rng.random(n) < 0.15
        ids = world.ids.account.many(n)
        # Households of 1-4 share an address and a home router; a quarter share a family card.
        sizes = rng.choice([1, 2, 3, 4], size=n, p=[0.55, 0.25, 0.13, 0.07])
        household = np.repeat(np.arange(n), sizes)[:n]
        n_h = int(household[-1]) + 1
        h_addr, h_ip = world.ids.address.many(n_h), world.ids.ip.many(n_h)
        h_card = rng.random(n_h) < self.pop.household_card_share
        # A fifth of households also share a family tablet as everyone's second device.
        h_tablet = rng.random(n_h) < 0.2
        tablets = world.ids.device.many(n_h)
        first_of: dict[int, int] = {}
        # Offices of 5-60 colleagues share one NAT address on weekdays.
        in_office = rng.random(n) < self.pop.office_share
        office_sizes = rng.integers(5, 61, size=max(1, n // 20))
        office_of = np.repeat(np.arange(office_sizes.size), office_sizes)
        office_ip = world.ids.ip.many(office_sizes.size)
        cursor = 0
        reg = registered.astype(np.int64).tolist()
        for i in range(n):
            h = int(household[i])
            first = first_of.setdefault(h, i)
            pay = payments[first] if h_card[h] else payments[i]
            second = tablets[h] if h_tablet[h] else extra[i] if has2[i] else None
            a = Account(ids[i], reg[i], devices[i], pay, h_addr[h], h_ip[h],
                        device2=second, activity=float(activity[i]),
                        review_p=None if review_p is None else float(review_p[i]))
            if in_office[i] and cursor < office_of.size:
                a.office_ip = office_ip[int(office_of[cursor])]
                cursor += 1
            world.accounts.append(a)

    def trade(self, world: World, rng: Generator) -> None:
        """Organic orders of every ordinary account and student, with refunds and reviews."""
        c, led = world.clock, world.ledger
        sellers = [s for s in world.sellers if s.weight > 0]
        buyers = [a for a in world.accounts if a.kind in ("ordinary", "student")]
        ns, nb = len(sellers), len(buyers)
        w = np.array([s.weight for s in sellers])
        w = w / w.sum()
        reg = np.array([a.registered_ms for a in buyers], dtype=np.int64)
        act = np.array([a.activity for a in buyers])
        lo = np.maximum(c.start_ms, reg + 10 * MINUTE)
        act = act * np.clip((c.end_ms - lo) / (c.end_ms - c.start_ms), 0, 1)
        k_fav = 1 + np.minimum(rng.poisson(self.pop.favourites_mean, nb), 5)
        fav = rng.choice(ns, size=(nb, 6), p=w)
        for a, row, k in zip(buyers, fav.tolist(), k_fav.tolist(), strict=True):
            a.favourites = row[:k]
        per = rng.poisson(act)
        b = np.repeat(np.arange(nb), per)
        n = b.size
        ts = c.sample(rng, lo[b], c.end_ms)
        use_fav = rng.random(n) < self.pop.favourite_share
        fav_pick = fav[b, (rng.random(n) * k_fav[b]).astype(np.int64)]
        s_idx = np.where(use_fav, fav_pick, rng.choice(ns, size=n, p=w))
        n_items = np.array([len(s.items) for s in sellers])
        k_item = (n_items[s_idx] * rng.random(n) ** 2).astype(np.int64)
        qty = np.minimum(rng.geometric(0.75, n), 5)
        coupon = np.where(rng.random(n) < 0.2, rng.uniform(0.85, 0.95, n), 1.0)
        digital = np.array([s.digital for s in sellers])
        quality = np.array([s.quality for s in sellers])
        cancelled = ~digital[s_idx] & (rng.random(n) < 0.015)
        shipped = ~digital[s_idx] & ~cancelled
        refund_p = np.where(digital[s_idx], 0.01, 0.02 + 0.10 * (1 - quality[s_idx]))
        refunded = cancelled | (rng.random(n) < refund_p)
        refund_full = cancelled | (rng.random(n) < 0.7)
        refund_share = np.where(refund_full, 1.0, rng.uniform(0.2, 0.6, n))
        refund_delay = np.where(cancelled, rng.uniform(2, 30, n) * HOUR,
                                rng.uniform(2, 12, n) * DAY).astype(np.int64)
        rate = np.array([self.pop.review_rate if a.review_p is None else a.review_p
                         for a in buyers])
        reviewed = ~cancelled & (rng.random(n) < rate[b])
        rating = ratings_for(rng, quality[s_idx] * np.where(refunded, 0.5, 1.0))
        review_delay = (np.where(digital[s_idx], rng.uniform(0.05, 2, n),
                                 1.5 + rng.gamma(2.0, 1.5, n)) * DAY).astype(np.int64)
        use2 = rng.random(n) < 0.3
        reason = rng.integers(len(REFUND_REASONS), size=n)
        ip_u = rng.random(n)
        cg = rng.integers(max(1, len(world.cgnat)), size=n)
        workhours = _office_hours(ts)
        cols = (b.tolist(), ts.tolist(), s_idx.tolist(), k_item.tolist(), qty.tolist(),
                coupon.tolist(), shipped.tolist(), refunded.tolist(), refund_share.tolist(),
                refund_delay.tolist(), reviewed.tolist(), rating.tolist(), review_delay.tolist(),
                use2.tolist(), reason.tolist(), ip_u.tolist(), cg.tolist(), workhours.tolist(),
                cancelled.tolist())
        cgnat = world.cgnat
        for (bi, t, si, ki, q, cp, sh, rf, rs, rd, rv, rt, vd, u2, rr, iu, cgi, wh,
             cx) in zip(*cols, strict=True):
            a = buyers[bi]
            s = sellers[si]
            ip = _own_ip(a, iu, wh, world.cgnat_use if cgnat else 0.0)
            if ip is None:
                ip = cgnat[cgi]
            amount = float(s.items[ki]) * q * cp
            ref = led.order(t, s.id, a.id, amount, item=f"{s.id}-{ki}", quantity=q,
                            device=a.device2 if (u2 and a.device2) else a.device, ip=ip,
                            payment=a.payment, address=a.address, shipped=sh,
                            registered=a.registered_ms)
            if ref is None:
                continue
            if rf:
                led.refund(t + rd, ref, led.event(ref)["amount"] * rs,
                           "cancelled before shipping" if cx else REFUND_REASONS[rr])
            if rv:
                led.review(t + vd, s.id, a.id, rt, order_ref=ref, item=f"{s.id}-{ki}",
                           text=honest_text(rng, rt), registered=a.registered_ms)
        self._unlinked_reviews(world, rng, buyers, sellers, int(reviewed.sum()))

    def _unlinked_reviews(self, world: World, rng: Generator, buyers: list[Account],
                          sellers: list[Seller], n_reviews: int) -> None:
        """Reviews of purchases made before the period: genuine, but with no order to link."""
        c = world.clock
        n = int(n_reviews * self.pop.unlinked_review_share)
        pool = [a for a in buyers if a.registered_ms < c.start_ms - 30 * DAY]
        if not pool or n == 0:
            return
        w = np.array([a.activity for a in pool])
        who = rng.choice(len(pool), size=n, p=w / w.sum())
        ts = c.sample(rng, c.start_ms, c.start_ms + min(10, c.days) * DAY, n=n)
        for i, t in zip(who.tolist(), ts.tolist(), strict=True):
            a = pool[i]
            s = sellers[a.favourites[int(rng.integers(len(a.favourites)))]]
            rating = int(ratings_for(rng, np.array([s.quality]))[0])
            world.review(t, s, a, rating, text=honest_text(rng, rating))

    # ------------------------------------------------------------------ records

    def paperwork(self, world: World, rng: Generator) -> None:
        """Daily invoices from the ledger's sales, and customs, court, IPR and registry
        records."""
        issue_invoices(world, rng)
        c = world.clock
        by_id = {s.id: s for s in world.sellers}
        weekly: dict[tuple[str, int], float] = {}
        for _, ts, sid, amount in world.ledger.orders():
            s = by_id.get(sid)
            if s is not None and s.exporter:
                key = (sid, int((ts - c.start_ms) // (7 * DAY)))
                weekly[key] = weekly.get(key, 0.0) + amount
        for (sid, week), sales in sorted(weekly.items()):
            lo = c.start_ms + week * 7 * DAY
            t = int(c.sample(rng, lo, min(lo + 7 * DAY, c.end_ms), n=1, profile=_OFFICE)[0])
            world.ledger.record(t, sid, "customs", "export_declaration",
                                amount=sales * rng.uniform(0.2, 0.6),
                                details={"destination": _COUNTRIES[int(rng.integers(14))],
                                         "hs_code": _HS[int(rng.integers(len(_HS)))]})
        physical = [s for s in world.sellers if s.weight > 0]
        rare: list[tuple[str, tuple[str, ...], float, Callable[[], float | None]]] = [
            ("court", ("civil_case_filed", "judgment", "enforcement"), 0.02,
             lambda: float(rng.lognormal(np.log(20000), 1.0))),
            ("ipr", ("trademark_registered", "patent_granted", "infringement_complaint"), 0.02,
             lambda: None),
            ("registry", ("annual_report", "address_change", "legal_rep_change",
                          "capital_change"), 0.04, lambda: None),
        ]
        for source, kinds, per_seller, amount_of in rare:
            m = int(rng.poisson(per_seller * len(physical) * c.days / 21))
            if m == 0:
                continue
            who = rng.choice(len(physical), size=m)
            ts = c.sample(rng, c.start_ms, c.end_ms, n=m, profile=_OFFICE)
            for i, t in zip(who.tolist(), ts.tolist(), strict=True):
                kind = kinds[int(rng.integers(len(kinds)))]
                world.ledger.record(t, physical[i].id, source, kind, amount=amount_of(),
                                    details={"reference": f"{source[:3].upper()}"
                                             f"{int(rng.integers(10**7, 10**8))}"})


_OFFICE = np.array([0.0] * 8 + [1.0] * 10 + [0.0] * 6) + 0.01


def invoice_time(rng: Generator, day: int) -> int:
    """When the sales invoice of local day ``day`` is issued: overnight, 20 min to 3 h after."""
    return local_day_start(day) + DAY + int(rng.uniform(20, 180) * MINUTE)


def issue_invoices(world: World, rng: Generator, share: float = 1.0) -> None:
    """One invoice per seller and local day with sales, issued overnight, matching the sales.

    Amounts differ from the day's sales by under 2% (discounts, rounding), except where a pattern
    pads them; sellers whose invoices a pattern writes are left to it. With ``share`` < 1 only
    that share of the sellers (and every padded one) sends invoices (a real background where
    few sellers are registered with the tax agency's e-invoicing).
    """
    c = world.clock
    invoicing = None
    if share < 1.0:
        ids = sorted({sid for _, _, sid, _ in world.ledger.orders()})
        pick = rng.random(len(ids)) < share
        invoicing = {sid for sid, p in zip(ids, pick.tolist(), strict=True) if p}
        invoicing |= set(world.invoice_padding)
    daily: dict[tuple[int, str], list[float]] = {}
    for _, ts, sid, amount in world.ledger.orders():
        if not c.start_ms <= ts < c.end_ms or sid in world.self_invoicing:
            continue
        if invoicing is not None and sid not in invoicing:
            continue
        key = (local_day(ts), sid)
        acc = daily.setdefault(key, [0.0, 0.0])
        acc[0] += amount
        acc[1] += 1
    for (day, sid), (sales, count) in sorted(daily.items()):
        t = invoice_time(rng, day)
        amount = sales * rng.uniform(0.985, 1.0)
        pad = world.invoice_padding.get(sid)
        padded = pad is not None and pad[0] <= local_day_start(day) < pad[1]
        if padded:
            amount *= pad[2] * rng.uniform(0.9, 1.1)  # type: ignore[index]
        ref = world.daily_invoice(t, day, sid, amount, count)
        if padded and ref is not None:
            pad[3].append(ref)  # type: ignore[index]
