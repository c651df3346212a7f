"""The scenario: population sizes, period, and count and intensity of every pattern and negative.

`Scenario()` is the default (scale 1.0: about 1,000 sellers, 40,000 buyers, 21 days). ``scale``
multiplies population sizes and instance counts (an instance count set above zero never drops
to zero, so a small scale still shows every pattern); intensities are per instance and unscaled.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from credence.contract import parse_ts
from producers.base import NEGATIVE_NAMES, PATTERN_NAMES
from producers.clock import DEFAULT_START
from producers.marketplace import Population

__all__ = ["Knob", "Scenario", "Background", "ScenarioError", "DEFAULT_PATTERNS",
           "DEFAULT_NEGATIVES"]

Background = Literal["synthetic", "bitcoin-alpha"]


class ScenarioError(ValueError):
    """A scenario setting that does not parse; the message is one line."""


class Knob(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int = Field(ge=0, le=1000)
    intensity: float = Field(1.0, gt=0, le=100)


DEFAULT_PATTERNS: dict[str, Knob] = {
    "wash_ring": Knob(count=4), "circular_trading": Knob(count=2), "slow_wash": Knob(count=2),
    "review_farm": Knob(count=2), "brushing": Knob(count=3), "review_bombing": Knob(count=2),
    "invoice_padding": Knob(count=3), "invoice_without_sales": Knob(count=2),
}
DEFAULT_NEGATIVES: dict[str, Knob] = {
    "flash_sale": Knob(count=2), "b2b_bulk": Knob(count=3), "viral_newcomer": Knob(count=2),
    "digital_goods": Knob(count=3), "campus_ip": Knob(count=1), "loyal_customers": Knob(count=3),
}


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
    patterns: dict[str, Knob] = Field(default_factory=lambda: dict(DEFAULT_PATTERNS))
    negatives: dict[str, Knob] = Field(default_factory=lambda: dict(DEFAULT_NEGATIVES))

    @field_validator("start", "inject_start")
    @classmethod
    def _iso_time(cls, v: str | None) -> str | None:
        if v is not None:
            parse_ts(v)  # ISO 8601 with a zone; raises ValueError with a one-line message
        return v

    def count(self, knob: Knob) -> int:
        if knob.count == 0 or not self.inject:
            return 0
        return max(1, round(knob.count * self.scale))

    def population(self) -> Population:
        return Population(sellers=max(30, round(self.sellers * self.scale)),
                          buyers=max(600, round(self.buyers * self.scale)),
                          orders_per_buyer=self.orders_per_buyer, review_rate=self.review_rate)

    def with_settings(self, assignments: list[str]) -> Scenario:
        """Apply ``name=value`` or ``pattern.count=N`` / ``pattern.intensity=X`` settings."""
        data: dict[str, Any] = self.model_dump()
        for a in assignments:
            name, sep, value = a.partition("=")
            name = name.strip()
            if not sep or not name:
                raise ScenarioError(f"expected NAME=VALUE, got {a!r}")
            group, dot, knob = name.partition(".")
            if dot:
                table = ("patterns" if group in PATTERN_NAMES else
                         "negatives" if group in NEGATIVE_NAMES else None)
                if table is None:
                    known = ", ".join(PATTERN_NAMES + NEGATIVE_NAMES)
                    raise ScenarioError(f"unknown pattern or negative {group!r} (one of {known})")
                if knob not in ("count", "intensity"):
                    raise ScenarioError(f"{name}: only .count and .intensity can be set")
                data[table][group] = {**data[table][group], knob: value.strip()}
            elif name in ("patterns", "negatives") or name not in Scenario.model_fields:
                raise ScenarioError(f"unknown scenario setting {name!r}")
            else:
                data[name] = value.strip()
        try:
            return Scenario.model_validate(data)
        except ValidationError as err:
            e = err.errors()[0]
            loc = ".".join(str(x) for x in e["loc"] if x not in ("patterns", "negatives"))
            raise ScenarioError(f"{loc}: {e['msg']}") from None
