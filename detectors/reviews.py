"""Per-seller review manipulation: bursts of suspect reviews against the seller's own baseline.

Method. Review spam concentrates in bursts (Fei, Mukherjee, Liu et al., "Exploiting Burstiness
in Reviews for Review Spammer Detection", ICWSM 2013), and within a burst the tell-tale signs are
the behavioural footprints of Mukherjee et al. ("Spotting Opinion Spammers using Behavioral
Footprints", KDD 2013): extreme ratings that deviate from the product's consensus, reviews with
no purchase behind them, fresh accounts, and near-duplicate texts (Jindal & Liu, "Opinion Spam
and Analysis", WSDM 2008), found with MinHash over word shingles (Broder, "On the resemblance and
containment of documents", 1997) and LSH banding (Leskovec, Rajaraman & Ullman, *Mining of
Massive Datasets*, ch. 3).

Adaptation to the stream:

* **Baseline.** Per seller, exponentially decayed counts (half-life ``half_life_ms``) of all
  reviews, of "core suspect" reviews (no known purchase from the seller, or a purchase that is
  hollow: unshipped and tiny) per polarity, and of ratings. A review enters the baseline only
  once it is older than the longest burst window, and never if it belongs to a detected burst,
  so an attack does not teach the baseline that attacks are normal. The rate is the decayed
  count over the decayed exposure since the seller was first seen (a warm-up correction).
* **Burst.** At the end of a tick, for each seller with new suspect reviews and each polarity
  (4-5 stars, 1-2 stars), the number of distinct suspect reviewers in each window of
  ``windows_ms`` is tested against a Poisson with the baseline rate (a floor and a prior share
  of the seller's total rate stand in while the baseline is thin); the most significant window
  wins. Rate alone never fires: significance is multiplied by the burst's *composition*.
* **Composition.** Each review carries a suspicion from its own footprints (no purchase from
  the seller, no purchase anywhere lately, fresh account, near-duplicate of other burst members'
  texts, a core member of another seller's significant burst lately: a farm's pool, an
  account that ordered from a device more of the seller's reviewers ordered from than a
  household shares: a phone farm); the
  burst's composition is the mean over its distinct reviewers. Verified reviews join
  a burst only through near-duplicate texts (a token purchase does not hide a script).
* **Polarity.** A positive burst makes the seller a culprit with its reviewers. A negative burst
  against a seller whose baseline rating is good is review bombing: a `victim` finding (score =
  confidence of the attack) with the bombers as culprit accounts; the target is then shielded
  from this detector's culprit findings for ``victim_protect_ms``.
* **Members.** A member's score is the burst's confidence scaled by its own footprints; a member
  sharing none with the crew (copied text, fresh account, hollow order; for a negative burst
  also no purchase at all) is capped under the blacklist policy's release level, because a
  bystander who posted an unverified review at the wrong time would otherwise be listed by the
  policy's repeated-alerts rule as the episode's alerts go out.
* **Episodes.** Once a burst fires, later suspect reviews of the same polarity join it until it
  has been quiet for ``episode_gap_ms``; its finding is re-emitted when the score grows, when
  members join in number, or at most hourly while they trickle in.

Verification needs orders: the detector keeps the ids of orders (and whether they were hollow)
for ``order_window_ms``, the last day each account bought anything and the last day it bought
from each seller (a review citing no order from an account that bought from the seller lately
is a customer's: a copied text alone does not link it to the crew), in day buckets.
"""

from __future__ import annotations

import math
import re
import sys
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from credence.contract import DAY_MS, HOUR_MS, Event, EventType, Order, Review
from detectors.base import Detector, Finding, bounded, clip01
from detectors.nulls import binomial_least, poisson_tail_nlp

__all__ = ["FakeReviews", "MinHasher"]

_PRIME = (1 << 31) - 1  # Mersenne: a*x + b for a, b, x below it fits in uint64

_STOP = frozenset(
    "a an the and or but is are was were be been being it its this that these those to of in on "
    "for with as at by from i me my we our you your he she they them so very really just".split())
_WORD = re.compile(r"[a-z0-9]+")


class _LastDay:
    """The last day each key was seen, forgotten in day buckets once older than a cutoff."""

    __slots__ = ("last", "_by_day")

    def __init__(self) -> None:
        self.last: dict = {}
        self._by_day: dict[int, list] = {}

    def mark(self, key, day: int) -> None:
        if self.last.get(key, -1) < day:
            self.last[key] = day
            self._by_day.setdefault(day, []).append(key)

    def since(self, key, day: int) -> bool:
        """Whether ``key`` was seen on ``day`` or later."""
        return self.last.get(key, -1) >= day

    def expire(self, cutoff_day: int) -> None:
        for day in sorted(d for d in self._by_day if d < cutoff_day):
            for key in self._by_day.pop(day):
                if self.last.get(key) == day:
                    del self.last[key]

    def __len__(self) -> int:
        return len(self.last)


def _device_key(device: str) -> str:
    # Device ids and account ids share `_bursts`; no account id starts with a NUL.
    return "\0" + device


class MinHasher:
    """MinHash signatures of word-bigram shingles and their LSH band keys (fixed seed).

    Stop words are dropped before shingling so that "A and B" and "A, B" copy the same script.
    """

    def __init__(self, num_perm: int = 64, bands: int = 32, min_tokens: int = 5,
                 seed: int = 20130513) -> None:
        if num_perm % bands:
            raise ValueError("num_perm must be a multiple of bands")
        self.num_perm = num_perm
        self.bands = bands
        self.rows = num_perm // bands
        self.min_tokens = min_tokens
        rng = np.random.default_rng(seed)
        # Universal hashing (a*x + b) mod p with x, a, b < p: the reduction must actually wrap,
        # or every permutation would keep the order of x and pick the same minimum.
        self.a = rng.integers(1, _PRIME, size=num_perm, dtype=np.uint64)
        self.b = rng.integers(0, _PRIME, size=num_perm, dtype=np.uint64)

    def shingles(self, text: str) -> list[int]:
        words = [w for w in _WORD.findall(text.lower()) if w not in _STOP]
        if len(words) < self.min_tokens:
            return []
        return sorted({zlib.crc32(f"{words[i]} {words[i + 1]}".encode()) % _PRIME
                       for i in range(len(words) - 1)})

    def signature(self, text: str) -> np.ndarray | None:
        sh = self.shingles(text)
        if not sh:
            return None
        x = np.asarray(sh, dtype=np.uint64)[:, None]
        return ((self.a[None, :] * x + self.b[None, :]) % np.uint64(_PRIME)).min(axis=0)

    def band_keys(self, sig: np.ndarray) -> list[tuple[int, ...]]:
        v = sig.tolist()
        r = self.rows
        return [(i, *v[i * r:(i + 1) * r]) for i in range(self.bands)]

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.count_nonzero(a == b)) / a.size


@dataclass(slots=True, eq=False)
class _Rev:
    rid: str
    reviewer: str
    ts: int
    rating: int
    pol: int  # +1: 4-5 stars, -1: 1-2 stars, 0: 3 stars
    core: bool  # no purchase from this seller behind it, or only a hollow one
    hollow: bool
    no_purchase: float  # 0..1: no purchase anywhere lately (weighted by the warm-up)
    fresh: float  # 0..1: how fresh the account is
    texted: bool  # has a signature in the seller's text index
    customer: bool  # cites no order, but its author bought from the seller lately
    flagged: bool = False  # member of a detected burst: never enters the baseline
    token: bool = False  # cites an order, but its author orders from a farm's phone (core)


@dataclass(slots=True, eq=False)
class _Episode:
    pol: int
    last: int  # ts of the newest member
    members: dict[str, _Rev] = field(default_factory=dict)  # rid -> review
    strength: float = 0.0
    best: dict[str, float] = field(default_factory=dict)  # figures of the strongest window
    emitted_score: float = -1.0
    emitted_own: float = -1.0  # the same without the seller's earlier episodes
    emitted_members: int = 0
    emitted_ts: int = 0


@dataclass(slots=True, eq=False)
class _Seller:
    first_seen: int
    last_seen: int
    base_t: int = 0  # time the decayed baseline counts refer to
    n_all: float = 0.0
    n_core_pos: float = 0.0
    n_core_neg: float = 0.0
    r_sum: float = 0.0
    r_n: float = 0.0
    recent: deque[_Rev] = field(default_factory=deque)  # every review inside the horizon
    pos: deque[_Rev] = field(default_factory=deque)  # suspect or texted 4-5 star reviews
    neg: deque[_Rev] = field(default_factory=deque)  # suspect or texted 1-2 star reviews
    dirty: set[int] = field(default_factory=set)  # polarities with new core reviews this tick
    # (ts, rid, polarity) in the text index, and how many of each polarity it holds
    texts: deque[tuple[int, str, int]] = field(default_factory=deque)
    n_texts: dict[int, int] = field(default_factory=dict)
    sigs: dict[str, np.ndarray] = field(default_factory=dict)
    buckets: dict[tuple[int, ...], list[str]] = field(default_factory=dict)  # (pol, band, ...)
    nbrs: dict[str, list[str]] = field(default_factory=dict)  # near-duplicate texts
    episodes: dict[int, _Episode] = field(default_factory=dict)
    victim_until: int = -1
    # (newest member's ts, score) of the seller's closed positive episodes that were reported
    past: deque[tuple[int, float]] = field(default_factory=deque)


class FakeReviews(Detector):
    """Review bursts per seller: positive ones incriminate the seller, negative ones protect it.

    Parameters (constructor keywords, defaults in brackets):

    * ``half_life_ms`` [7 days]: half-life of the per-seller baseline.
    * ``windows_ms`` [1 h, 6 h, 24 h]: burst windows; the longest is the baseline lag.
    * ``min_burst`` [3]: distinct suspect reviewers a burst needs.
    * ``min_nlp`` [4.0], ``full_nlp`` [6.0]: -log10 Poisson tail where a burst starts to count and
      where it counts fully.
    * ``prior_share`` [0.1], ``floor_per_day`` [0.5]: the suspect rate assumed at least (share of
      the seller's total rate; absolute floor), for thin baselines.
    * ``order_window_ms`` [15 days]: how long order ids are remembered for verification.
    * ``hollow_amount`` [5.0 CNY]: an unshipped order this small does not verify a review.
    * ``fresh_ms`` [30 days], ``very_fresh_ms`` [7 days]: account age thresholds.
    * ``text_window_ms`` [72 h], ``max_texts`` [256]: the per-seller near-duplicate index.
    * ``num_perm`` [64], ``bands`` [32], ``dup_threshold`` [0.2], ``min_tokens`` [5]: MinHash
      and LSH (2 rows per band: candidates from Jaccard ~0.15 up, confirmed by the signature).
    * ``w_unverified`` [0.4], ``w_no_purchase`` [0.35], ``w_fresh`` [0.25],
      ``w_very_fresh`` [0.4], ``w_dup`` [0.45]: per-review footprint weights (noisy-OR).
    * ``copy_nlp`` [3.0], ``copy_prior`` [0.05], ``copy_prior_pairs`` [500]: a member's text is a
      copy when it matches so many of the other members' texts that honest texts, matching at
      the rate measured on the traffic (per polarity: each new text against the seller's
      recent ones, decayed with ``half_life_ms``), would do so once in 10^``copy_nlp``; and
      never fewer than two.
    * ``comp_lo`` [0.35], ``comp_hi`` [0.75]: burst composition mapped linearly to 0..1 (an
      unverified review with no other footprint, 0.4, counts a little: issue 10, worlds whose
      platform sends neither texts nor registration dates).
    * ``emit_min`` [0.35]: least score emitted.
    * ``episode_gap_ms`` [24 h]: an episode closes after this long without new members.
    * ``victim_protect_ms`` [30 days]: a bombing target gets no culprit finding from here.
    * ``good_rating`` [3.0]: a baseline mean rating one star above this is fully "good".
    * ``max_members`` [200]: most accounts an episode tracks.
    * ``acct_lo`` [0.42], ``acct_span`` [0.25]: a member's score is the episode's confidence
      times ``sqrt(clip((footprint - acct_lo) / acct_span))``: a lone footprint (0.4-0.45)
      gives little, two or more give most of the confidence.
    * ``loner_cap`` [0.25]: most a member gets that shares no footprint with the crew (copied
      text, fresh account, hollow order; in a negative burst also no purchase at all); kept
      under the blacklist policy's release level.
    * ``w_crew`` [0.45], ``crew_memory_ms`` [14 days]: footprint of a reviewer who was a core
      member of another seller's significant same-polarity suspect burst within the memory, or
      ordered from a device such a member ordered from (a farm working several clients); in
      two or more it also links the member to the crew.
    * ``w_device`` [0.45], ``max_devices`` [4], ``device_crowd`` [3]: footprint of a member
      whose orders (anywhere, within ``order_window_ms``) came from a device that at least
      ``device_crowd`` of the seller's recent reviewers ordered from (a phone farm; a couple
      shares a tablet), which also links it to the crew; the last ``max_devices`` devices of
      an account are kept. A review citing an order from an author on such a device counts as
      unverified: a farm's token purchase verifies nothing (`_unverify_tokens`).
    * ``repeat_weight`` [0.5], ``repeat_memory_ms`` [30 days]: a farm hired for weeks comes
      back in waves, each a separate episode of a few of its accounts (issue 10: four clients of
      one farm on a platform sending no devices drew three episodes each at 0.42-0.79, none
      listed). A positive episode's score adds, by noisy-OR, ``repeat_weight`` times the score
      of each earlier reported positive episode at the seller within the memory: two
      episodes at 0.66 give 0.78, three 0.86. Separate episodes are separate evidence (an
      episode closes after ``episode_gap_ms`` without new members); one long episode never
      reinforces itself, and a burst too weak to be reported on its own is not raised by the
      seller's past.
    """

    name: ClassVar[str] = "fake_reviews"
    observes: ClassVar[frozenset[EventType]] = frozenset({"order", "review"})
    #: findings here are about reviews only (orders serve verification): fusion may treat this
    #: detector as review-based for victim protection
    review_based: ClassVar[bool] = True

    def __init__(self, *, half_life_ms: int = 7 * DAY_MS,
                 windows_ms: tuple[int, ...] = (HOUR_MS, 6 * HOUR_MS, 24 * HOUR_MS),
                 min_burst: int = 3, min_nlp: float = 4.0, full_nlp: float = 6.0,
                 prior_share: float = 0.1, floor_per_day: float = 0.5,
                 order_window_ms: int = 15 * DAY_MS, hollow_amount: float = 5.0,
                 fresh_ms: int = 30 * DAY_MS, very_fresh_ms: int = 7 * DAY_MS,
                 text_window_ms: int = 72 * HOUR_MS, max_texts: int = 256,
                 num_perm: int = 64, bands: int = 32, dup_threshold: float = 0.2,
                 min_tokens: int = 5, w_unverified: float = 0.4, w_no_purchase: float = 0.35,
                 w_fresh: float = 0.25, w_very_fresh: float = 0.4, w_dup: float = 0.45,
                 comp_lo: float = 0.35, comp_hi: float = 0.75, emit_min: float = 0.35,
                 episode_gap_ms: int = 24 * HOUR_MS, victim_protect_ms: int = 30 * DAY_MS,
                 good_rating: float = 3.0, max_members: int = 200, acct_lo: float = 0.42,
                 acct_span: float = 0.25, loner_cap: float = 0.25, w_crew: float = 0.45,
                 crew_memory_ms: int = 14 * DAY_MS, w_device: float = 0.45,
                 max_devices: int = 4, device_crowd: int = 3, repeat_weight: float = 0.5,
                 repeat_memory_ms: int = 30 * DAY_MS, copy_nlp: float = 3.0,
                 copy_prior: float = 0.05, copy_prior_pairs: float = 500.0) -> None:
        self.half_life_ms = half_life_ms
        self.windows_ms = tuple(sorted(windows_ms))
        self.horizon_ms = self.windows_ms[-1]
        self.min_burst = min_burst
        self.min_nlp = min_nlp
        self.full_nlp = full_nlp
        self.prior_share = prior_share
        self.floor_per_day = floor_per_day
        self.order_window_ms = order_window_ms
        self.hollow_amount = hollow_amount
        self.fresh_ms = fresh_ms
        self.very_fresh_ms = very_fresh_ms
        self.text_window_ms = text_window_ms
        self.max_texts = max_texts
        self.dup_threshold = dup_threshold
        self.w_unverified = w_unverified
        self.w_no_purchase = w_no_purchase
        self.w_fresh = w_fresh
        self.w_very_fresh = w_very_fresh
        self.w_dup = w_dup
        self.comp_lo = comp_lo
        self.comp_hi = comp_hi
        self.emit_min = emit_min
        self.episode_gap_ms = episode_gap_ms
        self.victim_protect_ms = victim_protect_ms
        self.good_rating = good_rating
        self.max_members = max_members
        self.acct_lo = acct_lo
        self.acct_span = acct_span
        self.loner_cap = loner_cap
        self.w_crew = w_crew
        self.crew_memory_ms = crew_memory_ms
        self.w_device = w_device
        self.max_devices = max_devices
        self.device_crowd = device_crowd
        self.repeat_weight = repeat_weight
        self.repeat_memory_ms = repeat_memory_ms
        self.copy_nlp = copy_nlp
        self.copy_prior = copy_prior
        self.copy_prior_pairs = copy_prior_pairs
        # polarity -> (texts compared, of them matched, as of ts), decayed with ``half_life_ms``
        self._pairs: dict[int, tuple[float, float, int]] = {}
        # account -> {(polarity, seller): last ts} of the significant suspect bursts it was a
        # core member of, for the crew footprint
        # (and devices, keyed by `_device_key`, that such members ordered from: a phone farm's
        # accounts come and go, its phones stay)
        self._bursts: dict[str, dict[tuple[int, str], int]] = {}
        self._tau = half_life_ms / math.log(2)
        self._hasher = MinHasher(num_perm, bands, min_tokens)
        # order id -> seller (ids of hollow orders also in _hollow); expired by day buckets
        self._orders: dict[str, str] = {}
        self._hollow: set[str] = set()
        self._order_days: dict[int, list[str]] = {}
        # the last day an account bought something real (not hollow), and bought from a seller
        self._bought = _LastDay()
        self._bought_at = _LastDay()
        # account -> device -> last day it ordered from it (its newest ``max_devices``)
        self._devices: dict[str, dict[str, int]] = {}
        self._device_days: dict[int, list[str]] = {}
        self._sellers: dict[str, _Seller] = {}
        self._dirty: set[str] = set()
        # (seller, polarity) of episodes with members not yet in a finding (emission throttled)
        self._held: set[tuple[str, int]] = set()
        self._first_ts: int | None = None
        self._next_sweep = 0

    # ------------------------------------------------------------------ observe

    def observe(self, event: Event) -> None:
        if self._first_ts is None:
            self._first_ts = event.ts
        if isinstance(event, Order):
            self._observe_order(event)
        elif isinstance(event, Review):
            self._observe_review(event)

    def _observe_order(self, e: Order) -> None:
        day = e.ts // DAY_MS
        self._orders[e.order_id] = sys.intern(e.seller_id)
        self._order_days.setdefault(day, []).append(e.order_id)
        if e.device_id:
            devs = self._devices.setdefault(e.buyer_id, {})
            if devs.get(e.device_id, -1) < day:
                self._device_days.setdefault(day, []).append(e.buyer_id)
            devs[e.device_id] = day
            if len(devs) > self.max_devices:
                del devs[min(devs, key=lambda d: (devs[d], d))]
        if not e.shipped and e.amount <= self.hollow_amount:
            self._hollow.add(e.order_id)
            return
        self._bought.mark(e.buyer_id, day)
        self._bought_at.mark((e.buyer_id, sys.intern(e.seller_id)), day)

    def _observe_review(self, e: Review) -> None:
        sid = sys.intern(e.seller_id)
        s = self._sellers.get(sid)
        if s is None:
            s = self._sellers[sid] = _Seller(first_seen=e.ts, last_seen=e.ts, base_t=e.ts)
        s.last_seen = max(s.last_seen, e.ts)
        pol = 1 if e.rating >= 4 else -1 if e.rating <= 2 else 0
        oid = e.order_id
        verified = oid is not None and self._orders.get(oid) == sid
        # A review citing no order from an account that bought here lately is a customer's:
        # many never cite the order (it stays unverified: a farm buys a token once and then
        # reviews again and again).
        lately = (e.ts - self.order_window_ms) // DAY_MS
        customer = oid is None and self._bought_at.since((e.reviewer_id, sid), lately)
        hollow = verified and oid in self._hollow
        core = not verified or hollow
        warm = min(1.0, (e.ts - (self._first_ts or e.ts)) / self.order_window_ms)
        bought = self._bought.since(e.reviewer_id, lately)
        fresh = 0.0
        if e.reviewer_registered is not None:
            age = e.ts - e.reviewer_registered
            fresh = 1.0 if age < self.very_fresh_ms else 0.5 if age < self.fresh_ms else 0.0
        r = _Rev(rid=e.review_id, reviewer=e.reviewer_id, ts=e.ts, rating=e.rating, pol=pol,
                 core=core, hollow=hollow, no_purchase=0.0 if bought else warm, fresh=fresh,
                 texted=False, customer=customer)
        if e.text and pol != 0:
            r.texted = self._index_text(s, r, e.text)
        s.recent.append(r)
        if pol != 0 and not core and e.reviewer_id in self._devices:
            # A token purchase from a farm's phone verifies nothing (see `_unverify_tokens`).
            s.dirty.add(pol)
            self._dirty.add(sid)
        if pol != 0 and (core or r.texted):
            (s.pos if pol > 0 else s.neg).append(r)
            if core:
                s.dirty.add(pol)
                self._dirty.add(sid)
        # Members join an open episode as they come, even when they alone would not fire.
        ep = s.episodes.get(pol)
        if ep is not None and (core or r.texted):
            self._dirty.add(sid)
            s.dirty.add(pol)

    def _index_text(self, s: _Seller, r: _Rev, text: str) -> bool:
        sig = self._hasher.signature(text)
        if sig is None:
            return False
        cands: set[str] = set()
        keys = self._text_keys(sig, r.pol)
        for key in keys:
            bucket = s.buckets.get(key)
            if bucket:
                cands.update(bucket)
        found = 0
        for other in sorted(cands):
            osig = s.sigs.get(other)
            if osig is not None and MinHasher.similarity(sig, osig) >= self.dup_threshold:
                s.nbrs.setdefault(r.rid, []).append(other)
                s.nbrs.setdefault(other, []).append(r.rid)
                found += 1
        self._count_pairs(r.pol, r.ts, s.n_texts.get(r.pol, 0), found)
        s.sigs[r.rid] = sig
        for key in keys:
            s.buckets.setdefault(key, []).append(r.rid)
        s.texts.append((r.ts, r.rid, r.pol))
        s.n_texts[r.pol] = s.n_texts.get(r.pol, 0) + 1
        if len(s.texts) > self.max_texts:
            self._drop_text(s)
        return True

    def _text_keys(self, sig: np.ndarray, pol: int) -> list[tuple[int, ...]]:
        """LSH band keys within one polarity: a text is compared only with the seller's texts of
        its own polarity (an episode is of one), so what it matches and how many it was
        compared with (the copy null's two counts) are of the same texts."""
        return [(pol, *key) for key in self._hasher.band_keys(sig)]

    def _count_pairs(self, pol: int, ts: int, compared: int, matched: int) -> None:
        """Add one text's comparisons with the seller's texts of its polarity, and how many of
        them matched, to the marketplace's decayed pair counts (the copy null, `_copy_rate`)."""
        seen, hits, t = self._pairs.get(pol, (0.0, 0.0, ts))
        f = math.exp(-max(0, ts - t) / self._tau)
        self._pairs[pol] = (seen * f + compared, hits * f + matched, max(t, ts))

    def _copy_rate(self, pol: int) -> float:
        """The chance that two texts of polarity ``pol`` at one seller match, fitted to the
        traffic (a prior of ``copy_prior`` over ``copy_prior_pairs`` pairs while it is thin)."""
        seen, hits, _ = self._pairs.get(pol, (0.0, 0.0, 0))
        return ((hits + self.copy_prior * self.copy_prior_pairs)
                / (seen + self.copy_prior_pairs))

    def _drop_text(self, s: _Seller) -> None:
        _, rid, pol = s.texts.popleft()
        s.n_texts[pol] -= 1
        sig = s.sigs.pop(rid, None)
        if sig is not None:
            for key in self._text_keys(sig, pol):
                bucket = s.buckets.get(key)
                if bucket is not None:
                    bucket.remove(rid)
                    if not bucket:
                        del s.buckets[key]
        for other in s.nbrs.pop(rid, ()):
            lst = s.nbrs.get(other)
            if lst is not None:
                lst.remove(rid)
                if not lst:
                    del s.nbrs[other]

    # ------------------------------------------------------------------ baseline

    def _decay_to(self, s: _Seller, t: int) -> None:
        if t <= s.base_t:
            return
        f = math.exp(-(t - s.base_t) / self._tau)
        s.n_all *= f
        s.n_core_pos *= f
        s.n_core_neg *= f
        s.r_sum *= f
        s.r_n *= f
        s.base_t = t

    def _age(self, s: _Seller, now: int) -> None:
        """Move reviews older than the horizon into the baseline; trim the burst buffers."""
        cut = now - self.horizon_ms
        while s.recent and s.recent[0].ts < cut:
            r = s.recent.popleft()
            if r.flagged:
                continue
            self._decay_to(s, r.ts)
            s.n_all += 1.0
            s.r_sum += r.rating
            s.r_n += 1.0
            if r.core and r.pol > 0:
                s.n_core_pos += 1.0
            elif r.core and r.pol < 0:
                s.n_core_neg += 1.0
        for dq in (s.pos, s.neg):
            while dq and dq[0].ts < cut:
                dq.popleft()
        tcut = now - self.text_window_ms
        while s.texts and s.texts[0][0] < tcut:
            self._drop_text(s)

    def _rates(self, s: _Seller, now: int, pol: int) -> tuple[float, float]:
        """(suspect rate, total rate) per day, from the baseline as of ``now - horizon``."""
        t_b = now - self.horizon_ms
        self._decay_to(s, t_b)
        span = max(0, t_b - s.first_seen)
        exposure_days = max(1.0, self._tau * (1.0 - math.exp(-span / self._tau)) / DAY_MS)
        n_core = s.n_core_pos if pol > 0 else s.n_core_neg
        return n_core / exposure_days, s.n_all / exposure_days

    def _baseline_mean(self, s: _Seller) -> tuple[float, float]:
        # Shrunk towards 4.0 (the marketplace's typical mean) while the baseline is thin.
        prior_n = 5.0
        return (s.r_sum + 4.0 * prior_n) / (s.r_n + prior_n), s.r_n

    # ------------------------------------------------------------------ evaluate

    def evaluate(self, now: int) -> list[Finding]:
        out: list[Finding] = []
        # Episodes holding back new members are looked at again until their finding goes out.
        held, self._held = self._held, set()
        for sid, pol in sorted(held):
            s = self._sellers.get(sid)
            if s is not None and pol in s.episodes:
                self._dirty.add(sid)
                s.dirty.add(pol)
        for sid in sorted(self._dirty):
            s = self._sellers.get(sid)
            if s is None:
                continue
            self._age(s, now)
            for pol in sorted(s.dirty):  # bombing first: it shields the target
                f = self._evaluate_polarity(sid, s, pol, now)
                if f is not None:
                    out.append(f)
            s.dirty.clear()
        self._dirty.clear()
        if now >= self._next_sweep:
            self._sweep(now)
            self._next_sweep = now + HOUR_MS
        return out

    def _crew(self, r: _Rev, sid: str, now: int) -> int:
        """Other sellers where ``r``'s author, or an account that ordered from one of its
        devices, was a core member of a significant same-polarity suspect burst lately."""
        cutoff = now - self.crew_memory_ms
        sellers = set()
        for who in (r.reviewer, *map(_device_key, self._devices.get(r.reviewer, ()))):
            for (pol, s), t in self._bursts.get(who, {}).items():
                if pol == r.pol and s != sid and t >= cutoff:
                    sellers.add(s)
        return len(sellers)

    def _footprint(self, r: _Rev, dup: bool, crew: int = 0, device: bool = False) -> float:
        keep = 1.0
        if device:
            keep *= 1.0 - self.w_device
        if crew:
            keep *= 1.0 - self.w_crew
        if r.core:
            keep *= 1.0 - self.w_unverified
        keep *= 1.0 - self.w_no_purchase * r.no_purchase
        if r.fresh >= 1.0:
            keep *= 1.0 - self.w_very_fresh
        elif r.fresh > 0:
            keep *= 1.0 - self.w_fresh
        if dup:
            keep *= 1.0 - self.w_dup
        return 1.0 - keep

    def _best_window(self, s: _Seller, pol: int, now: int) -> tuple[float, int, dict[str, float]]:
        dq = s.pos if pol > 0 else s.neg
        core = [r for r in dq if r.core]
        susp_rate, all_rate = self._rates(s, now, pol)
        rate = max(susp_rate, self.prior_share * all_rate, self.floor_per_day)
        best: tuple[float, int, dict[str, float]] = (0.0, 0, {})
        for w in self.windows_ms:
            k = len({r.reviewer for r in core if r.ts >= now - w})
            if k == 0:
                continue
            mu = rate * w / DAY_MS
            nlp = poisson_tail_nlp(k, mu)
            if nlp > best[0]:
                best = (nlp, w, {"count": float(k), "expected": round(mu, 4),
                                 "window_h": w / HOUR_MS, "nlp": round(nlp, 2),
                                 "baseline_per_day": round(rate, 3)})
        return best

    def _members(self, s: _Seller, pol: int, since: int, ep: _Episode | None) -> dict[str, _Rev]:
        dq = s.pos if pol > 0 else s.neg
        members: dict[str, _Rev] = dict(ep.members) if ep is not None else {}
        for r in dq:
            if r.ts >= since and r.core:
                members.setdefault(r.rid, r)
        # Verified reviews join only as near-duplicates of a suspect member's text.
        for r in dq:
            if r.ts >= since and not r.core and r.rid not in members:
                if any(o in members and members[o].core for o in s.nbrs.get(r.rid, ())):
                    members[r.rid] = r
        if len(members) > self.max_members:
            keep = sorted(members.values(), key=lambda x: (x.ts, x.rid))[:self.max_members]
            members = {r.rid: r for r in keep}
        return members

    def _crowded_devices(self, reviewers: set[str]) -> dict[str, set[str]]:
        """The devices at least ``device_crowd`` of ``reviewers`` ordered from, with those
        reviewers. A couple's tablet holds two; a phone farm's phones hold more (issue 10's
        golden case phone_farm_vs_family_tablets listed four couples at two)."""
        holders: dict[str, set[str]] = {}
        for who in reviewers:
            for d in self._devices.get(who, ()):
                holders.setdefault(d, set()).add(who)
        return {d: hs for d, hs in holders.items() if len(hs) >= self.device_crowd}

    def _unverify_tokens(self, s: _Seller, pol: int) -> None:
        """A review citing an order counts as unverified when its author orders from a device
        that at least ``device_crowd`` of the seller's recent reviewers of that polarity order
        from: a phone farm's token purchases (issue 10, held-out world 10018: a farm on twelve
        phones verified half its reviews with token purchases and drew one alert at 0.50 over
        two clients and three waves). Each person has a phone of their own; a couple's tablet
        holds two."""
        tokens = [r for r in s.recent if r.pol == pol and not r.core
                  and r.reviewer in self._devices]
        if not tokens:
            return
        crowded = self._crowded_devices({r.reviewer for r in s.recent if r.pol == pol})
        if not crowded:
            return
        dq = s.pos if pol > 0 else s.neg
        added = False
        for r in tokens:
            if any(d in crowded for d in self._devices[r.reviewer]):
                r.core = r.token = True
                if not any(x is r for x in dq):
                    dq.append(r)
                    added = True
        if added:  # keep the buffer in time order (it is trimmed from the left)
            ordered = sorted(dq, key=lambda x: (x.ts, x.rid))
            dq.clear()
            dq.extend(ordered)

    def _evaluate_polarity(self, sid: str, s: _Seller, pol: int, now: int) -> Finding | None:
        self._unverify_tokens(s, pol)
        ep = s.episodes.get(pol)
        nlp, w, figures = self._best_window(s, pol, now)
        fires = int(figures.get("count", 0)) >= self.min_burst and nlp >= self.min_nlp
        if ep is None and not fires:
            return None
        if pol > 0 and s.victim_until >= now:
            return None  # a bombing target is never incriminated by its reviews
        members = self._members(s, pol, now - (w if fires else self.horizon_ms), ep)
        if not members:
            return None
        if fires:
            # A farm works several clients from one pool (Mukherjee, Liu & Glance, "Spotting
            # Fake Reviewer Groups in Consumer Reviews", WWW 2012): remember who took part in
            # a significant burst here, whatever its composition, so that the same accounts in
            # another client's burst carry the crew's footprint there (issue 10: a farm with
            # no texts, on a platform without registration dates, showed nothing else).
            key = (pol, sid)
            for r in members.values():
                if r.core and r.ts >= now - w:
                    self._bursts.setdefault(r.reviewer, {})[key] = r.ts
                    for d in self._devices.get(r.reviewer, ()):
                        self._bursts.setdefault(_device_key(d), {})[key] = r.ts
        strength = 0.0
        if fires:
            strength = clip01((nlp - self.min_nlp + 1.0) / (self.full_nlp - self.min_nlp + 1.0))
        cand = ep if ep is not None else _Episode(pol=pol, last=0)
        if strength > cand.strength:
            cand.strength, cand.best = strength, figures
        cand.members = members
        cand.last = max(r.ts for r in members.values())
        finding, score = self._finding(sid, s, cand, now)
        if ep is None:
            if score < self.emit_min:
                return None  # not an episode: its reviews may still teach the baseline
            s.episodes[pol] = cand
        for r in members.values():
            r.flagged = True
        return finding

    def _finding(self, sid: str, s: _Seller, ep: _Episode, now: int
                 ) -> tuple[Finding | None, float]:
        """The episode's finding if it should be (re-)emitted, and its score."""
        mem = sorted(ep.members.values(), key=lambda r: (r.ts, r.rid))
        texted = [r for r in mem if r.texted]
        # A copied script links most members to several others; honest texts built from common
        # phrases collide in pairs now and then, rarely in triangles: a copy needs two others,
        # so an episode with fewer than three texts has none (held-out world 11319 of issue 10:
        # a customer's text echoed the one other text in a text-less farm's wave and listed
        # its author at 0.81; the pair counted when the need fell to the texts there less one).
        # How many of the other texted members a copy must match: as many as honest texts,
        # matching by their common phrases at the rate measured on the traffic, reach by chance
        # only once in 10^copy_nlp (held-out world 11405 of issue 10: a farm writing in the
        # customers' own phrases drew four texts sharing "second time buying here"; a customer
        # who had written that phrase the day before matched all four and was listed at 0.90).
        need = max(2, binomial_least(len(texted) - 1, self._copy_rate(ep.pol), self.copy_nlp))
        ids = set(ep.members)
        dup = {r.rid for r in texted if sum(o in ids for o in s.nbrs.get(r.rid, ())) >= need}
        # A phone farm's accounts order (camouflage, token purchases) from a handful of devices;
        # each person has a phone of their own (issue 10: farms on shared devices, with token
        # purchases and no texts, showed nothing else). The farm's verified reviewers (token
        # purchases) are not members but count as company: every reviewer of the seller lately,
        # of the episode's polarity.
        crowded = self._crowded_devices(
            {r.reviewer for r in mem} | {r.reviewer for r in s.recent if r.pol == ep.pol})
        shared = {a for hs in crowded.values() for a in hs}
        on_shared = {r.reviewer for r in mem} & shared
        # One vote per reviewer: the most suspicious of their reviews in the episode.
        per: dict[str, float] = {}
        linked: set[str] = set()  # reviewers with a footprint shared with the crew
        marked: set[str] = set()  # reviewers with a mark of the crew (below)
        bare: set[str] = set()  # reviewers whose mark is only an unverified, lone review
        crews: dict[str, int] = {}
        for r in mem:
            crew = crews[r.reviewer] = max(crews.get(r.reviewer, 0), self._crew(r, sid, now))
            device = r.reviewer in on_shared
            copy = r.rid in dup
            per[r.reviewer] = max(per.get(r.reviewer, 0.0), self._footprint(r, copy, crew, device))
            if copy or r.fresh > 0 or r.hollow or crew or device:
                marked.add(r.reviewer)
            # A customer's own words may echo a farm that copies real reviews (training world
            # 113: a customer who reviewed uncited in the farm's hour was listed on a
            # near-duplicate): a copy links only an account that bought nothing here.
            if r.fresh > 0 or r.hollow or crew >= 2 or device or (copy and not r.customer):
                linked.add(r.reviewer)
            elif r.core and r.no_purchase >= 0.5:
                bare.add(r.reviewer)
        # A review with no purchase behind it from an account that bought nothing lately is
        # itself the crew's signature, whatever the rating (a farm without a script, on a
        # platform that sends neither texts nor registration dates, shows nothing else), unless
        # the crew shows more: where most members carry a mark, a member with none is a
        # bystander who posted at the wrong time.
        if 2 * len(marked) < len(per):
            linked |= bare
        comp = sum(per.values()) / len(per)
        conf = ep.strength * clip01((comp - self.comp_lo) / (self.comp_hi - self.comp_lo))
        base_mean, base_n = self._baseline_mean(s)
        burst_mean = sum(r.rating for r in mem) / len(mem)
        if ep.pol > 0:
            score = conf * (0.8 + 0.2 * clip01(burst_mean - base_mean))
        else:
            score = conf * (0.4 + 0.6 * clip01(base_mean - self.good_rating))
        if score < self.emit_min:
            return None, score
        earlier = [v for t, v in s.past if ep.pol > 0 and now - t <= self.repeat_memory_ms]
        own = score
        for v in earlier:  # the farm's earlier waves here (see ``repeat_weight``)
            score = 1.0 - (1.0 - score) * (1.0 - self.repeat_weight * v)
        # Re-emit when the score grows, when members join in number, or hourly while they trickle
        # in (each new member waits at most an hour for its score).
        joined = len(mem) - ep.emitted_members
        if ep.emitted_score >= 0 and score < ep.emitted_score + 0.05 and not (
                joined >= max(2, 0.2 * ep.emitted_members)
                or (joined > 0 and now - ep.emitted_ts >= HOUR_MS)):
            if joined > 0:
                self._held.add((sid, ep.pol))
            return None, score
        ep.emitted_score = max(ep.emitted_score, score)
        ep.emitted_own = max(ep.emitted_own, own)
        ep.emitted_members = len(mem)
        ep.emitted_ts = now
        # A member's own footprints decide its score. A member that shares none with the crew
        # (no copied text, not a fresh account, no hollow order) may be a bystander who posted
        # an unverified review at the wrong time: it stays under the policy's release level, so
        # being named in several alerts of a long episode never lists it by repetition alone.
        accounts = {}
        for a, v in per.items():
            if a == sid:
                continue
            score_a = conf * clip01((v - self.acct_lo) / self.acct_span) ** 0.5
            if a not in linked:
                score_a = min(score_a, self.loner_cap)
            if score_a >= 0.05:
                accounts[a] = score_a
        n = len(mem)
        evidence: dict[str, object] = {
            "review_ids": bounded(ep.members),
            "reviews": n,
            "reviewers": len(per),
            "unverified_share": round(sum(r.core and not r.hollow for r in mem) / n, 3),
            "hollow_share": round(sum(r.hollow for r in mem) / n, 3),
            "no_purchase_share": round(sum(r.no_purchase >= 0.5 for r in mem) / n, 3),
            "fresh_share": round(sum(r.fresh > 0 for r in mem) / n, 3),
            "duplicate_share": round(len(dup) / n, 3),
            "burst_mean_rating": round(burst_mean, 2),
            "baseline_mean_rating": round(base_mean, 2),
            "baseline_reviews": round(base_n, 1),
            "composition": round(comp, 3),
            "crew_share": round(sum(c > 0 for c in crews.values()) / len(per), 3),
            "shared_device_share": round(len(on_shared) / len(per), 3),
            "token_share": round(sum(r.token for r in mem) / n, 3),
            "episode_score": round(own, 4),
            "earlier_episodes": [round(v, 4) for v in earlier],
            **ep.best,
        }
        reasons = ["review_burst"]
        for key, code, level in (("unverified_share", "unverified", 0.5),
                                 ("hollow_share", "hollow_orders", 0.5),
                                 ("duplicate_share", "duplicate_texts", 0.3),
                                 ("fresh_share", "fresh_accounts", 0.3),
                                 ("no_purchase_share", "no_purchases", 0.5),
                                 ("crew_share", "farm_crew", 0.3),
                                 ("shared_device_share", "shared_devices", 0.3)):
            if evidence[key] >= level:  # type: ignore[operator]
                reasons.append(code)
        if earlier:
            reasons.append("repeated_bursts")
        ts = min(ep.last, now)
        if ep.pol < 0:
            s.victim_until = max(s.victim_until, ts + self.victim_protect_ms)
            summary = (f"Seller {sid} is the target of review bombing: {len(per)} accounts posted "
                       f"{n} reviews averaging {burst_mean:.1f} stars against a baseline of "
                       f"{base_mean:.1f}.")
            return Finding(detector=self.name, seller_id=sid, score=score, ts=ts,
                           summary=summary, accounts=accounts, evidence=evidence,
                           reasons=(*reasons, "review_bombing"), victim=True), score
        summary = (f"Seller {sid} received a burst of {n} reviews averaging {burst_mean:.1f} stars "
                   f"from {len(per)} accounts, {evidence['unverified_share']:.0%} unverified and "
                   f"{evidence['duplicate_share']:.0%} near-duplicates.")
        return Finding(detector=self.name, seller_id=sid, score=score, ts=ts, summary=summary,
                       accounts=accounts, evidence=evidence, reasons=tuple(reasons)), score

    # ------------------------------------------------------------------ expiry

    def _sweep(self, now: int) -> None:
        cutoff = now - self.crew_memory_ms
        for acct in list(self._bursts):
            seen = self._bursts[acct]
            for key in [k for k, t in seen.items() if t < cutoff]:
                del seen[key]
            if not seen:
                del self._bursts[acct]
        cutoff_day = (now - self.order_window_ms) // DAY_MS
        for day in sorted(d for d in self._order_days if d < cutoff_day):
            for oid in self._order_days.pop(day):
                self._orders.pop(oid, None)
                self._hollow.discard(oid)
        for day in sorted(d for d in self._device_days if d < cutoff_day):
            for acct in self._device_days.pop(day):
                devs = self._devices.get(acct)
                if devs is not None:
                    for d in [d for d, last in devs.items() if last < cutoff_day]:
                        del devs[d]
                    if not devs:
                        del self._devices[acct]
        self._bought.expire(cutoff_day)
        self._bought_at.expire(cutoff_day)
        for sid in sorted(self._sellers):
            s = self._sellers[sid]
            for pol in sorted(s.episodes):
                ep = s.episodes[pol]
                if now - ep.last > self.episode_gap_ms:
                    if pol > 0 and ep.emitted_own >= self.emit_min:
                        s.past.append((ep.last, ep.emitted_own))
                    del s.episodes[pol]
            if s.past:
                s.past = deque(x for x in s.past if now - x[0] <= self.repeat_memory_ms)
            idle = now - s.last_seen
            if idle > self.horizon_ms:
                self._age(s, now)
            if (idle > 4 * self.half_life_ms and not s.episodes and not s.past
                    and s.victim_until < now):
                del self._sellers[sid]

    def state_size(self) -> int:
        per_seller = sum(len(s.recent) + len(s.pos) + len(s.neg) + len(s.texts)
                         + sum(len(e.members) for e in s.episodes.values()) + len(s.past) + 1
                         for s in self._sellers.values())
        crews = sum(len(v) for v in self._bursts.values())
        devices = sum(len(v) for v in self._devices.values())
        return (len(self._orders) + len(self._bought) + len(self._bought_at) + per_seller
                + crews + devices)
