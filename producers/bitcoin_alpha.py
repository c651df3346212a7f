"""Bitcoin-Alpha as real background traffic: each rating becomes a completed trade.

The data is the who-rated-whom network of the Bitcoin Alpha over-the-counter platform
(2010-11-08 .. 2016-01-22, 24,186 ratings among 3,783 users), from SNAP's soc-sign-bitcoinalpha:
S. Kumar, F. Spezzano, V.S. Subrahmanian, C. Faloutsos, "Edge Weight Prediction in Weighted
Signed Networks", ICDM 2016; user labels (102 fraudulent, 135 benign) from S. Kumar, B. Hooi,
D. Makhija, M. Kumar, C. Faloutsos, V.S. Subrahmanian, "REV2: Fraudulent User Prediction in
Rating Platforms", WSDM 2018. Cite both when reporting figures on it.

Row ``i`` (0-based, in file order) of ``ratings.csv`` becomes an ``order`` ``ba-o-<i>`` (buyer =
rater, seller = ratee, a deterministic synthetic amount, shipped) at a time within the rating's
day, and a ``review`` ``ba-r-<i>`` from the rater of the ratee linking that order, minutes to
hours later. Users are buyers and sellers at once (one namespace, ids as in the data). Each user
gets a synthetic identity of their own (device, card, address, home IP), so injected crews that
share identities are the only sharing, as in the synthetic marketplace without households.

Rating mapping (−10..+10, no 0, to 1..5 stars), chosen from the distribution: +1 is the default
"fine trade" (57% of rows), higher positives are emphatic (37%), negatives are rare (6%) with
−10 ("scammer") the most common of them::

    −10..−5 → 1    −4..−2 → 2    −1 → 3    +1 → 4    +2..+10 → 5

It keeps the sign (≤ 3 negative, ≥ 4 positive), is monotone, and gives 4.0% 1-star, 0.6% 2,
1.8% 3, 56.9% 4 and 36.8% 5 stars.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.random import Generator

from producers.clock import DAY, HOUR, MINUTE, Clock
from producers.identities import Minters
from producers.ledger import IdFormats, Ledger
from producers.marketplace import Account, World

__all__ = ["Ratings", "stars", "STARS", "dataset_dir", "load_ratings", "load_labels",
           "build_world", "ids", "INJECTABLE_NEGATIVES"]

STARS: dict[int, int] = {r: (1 if r <= -5 else 2 if r <= -2 else 3 if r == -1 else 4 if r == 1
                             else 5) for r in range(-10, 11) if r != 0}
# Hard negatives that bring their own traffic; the others reshape organic trade, which here is
# the real data and is left as it is.
# Honest *groups* of repeat buyers (loyal customers, a company's employees) are not injected: in
# this network every pair trades once, so a group of accounts buying again and again from one
# user, all starting together, is what a ring looks like there; the drawn synthetic worlds test
# them against markets where such groups are normal.
INJECTABLE_NEGATIVES = ("popular_seller", "flash_sale", "b2b_bulk", "viral_newcomer",
                        "b2b_trade")


def stars(rating: int) -> int:
    """A Bitcoin-Alpha rating (−10..+10, not 0) as 1..5 stars (see the module docstring)."""
    try:
        return STARS[rating]
    except KeyError:
        raise ValueError(f"not a Bitcoin-Alpha rating: {rating}") from None


def dataset_dir(path: Path | None = None) -> Path:
    """``path``, else ``$CREDENCE_DATASETS/bitcoin-alpha``, else ``../shared/datasets/...``
    beside the repository."""
    if path is not None:
        return path
    env = os.environ.get("CREDENCE_DATASETS")
    if env:
        return Path(env) / "bitcoin-alpha"
    return Path(__file__).resolve().parents[2] / "shared" / "datasets" / "bitcoin-alpha"


@dataclass(frozen=True)
class Ratings:
    rater: list[str]
    ratee: list[str]
    rating: np.ndarray  # int, −10..+10
    day_ms: np.ndarray  # int64 epoch ms of the rating's day

    def __len__(self) -> int:
        return len(self.rater)


def load_ratings(directory: Path) -> Ratings:
    path = directory / "ratings.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return Ratings([r["rater"] for r in rows], [r["ratee"] for r in rows],
                   np.array([int(r["rating"]) for r in rows], dtype=np.int64),
                   np.array([int(r["unix_ts"]) for r in rows], dtype=np.int64) * 1000)


def load_labels(directory: Path) -> dict[str, str]:
    with (directory / "labels.csv").open(newline="") as f:
        return {r["user"]: r["label"] for r in csv.DictReader(f)}


def ids() -> IdFormats:
    return {"order": lambda n: f"ba-o-{n}", "review": lambda n: f"ba-r-{n}",
            "record": lambda n: f"ba-x-{n}"}


def build_world(directory: Path, rng: Generator, id_rng: Generator, *, days: int,
                inject_start: str | None = None, spread: bool = False
                ) -> tuple[World, dict[str, str], int]:
    """A world whose ledger holds the converted ratings and whose clock is the window where
    patterns are injected (default: the data's last ``days`` days; with ``spread``, the data's
    whole span, each injected instance in an episode of its own). Returns the world, the
    labels and the number of rows (the first free id number)."""
    data = load_ratings(directory)
    labels = load_labels(directory)
    n = len(data)
    first_ms, last_ms = int(data.day_ms.min()), int(data.day_ms.max())
    if spread:
        clock = Clock(first_ms + 30 * DAY, int((last_ms - first_ms) // DAY) - 29)
    else:
        clock = Clock(inject_start if inject_start else last_ms + DAY - days * DAY, days)
    ledger = Ledger(first_ms, max(clock.end_ms, last_ms + DAY))
    users = sorted(set(data.rater) | set(data.ratee), key=int)
    shared = Minters.numeric(id_rng, (int(u) for u in users), int(users[-1]) + 1)
    world = World(clock, ledger, Minters(id_rng, account=shared, seller=shared))
    index = {u: i for i, u in enumerate(users)}
    m = len(users)
    first_seen = np.full(m, np.iinfo(np.int64).max)
    given = np.zeros(m)
    received = np.zeros(m)
    star_sum = np.zeros(m)
    r_idx = np.array([index[u] for u in data.rater])
    e_idx = np.array([index[u] for u in data.ratee])
    s = np.array([STARS[int(r)] for r in data.rating.tolist()])
    np.minimum.at(first_seen, r_idx, data.day_ms)
    np.minimum.at(first_seen, e_idx, data.day_ms)
    np.add.at(given, r_idx, 1)
    np.add.at(received, e_idx, 1)
    np.add.at(star_sum, e_idx, s)
    last_seen = np.full(m, np.iinfo(np.int64).min)
    np.maximum.at(last_seen, e_idx, data.day_ms)
    registered = first_seen - (rng.uniform(1, 90, m) * DAY).astype(np.int64)
    price = np.clip(rng.lognormal(np.log(300), 0.9, m), 10, 20000)
    quality = np.clip((np.divide(star_sum, np.maximum(received, 1)) - 1) / 4, 0.05, 0.98)
    sold = received > 0
    sellers = world.add_sellers(rng, int(sold.sum()), registered=registered[sold],
                                price=price[sold], quality=quality[sold],
                                weight=received[sold],
                                ids=[u for u, k in zip(users, sold.tolist(), strict=True) if k])
    world.active = {sl.id: (int(first_seen[index[sl.id]]), int(last_seen[index[sl.id]]))
                    for sl in sellers}
    for sl in sellers:
        if labels.get(sl.id) == "fraudulent":
            sl.role = "labelled-fraudulent"  # never an honest target, victim or negative
    devices, cards = world.ids.device.many(m), world.ids.payment.many(m)
    addresses, ips = world.ids.address.many(m), world.ids.ip.many(m)
    accounts = [Account(u, int(registered[i]), devices[i], cards[i], addresses[i], ips[i],
                        activity=float(given[i])) for i, u in enumerate(users)]
    for a in accounts:
        if labels.get(a.id) == "fraudulent":
            a.role = "labelled-fraudulent"
    world.accounts.extend(accounts)
    # The trade happens some time during the rating's day, the rating right after it.
    order_ts = data.day_ms + (rng.uniform(0, 20, n) * HOUR).astype(np.int64)
    review_ts = order_ts + (rng.uniform(5, 240, n) * MINUTE).astype(np.int64)
    amount = price[e_idx] * rng.lognormal(0, 0.3, n)
    for i in range(n):
        a = accounts[r_idx[i]]
        seller = data.ratee[i]
        oid = f"ba-o-{i}"
        ledger.order(int(order_ts[i]), seller, a.id, float(amount[i]), device=a.device,
                     ip=a.home_ip, payment=a.payment, address=a.address, shipped=True,
                     registered=a.registered_ms, order_id=oid)
        ledger.review(int(review_ts[i]), seller, a.id, int(s[i]), order_id=oid,
                      registered=a.registered_ms, review_id=f"ba-r-{i}")
    return world, labels, n
