"""The small interface of everything injected into a marketplace: patterns and hard negatives.

A component has a count (instances) and an intensity (volume per instance, 1.0 = default). It may
`prepare` the population before organic trade (e.g. make some sellers digital) and then `inject`
its events, returning one `Instance` per count with what the ground truth must say about it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from numpy.random import Generator

from producers.marketplace import World

__all__ = ["PatternName", "NegativeName", "Instance", "Component", "Pattern", "HardNegative",
           "PATTERN_NAMES", "NEGATIVE_NAMES", "FAMILIES"]

PatternName = Literal["wash_ring", "proxy_ring", "circular_trading", "slow_wash", "review_farm",
                      "brushing", "review_bombing", "invoice_padding", "invoice_without_sales"]
NegativeName = Literal["flash_sale", "b2b_bulk", "viral_newcomer", "digital_goods", "campus_ip",
                       "loyal_customers", "corporate_buyers", "b2b_trade", "popular_seller"]
PATTERN_NAMES: tuple[PatternName, ...] = (
    "wash_ring", "proxy_ring", "circular_trading", "slow_wash", "review_farm", "brushing",
    "review_bombing", "invoice_padding", "invoice_without_sales")
#: pattern → family, the unit of the detection targets (issue 10)
FAMILIES: dict[PatternName, str] = {
    "wash_ring": "wash_trading", "proxy_ring": "wash_trading", "slow_wash": "wash_trading",
    "circular_trading": "wash_trading", "review_farm": "fake_reviews", "brushing": "fake_reviews",
    "review_bombing": "fake_reviews", "invoice_padding": "conjured_records",
    "invoice_without_sales": "conjured_records",
}
NEGATIVE_NAMES: tuple[NegativeName, ...] = (
    "popular_seller", "flash_sale", "b2b_bulk", "viral_newcomer", "digital_goods", "campus_ip",
    "loyal_customers", "corporate_buyers", "b2b_trade")


@dataclass
class Instance:
    """One occurrence of a pattern or hard negative; events are ledger references."""

    id: str
    name: str
    sellers: list[str] = field(default_factory=list)  # culprit sellers / the negative's sellers
    accounts: list[str] = field(default_factory=list)  # culprit / the negative's accounts
    victims: list[str] = field(default_factory=list)
    orders: list[int] = field(default_factory=list)  # manipulated (or characteristic) orders
    reviews: list[int] = field(default_factory=list)
    records: list[int] = field(default_factory=list)
    camouflage: list[int] = field(default_factory=list)  # culprits' cover purchases elsewhere
    params: dict[str, Any] = field(default_factory=dict)

    def add(self, ref: int | None, into: list[int]) -> int | None:
        if ref is not None:
            into.append(ref)
        return ref


class Component(ABC):
    name: ClassVar[str]

    def __init__(self, count: int, intensity: float = 1.0) -> None:
        self.count = count
        self.intensity = intensity
        self.instances: list[Instance] = []

    def prepare(self, world: World, rng: Generator) -> None:  # noqa: B027 - optional hook
        """Change the population before organic trade; most components need not."""

    def inject(self, world: World, rng: Generator) -> list[Instance]:
        for k in range(self.count):
            inst = Instance(f"{self.name}-{k}", self.name,
                            params={"intensity": self.intensity})
            self.instances.append(inst)
            self.build(world, rng, inst)
            _keep_acting(world, inst)
        return self.instances

    @abstractmethod
    def build(self, world: World, rng: Generator, inst: Instance) -> None:
        """Write the events of one instance into the world and fill ``inst``."""


class Pattern(Component):
    """A manipulation: its sellers and accounts are culprits."""


class HardNegative(Component):
    """Honest behaviour that a naive detector would flag."""


def _keep_acting(world: World, inst: Instance) -> None:
    """Truth lists the accounts that acted: drop any that never made it into the events."""
    acted: set[str] = set()
    for ref in inst.orders + inst.reviews + inst.camouflage:
        ev = world.ledger.event(ref)
        acted.add(ev.get("buyer_id") or ev.get("reviewer_id") or "")
    if inst.accounts:
        inst.accounts = [a for a in dict.fromkeys(inst.accounts) if a in acted]
