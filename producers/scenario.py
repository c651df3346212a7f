"""The scenario: population, market knobs, period, and the count and intensity of every pattern
and hard negative.

Two kinds of scenario:

* `Scenario()` is the *classic* marketplace (scale 1.0: about 1,000 sellers, 40,000 buyers, 21
  days, fixed market shape and fixed pattern recipes). ``scale`` multiplies population sizes
  and instance counts (an instance count set above zero never drops to zero, so a small scale
  still shows every pattern); intensities are per instance and unscaled.
* `Scenario.drawn(seed)` is a *drawn world* (issue 10): every market knob (size, popularity
  exponent, buyer activity and review propensity, identifier sharing, which optional fields the
  platform sends, ...) and every count is drawn from a wide range from the seed, and each
  pattern instance draws its adversary knobs (ring size, account age, identifier sharing, proxy
  IPs, amounts, wave timing, camouflage, cycle noise, review texts) itself. Detection is tuned
  on some seeds and reported on others (README: "How well it works").
"""

from __future__ import annotations

import zlib
from typing import Any, Literal

import numpy as np
from numpy.random import PCG64, Generator, SeedSequence
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from credence.contract import parse_ts
from producers.base import FAMILIES, NEGATIVE_NAMES, PATTERN_NAMES
from producers.clock import DEFAULT_START
from producers.marketplace import Population

__all__ = ["Knob", "Market", "Scenario", "Background", "ScenarioError", "DEFAULT_PATTERNS",
           "DEFAULT_NEGATIVES", "FAMILIES", "IDENTIFIER_FIELDS"]

Background = Literal["synthetic", "bitcoin-alpha"]

#: what a platform sends of the buyer's identifiers: everything, only the IP, or nothing
IDENTIFIER_FIELDS: dict[str, frozenset[str]] = {
    "all": frozenset(),
    "partial": frozenset({"device_id", "payment_id", "address_id"}),
    "none": frozenset({"device_id", "payment_id", "address_id", "ip"}),
}


class ScenarioError(ValueError):
    """A scenario setting that does not parse; the message is one line."""


class Knob(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int = Field(ge=0, le=1000)
    intensity: float = Field(1.0, gt=0, le=100)


class Market(BaseModel):
    """The shape of the honest market and what the platform sends (`Population` fields)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    popularity_alpha: float | None = Field(None, ge=1.2, le=4.0)
    activity_shape: float = Field(1.6, ge=1.05, le=5.0)
    favourite_share: float = Field(0.55, ge=0, le=1)
    favourites_mean: float = Field(1.2, ge=0, le=5)
    review_concentration: float | None = Field(None, gt=0, le=100)
    new_account_share: float = Field(0.04, ge=0, le=0.5)
    unlinked_review_share: float = Field(0.04, ge=0, le=0.5)
    household_card_share: float = Field(0.25, ge=0, le=1)
    office_share: float = Field(0.15, ge=0, le=1)
    cgnat_use: float = Field(0.35, ge=0, le=1)
    price_sigma: float = Field(0.8, gt=0, le=3)
    identifiers: Literal["all", "partial", "none"] = "all"
    registration: bool = True  # buyer_registered / reviewer_registered sent
    texts: bool = True  # review texts sent


DEFAULT_PATTERNS: dict[str, Knob] = {
    "wash_ring": Knob(count=4), "proxy_ring": Knob(count=2),
    "circular_trading": Knob(count=2), "slow_wash": Knob(count=2),
    "review_farm": Knob(count=2), "brushing": Knob(count=3), "review_bombing": Knob(count=2),
    "invoice_padding": Knob(count=3), "invoice_without_sales": Knob(count=2),
}
DEFAULT_NEGATIVES: dict[str, Knob] = {
    "flash_sale": Knob(count=2), "b2b_bulk": Knob(count=3), "viral_newcomer": Knob(count=2),
    "digital_goods": Knob(count=3), "campus_ip": Knob(count=1), "loyal_customers": Knob(count=3),
    "corporate_buyers": Knob(count=2), "b2b_trade": Knob(count=1),
    "popular_seller": Knob(count=5),
}

# Drawn worlds: (low, high) of each count, at any scale (counts are not scaled).
_DRAWN_PATTERNS: dict[str, tuple[int, int]] = {
    "wash_ring": (0, 3), "proxy_ring": (1, 4), "circular_trading": (0, 3), "slow_wash": (0, 2),
    "review_farm": (0, 3), "brushing": (0, 3), "review_bombing": (0, 2),
    "invoice_padding": (0, 3), "invoice_without_sales": (0, 2),
}
_DRAWN_NEGATIVES: dict[str, tuple[int, int]] = {
    "flash_sale": (0, 6), "b2b_bulk": (0, 4), "viral_newcomer": (0, 3), "digital_goods": (0, 5),
    "campus_ip": (0, 2), "loyal_customers": (0, 5), "corporate_buyers": (0, 5),
    "b2b_trade": (0, 4), "popular_seller": (5, 15),
}


# sellers an instance takes a role from, on average (for small drawn worlds)
_ROLE_SELLERS: dict[str, float] = {
    "wash_ring": 1.2, "proxy_ring": 1.2, "circular_trading": 4.5, "review_farm": 4.0,
    "invoice_without_sales": 0.0, "viral_newcomer": 0.0, "campus_ip": 0.0,
    "corporate_buyers": 2.0, "b2b_trade": 4.5,
}


def _rng(seed: int, name: str) -> Generator:
    return Generator(PCG64(SeedSequence([seed, zlib.crc32(name.encode())])))


class Scenario(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = Field(7, ge=0)
    scale: float = Field(1.0, gt=0, le=20)
    days: int = Field(21, ge=3, le=120)
    start: str = DEFAULT_START
    sellers: int = Field(1000, ge=1)
    buyers: int = Field(40000, ge=1)
    orders_per_buyer: float = Field(8.0, gt=0)
    review_rate: float = Field(0.3, ge=0, le=1)
    inject: bool = True
    background: Background = "synthetic"
    # Bitcoin-Alpha: where the injected window starts (default: the last `days` of the data).
    inject_start: str | None = None
    # Bitcoin-Alpha: spread each injected instance over the data's whole span instead.
    spread: bool = False
    #: "classic": the fixed pattern recipes; "random": each instance draws its adversary knobs
    adversary: Literal["classic", "random"] = "classic"
    #: "classic" or "drawn" (how the scenario was made; reported in the truth)
    world: Literal["classic", "drawn"] = "classic"
    market: Market = Field(default_factory=Market)
    patterns: dict[str, Knob] = Field(default_factory=lambda: dict(DEFAULT_PATTERNS))
    negatives: dict[str, Knob] = Field(default_factory=lambda: dict(DEFAULT_NEGATIVES))

    @field_validator("start", "inject_start")
    @classmethod
    def _iso_time(cls, v: str | None) -> str | None:
        if v is not None:
            parse_ts(v)  # ISO 8601 with a zone; raises ValueError with a one-line message
        return v

    @classmethod
    def drawn(cls, seed: int, scale: float = 1.0, background: Background = "synthetic"
              ) -> Scenario:
        """A world drawn from ``seed``: every market knob and count from a wide range.

        Ranges (uniform unless said): sellers 250-1,200 (log-uniform) x scale, buyers 15-50 per
        seller, 14-35 days, 3-12 orders per buyer (log-uniform), review rate 0.08-0.5 with a
        per-buyer Beta propensity of concentration 0.3-5 (log-uniform: heavy reviewers),
        popularity exponent 1.5-3, buyer activity Pareto shape 1.2-2.5, favourite share
        0.3-0.75, new accounts 1-10%, household card sharing 10-50%, offices 5-30%, mobile NAT
        10-60% of orders, price spread 0.5-1.2; identifiers sent: all (50%), IP only (30%),
        none (20%); registration times sent 75%; review texts sent 70%. On Bitcoin-Alpha the
        background is the data; identifiers all or none (50/50) and the patterns are spread
        over its whole span.
        """
        r = _rng(seed, "world")

        def u(lo: float, hi: float) -> float:
            return float(r.uniform(lo, hi))

        def logu(lo: float, hi: float) -> float:
            return float(np.exp(r.uniform(np.log(lo), np.log(hi))))

        sellers = round(logu(250, 1200) * scale)
        market = Market(
            popularity_alpha=round(u(1.5, 3.0), 3), activity_shape=round(u(1.2, 2.5), 3),
            favourite_share=round(u(0.3, 0.75), 3), favourites_mean=round(u(0.5, 2.5), 3),
            review_concentration=round(logu(0.3, 5.0), 3),
            new_account_share=round(u(0.01, 0.10), 4),
            unlinked_review_share=round(u(0.0, 0.12), 4),
            household_card_share=round(u(0.1, 0.5), 3), office_share=round(u(0.05, 0.3), 3),
            cgnat_use=round(u(0.1, 0.6), 3), price_sigma=round(u(0.5, 1.2), 3),
            identifiers=str(r.choice(["all", "partial", "none"], p=[0.5, 0.3, 0.2]))
            if background == "synthetic" else str(r.choice(["all", "none"])),  # type: ignore[arg-type]
            registration=bool(r.random() < 0.75), texts=bool(r.random() < 0.7))
        pat_n = {n: int(r.integers(lo, hi + 1)) for n, (lo, hi) in _DRAWN_PATTERNS.items()}
        neg_n = {n: int(r.integers(lo, hi + 1)) for n, (lo, hi) in _DRAWN_NEGATIVES.items()}
        # A small world cannot host every role: at most 40% of its sellers take one (counts
        # scaled down alike, a drawn pattern keeping at least one instance).
        need = sum(k * _ROLE_SELLERS.get(n, 1.0) for n, k in (*pat_n.items(), *neg_n.items()))
        room = 0.4 * max(30, sellers)
        if background == "synthetic" and need > room:
            f = room / need
            pat_n = {n: (max(1, int(k * f)) if k else 0) for n, k in pat_n.items()}
            neg_n = {n: int(k * f) for n, k in neg_n.items()}
        patterns = {n: Knob(count=k) for n, k in pat_n.items()}
        negatives = {n: Knob(count=k) for n, k in neg_n.items()}
        if background == "bitcoin-alpha":
            # More rings over the data's whole span, as in the held-out real-network check.
            patterns = {n: Knob(count=k.count + (int(r.integers(2, 6)) if n in
                                ("proxy_ring", "wash_ring") else 0))
                        for n, k in patterns.items()}
        return cls(
            seed=seed, scale=scale, days=int(r.integers(14, 36)), sellers=max(30, sellers),
            buyers=max(600, round(sellers * u(15, 50))),
            orders_per_buyer=round(logu(3, 12), 3), review_rate=round(u(0.08, 0.5), 3),
            background=background, spread=background == "bitcoin-alpha",
            adversary="random", world="drawn", market=market, patterns=patterns,
            negatives=negatives)

    def count(self, knob: Knob) -> int:
        if knob.count == 0 or not self.inject:
            return 0
        if self.world == "drawn":
            return knob.count  # drawn counts are absolute
        return max(1, round(knob.count * self.scale))

    def population(self) -> Population:
        m = self.market
        if self.world == "drawn":
            sellers, buyers = self.sellers, self.buyers  # drawn sizes include the scale
        else:
            sellers = max(30, round(self.sellers * self.scale))
            buyers = max(600, round(self.buyers * self.scale))
        return Population(sellers=sellers, buyers=buyers, orders_per_buyer=self.orders_per_buyer,
                          review_rate=self.review_rate,
                          unlinked_review_share=m.unlinked_review_share,
                          new_account_share=m.new_account_share,
                          favourite_share=m.favourite_share,
                          popularity_alpha=m.popularity_alpha, activity_shape=m.activity_shape,
                          favourites_mean=m.favourites_mean,
                          review_concentration=m.review_concentration,
                          household_card_share=m.household_card_share,
                          office_share=m.office_share, cgnat_use=m.cgnat_use,
                          price_sigma=m.price_sigma)

    def stripped_fields(self) -> frozenset[str]:
        """Optional event fields this world's platform does not send."""
        out = set(IDENTIFIER_FIELDS[self.market.identifiers])
        if not self.market.registration:
            out |= {"buyer_registered", "reviewer_registered"}
        if not self.market.texts:
            out.add("text")
        return frozenset(out)

    def with_settings(self, assignments: list[str]) -> Scenario:
        """Apply ``name=value``, ``market.knob=value`` or ``pattern.count=N`` /
        ``pattern.intensity=X`` settings."""
        data: dict[str, Any] = self.model_dump()
        for a in assignments:
            name, sep, value = a.partition("=")
            name = name.strip()
            if not sep or not name:
                raise ScenarioError(f"expected NAME=VALUE, got {a!r}")
            group, dot, knob = name.partition(".")
            if dot and group == "market":
                if knob not in Market.model_fields:
                    raise ScenarioError(f"unknown market setting {knob!r} (one of "
                                        f"{', '.join(Market.model_fields)})")
                data["market"][knob] = value.strip()
            elif dot:
                table = ("patterns" if group in PATTERN_NAMES else
                         "negatives" if group in NEGATIVE_NAMES else None)
                if table is None:
                    known = ", ".join(PATTERN_NAMES + NEGATIVE_NAMES)
                    raise ScenarioError(f"unknown pattern or negative {group!r} (one of {known})")
                if knob not in ("count", "intensity"):
                    raise ScenarioError(f"{name}: only .count and .intensity can be set")
                data[table][group] = {**data[table].get(group, {"count": 0}), knob: value.strip()}
            elif name in ("patterns", "negatives", "market") or name not in Scenario.model_fields:
                raise ScenarioError(f"unknown scenario setting {name!r}")
            else:
                data[name] = value.strip()
        try:
            return Scenario.model_validate(data)
        except ValidationError as err:
            e = err.errors()[0]
            loc = ".".join(str(x) for x in e["loc"] if x not in ("patterns", "negatives"))
            raise ScenarioError(f"{loc}: {e['msg']}") from None
