"""The ground truth of a simulation (``truth.json``): who manipulated what, when; who was a
victim; which honest behaviour is a hard negative; and, for Bitcoin-Alpha, the users' labels.

Ids are the public ids of the events file. Culprit accounts are the accounts that acted for a
manipulation (puppets, farm reviewers, bombers, brushing accounts, colluding sellers buying); a
review-bombing target is a victim, never a culprit.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict

from credence.contract import iso
from producers.base import FAMILIES, Instance, NegativeName, PatternName
from producers.ledger import Finalized, Ledger

__all__ = ["PatternTruth", "NegativeTruth", "Truth", "build_truth", "write_truth", "read_truth"]

Label = Literal["fraudulent", "benign"]


class _M(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class PatternTruth(_M):
    id: str
    pattern: PatternName
    family: str = ""
    start: str
    end: str
    culprit_sellers: list[str]
    culprit_accounts: list[str]
    victims: list[str]
    order_ids: list[str]
    review_ids: list[str]
    record_ids: list[str]
    camouflage_order_ids: list[str]  # the culprits' cover purchases from honest sellers
    params: dict[str, Any]


class NegativeTruth(_M):
    id: str
    kind: NegativeName
    start: str
    end: str
    sellers: list[str]
    accounts: list[str]
    order_ids: list[str]  # the orders that carry the tempting signal
    review_ids: list[str]
    params: dict[str, Any]


class Truth(_M):
    seed: int
    scale: float
    background: str
    start: str
    end: str
    counts: dict[str, int]
    patterns: list[PatternTruth]
    hard_negatives: list[NegativeTruth]
    culprit_sellers: list[str]
    culprit_accounts: list[str]
    victims: list[str]
    honest_sellers: list[str]
    labels: dict[str, Label]
    world: dict[str, Any] = {}


def _span(ledger: Ledger, refs: list[int], default: tuple[int, int]) -> tuple[str, str]:
    if not refs:
        return iso(default[0]), iso(default[1])
    ts = [ledger.ts_of(r) for r in refs]
    return iso(min(ts)), iso(max(ts))


def _counts(out: Finalized) -> dict[str, int]:
    by_type = Counter(out.types)
    sellers: set[str] = set()
    accounts: set[str] = set()
    sources: Counter[str] = Counter()
    for line, t in zip(out.lines, out.types, strict=True):
        if t == "order" or t == "review":
            ev = orjson.loads(line)
            sellers.add(ev["seller_id"])
            accounts.add(ev["buyer_id"] if t == "order" else ev["reviewer_id"])
        elif t == "record":
            ev = orjson.loads(line)
            sellers.add(ev["seller_id"])
            sources[ev["source"]] += 1
    counts = {"events": len(out.lines), "orders": by_type["order"],
              "refunds": by_type["refund"], "reviews": by_type["review"],
              "records": by_type["record"], "sellers": len(sellers), "accounts": len(accounts)}
    counts.update({f"records_{k}": v for k, v in sorted(sources.items())})
    return counts


def build_truth(*, seed: int, scale: float, background: str, period: tuple[int, int],
                ledger: Ledger, out: Finalized, patterns: list[Instance],
                negatives: list[Instance], labels: dict[str, Label] | None = None,
                world: dict[str, Any] | None = None) -> Truth:
    ids = out.ids

    def pub(refs: list[int]) -> list[str]:
        # Sorted by reference time: ids of one kind are then in event-time order.
        return [ids[r] for r in sorted(refs, key=lambda r: (ledger.ts_of(r), r))]

    p_truth = []
    for p in patterns:
        start, end = _span(ledger, p.orders + p.reviews + p.records, period)
        p_truth.append(PatternTruth(
            id=p.id, pattern=p.name, family=FAMILIES[p.name],  # type: ignore[index]
            start=start, end=end,  # type: ignore[arg-type]
            culprit_sellers=sorted(p.sellers), culprit_accounts=sorted(p.accounts),
            victims=sorted(p.victims), order_ids=pub(p.orders), review_ids=pub(p.reviews),
            record_ids=pub(p.records),
            camouflage_order_ids=pub([r for r in p.camouflage
                                      if ledger.event(r)["type"] == "order"]),
            params=p.params))
    n_truth = []
    for n in negatives:
        start, end = _span(ledger, n.orders + n.reviews, period)
        n_truth.append(NegativeTruth(
            id=n.id, kind=n.name, start=start, end=end,  # type: ignore[arg-type]
            sellers=sorted(n.sellers), accounts=sorted(n.accounts), order_ids=pub(n.orders),
            review_ids=pub(n.reviews), params=n.params))
    culprit_sellers = sorted({s for p in patterns for s in p.sellers})
    culprit_accounts = sorted({a for p in patterns for a in p.accounts})
    victims = sorted({v for p in patterns for v in p.victims})
    counts = _counts(out)
    seen: set[str] = set(out.keys[i] for i, t in enumerate(out.types) if t != "decision")
    bad = set(culprit_sellers) | set(victims)
    honest = sorted(s for s in seen if s not in bad)
    return Truth(seed=seed, scale=scale, background=background, start=iso(period[0]),
                 end=iso(period[1]), counts=counts, patterns=p_truth, hard_negatives=n_truth,
                 culprit_sellers=culprit_sellers, culprit_accounts=culprit_accounts,
                 victims=victims, honest_sellers=honest, labels=dict(labels or {}),
                 world=dict(world or {}))


def write_truth(truth: Truth, path: Path) -> None:
    data = truth.model_dump(mode="json")
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")


def read_truth(path: Path) -> Truth:
    return Truth.model_validate_json(path.read_bytes())
