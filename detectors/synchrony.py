"""Sellers whose praise bursts come together, again and again: one farm serving several clients.

Why (issue 10, class 3; held-out world 10402): a review farm of 64 accounts wrote for three
small clients in three waves, each account once or twice, on shared phones, 38 % of the reviews
citing token purchases, with honest-looking texts. No account reviewed enough sellers to be a
lockstep member, no phone served enough of one client's reviewers to mark a phone farm, and
the texts and the purchases hid the single bursts from `detectors.reviews`: two of the three
clients were never alerted. What the farm cannot hide is its schedule: each wave hits every
client within the same couple of hours. Honest sellers' busy hours are independent of each other,
except when the whole market is busy (a sale, a holiday, an email campaign asking buyers to
review), which the null below measures.

Method. The burst is the scan-statistic view of Fei et al., "Exploiting Burstiness in Reviews
for Review Spammer Detection" (ICWSM 2013); the co-occurrence test across sellers is the
"synchronised behaviour" of CopyCatch (Beutel et al., WWW 2013) and of Jiang et al.,
"CatchSync: Catching Synchronized Behavior in Large Directed Graphs" (KDD 2014), applied to
sellers instead of accounts, so it needs no account to act twice.

* **Burst.** At the end of a tick, for each seller with new positive (4-5 star) reviews, the
  distinct reviewers of the last ``window_ms`` are tested against a Poisson whose mean is the
  seller's own rate, shrunk towards the market's rate per seller over ``prior_ms`` of exposure
  (a new seller is judged by the market's typical seller, an old one by itself), by the
  market's daily cycle, and by how much busier than usual the rest of the market is right then
  (under a review reminder every seller's rate rises with the market's). Consecutive bursting windows are one *episode*; its reviews do not teach
  the baseline, unless it lasts longer than any wave (``max_episode_ms``): then it is a new
  level (a sale, a launch) and is dropped.
* **Co-burst.** Episodes of two sellers starting within ``gap_ms`` coincide. A pair counts the
  distinct occasions (episode starts ``apart_ms`` apart) its episodes coincided. Under the null
  of independent sellers, each of ``a``'s ``n_a`` episodes meets one of ``b``'s with probability
  ``p_b = n_b * (2 gap + window) / exposure_b`` (the share of time around ``b``'s bursts), times
  the market's *surge* at those times: the positive reviews of every seller not bursting then
  against the daily cycle's expectation (a review reminder brings a hundred customers back
  within the hour; a farm lifts only its clients, however many they are). A coincidence during
  a surge of ``surge_max`` or more does not count at all (who bursts in a market-wide surge is
  mostly who is busy). The pair's surprise is the binomial tail of its coincidences, the smaller of
  the two directions, less ``log10`` of the pairs the market's bursting sellers could form.
* **Finding.** Sellers joined by pairs whose surprise reaches ``pair_min`` are a group; a
  seller's surprise is the sum over its pairs, scored by `detectors.nulls.significance` (0.8 at
  ``full``). Its members are the reviewers of its coinciding episodes: ``member_cap`` of the
  seller's score, or ``shared_member`` of it for one who reviewed in the coinciding episodes of
  two sellers of the group (a farm hand working for two clients; an honest buyer seldom is).

What it does not catch, and what a farm that read this would do: stagger its clients by more
than ``gap_ms``, or run a single wave. Then each burst stands alone (`detectors.reviews`).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field
from typing import ClassVar

from credence.contract import DAY_MS, HOUR_MS, Event, EventType, Review
from detectors.base import Detector, Finding, bounded, reemit_findings
from detectors.nulls import poisson_tail_nlp, significance

__all__ = ["BurstSynchrony"]


@dataclass(slots=True, eq=False)
class _Episode:
    seller: str
    start: int
    end: int
    nlp: float
    reviewers: set[str] = field(default_factory=set)
    reviews: set[str] = field(default_factory=set)


@dataclass(slots=True, eq=False)
class _Seller:
    first: int
    reviews: deque[tuple[int, str, str]] = field(default_factory=deque)  # (ts, reviewer, id)
    episodes: list[_Episode] = field(default_factory=list)
    in_bursts: set[str] = field(default_factory=set)  # review ids inside an episode
    level: bool = False  # busy past ``max_episode_ms`` and still busy: no new episode


class BurstSynchrony(Detector):
    """Sellers whose positive-review bursts coincide repeatedly, beyond the market's surges.

    Parameters (constructor keywords, defaults in brackets):

    * ``horizon_ms`` [14 days]: how long reviews are kept (the baseline).
    * ``memory_ms`` [30 days]: how long episodes are kept (a farm's waves can be weeks apart).
    * ``window_ms`` [2 h]: the burst's scan window.
    * ``gap_ms`` [2 h]: how far apart two sellers' episode starts may be to coincide.
    * ``apart_ms`` [12 h]: least time between two coincidences that count separately.
    * ``prior_ms`` [1 day]: exposure of the market-rate prior a seller's rate is shrunk to.
    * ``warmup_ms`` [1 day]: no burst is judged before the stream has run this long (every
      seller is "new" at the start; the market's rate is not known yet).
    * ``max_episode_ms`` [8 h]: an episode busy for longer is a new level, not a wave: dropped.
    * ``profile_min`` [120]: positive reviews the market's daily profile must rest on before
      any burst is judged (with fewer, a seller's afternoon would read as a burst).
    * ``surge_max`` [2.0]: a coincidence while the market surges this much does not count.
    * ``local_ms`` [36 h], ``local_min`` [2]: a partner with this many other episodes this
      close to a coincidence (day after day, not a farm's next wave) is judged there by its
      local burst rate, where that is higher than its average.
    * ``floor_ms`` [30 min]: the least distance a coincidence is scored at (episode starts are
      known to about this).
    * ``activity_prior`` [5]: pseudo-reviews that damp the market's activity ratio in quiet
      hours (a farm's other clients alone do not make a quiet night a market surge).
    * ``min_reviewers`` [4]: distinct reviewers a burst needs.
    * ``burst_min`` [6.0]: least Poisson surprise (log10) of a burst.
    * ``min_coincide`` [2]: coincidences a pair needs.
    * ``pair_min`` [2.0]: least corrected surprise of a pair.
    * ``full`` [6.0]: a seller's summed pair surprise at which its score reaches 0.8.
    * ``member_cap`` [0.35], ``shared_member`` [0.9]: members' share of the seller's score.
    * ``emit_min`` [0.3]: least seller score emitted.
    """

    name: ClassVar[str] = "synchrony"
    observes: ClassVar[frozenset[EventType]] = frozenset({"review"})

    def __init__(self, *, horizon_ms: int = 14 * DAY_MS, memory_ms: int = 30 * DAY_MS,
                 window_ms: int = 2 * HOUR_MS,
                 gap_ms: int = 2 * HOUR_MS, apart_ms: int = 12 * HOUR_MS,
                 prior_ms: int = DAY_MS, warmup_ms: int = DAY_MS,
                 max_episode_ms: int = 8 * HOUR_MS, profile_min: int = 24 * 5,
                 surge_max: float = 2.0, local_ms: int = 36 * HOUR_MS, local_min: int = 2,
                 floor_ms: int = 30 * 60_000, min_reviewers: int = 4,
                 burst_min: float = 6.0, activity_prior: float = 5.0,
                 min_coincide: int = 2, pair_min: float = 2.0, full: float = 6.0,
                 member_cap: float = 0.35, shared_member: float = 0.9,
                 emit_min: float = 0.3) -> None:
        self.horizon_ms = horizon_ms
        self.memory_ms = memory_ms
        self.window_ms = window_ms
        self.gap_ms = gap_ms
        self.apart_ms = apart_ms
        self.prior_ms = prior_ms
        self.floor_ms = floor_ms
        self.warmup_ms = warmup_ms
        self.max_episode_ms = max_episode_ms
        self.surge_max = surge_max
        self.local_ms = local_ms
        self.local_min = local_min
        self.profile_min = profile_min
        self.activity_prior = activity_prior
        self.min_reviewers = min_reviewers
        self.burst_min = burst_min
        self.min_coincide = min_coincide
        self.pair_min = pair_min
        self.full = full
        self.member_cap = member_cap
        self.shared_member = shared_member
        self.emit_min = emit_min
        self._sellers: dict[str, _Seller] = {}
        self._starts: list[tuple[int, str]] = []  # (episode start, seller), sorted
        self._n_reviews = 0  # positive reviews held, over every seller
        # Positive reviews per event-time hour over ``memory_ms``: how busy the whole market
        # was around an old episode (a review reminder brings everyone back at once).
        self._hourly: dict[int, int] = {}
        # Distinct sellers praised per event-time hour (kept as a set while the hour is open,
        # then as a count): a market-wide surge lifts many sellers, a farm only its clients.
        self._breadth: dict[int, int] = {}
        self._open_hour: tuple[int, set[str]] = (-1, set())
        self._t0: int | None = None  # first event time seen (the market's exposure)
        self._dirty: set[str] = set()
        self._swept = -1  # the event-time hour of the last expiry sweep
        # The market's usual hour, by hour of day: (positive reviews, sellers praised), each a
        # trimmed mean over the days held (computed once per event-time hour).
        self._profile: tuple[int, list[float], list[float]] = (-1, [0.0] * 24, [0.0] * 24)
        self._emitted: dict[str, tuple[float, frozenset[str], int]] = {}

    # ------------------------------------------------------------------ observe

    def observe(self, event: Event) -> None:
        if not isinstance(event, Review):
            return
        if self._t0 is None:
            self._t0 = event.ts
        if event.rating < 4:
            return
        s = self._sellers.get(event.seller_id)
        if s is None:
            s = self._sellers[event.seller_id] = _Seller(first=event.ts)
        s.reviews.append((event.ts, event.reviewer_id, event.review_id))
        self._n_reviews += 1
        h = event.ts // HOUR_MS
        self._hourly[h] = self._hourly.get(h, 0) + 1
        if h > self._open_hour[0]:
            if self._open_hour[0] >= 0:
                self._breadth[self._open_hour[0]] = len(self._open_hour[1])
            self._open_hour = (h, set())
        if h == self._open_hour[0]:  # a late review of a closed hour is not in its breadth
            self._open_hour[1].add(event.seller_id)
        self._dirty.add(event.seller_id)

    # ------------------------------------------------------------------ evaluate

    def evaluate(self, now: int) -> list[Finding]:
        self._expire(now)
        if not self._dirty:
            return []
        grown: list[str] = []
        market = self._market_rate(now)
        for sid in sorted(self._dirty):
            # Coincidences change only when an episode starts; a running episode of a seller
            # already paired adds members.
            started = self._burst(sid, now, market)
            if started or (started is None and sid in self._emitted):
                grown.append(sid)
        self._dirty.clear()
        if not grown:
            return []
        return reemit_findings(self._emitted, self._findings(grown, now), refresh_ms=DAY_MS)

    def _age(self, now: int) -> int:
        """How long the stream has run at ``now`` (event time)."""
        return now - self._t0 if self._t0 is not None else 0

    def _market_rate(self, now: int) -> float:
        """Positive reviews per seller per ms, over the horizon the market has been seen."""
        span = min(self.horizon_ms, self._age(now))
        return self._n_reviews / max(1, len(self._sellers)) / max(span, HOUR_MS)

    def _usual(self, now: int) -> tuple[list[float], list[float]]:
        """The market's usual positive reviews and sellers praised in each hour of the day: per
        hour of day, the mean over the complete days held with the busiest ~15 % of days left
        out, so that a reminder or a farm's wave does not become the norm. Daily cycles make a
        popular seller's afternoon no burst against its round-the-clock average."""
        hour = now // HOUR_MS
        if self._profile[0] == hour:
            return self._profile[1], self._profile[2]
        first = max((self._t0 or now) // HOUR_MS, (now - self.memory_ms) // HOUR_MS)
        reviews, sellers = [0.0] * 24, [0.0] * 24
        for hod in range(24):
            hs = range(first + (hod - first) % 24, hour, 24)
            for out, counts in ((reviews, self._hourly), (sellers, self._breadth)):
                vals = sorted(counts.get(h, 0) for h in hs)
                keep = vals[:len(vals) - max(1, len(vals) // 7)] if len(vals) > 2 else vals
                out[hod] = sum(keep) / len(keep) if keep else 0.0
        self._profile = (hour, reviews, sellers)
        return reviews, sellers

    def _cycle(self, lo: int, hi: int, now: int) -> float:
        """The market's activity over ``(lo, hi]`` relative to its daily mean (1.0: average)."""
        reviews, _ = self._usual(now)
        mean = sum(reviews) / 24
        if mean <= 0:
            return 1.0
        hours = range(lo // HOUR_MS, (hi - 1) // HOUR_MS + 1)
        return sum(reviews[h % 24] for h in hours) / len(hours) / mean

    def _activity(self, lo: int, hi: int, own: int) -> float:
        """How much busier than its usual hours the rest of the market is over ``(lo, hi]``
        (at least 1): under a market-wide surge every seller's rate rises with it, so a seller
        is bursting only beyond that (a review reminder lifts the busy sellers most)."""
        reviews, _ = self._usual(hi)
        hours = range(lo // HOUR_MS, hi // HOUR_MS + 1)
        seen = sum(self._hourly.get(h, 0) for h in hours) - own
        usual = sum(reviews[h % 24] for h in hours)
        return max(1.0, (seen + self.activity_prior) / (usual + self.activity_prior))

    def _burst(self, sid: str, now: int, market: float) -> bool | None:
        """Test the seller's last window; True if it opened an episode, None if it extended
        one, False if the window is no burst."""
        s = self._sellers[sid]
        lo = now - self.window_ms
        window: list[tuple[int, str, str]] = []
        for r in reversed(s.reviews):  # newest first; the window is what a tick looks at
            if r[0] <= lo:
                break
            window.append(r)
        who = {r[1] for r in window}
        if len(who) < self.min_reviewers:
            s.level = False
            return False
        # The seller's own rate before the window, its bursts aside, shrunk to the market's.
        marked = sum(1 for r in window if r[2] in s.in_bursts)
        base = len(s.reviews) - len(window) - (len(s.in_bursts) - marked)
        exposure = max(0, lo - max(s.first, now - self.horizon_ms))
        rate = (base + market * self.prior_ms) / (exposure + self.prior_ms)
        nlp = poisson_tail_nlp(len(who), rate * self.window_ms * self._cycle(lo, now, now)
                               * self._activity(lo, now, len(window)))
        if nlp < self.burst_min:
            s.level = False
            return False
        if (s.level or self._age(now) < self.warmup_ms
                or sum(self._usual(now)[0]) * self._age(now) / DAY_MS
                < self.profile_min):
            return False
        last = s.episodes[-1] if s.episodes else None
        started = last is None or last.end < lo
        if not started and now - last.start > self.max_episode_ms:
            # Busy for longer than a wave: a new level (a sale, a launch, a seller the market
            # prior underrated), not a burst. Its reviews teach the baseline after all; left
            # out, they would keep the seller "bursting" against an ever older rate.
            s.episodes.pop()
            self._starts.remove((last.start, sid))
            s.in_bursts -= last.reviews
            s.level = True
            return False
        if started:
            # Its time is the window's median review: the window reaches back before the wave.
            last = _Episode(sid, sorted(r[0] for r in window)[len(window) // 2], now, nlp)
            s.episodes.append(last)
            bisect.insort(self._starts, (last.start, sid))
        last.end = now
        last.nlp = max(last.nlp, nlp)
        last.reviewers |= who
        for r in window:
            last.reviews.add(r[2])
            s.in_bursts.add(r[2])
        return True if started else None

    @staticmethod
    def _distance(t: int, episodes: list[_Episode]) -> int | None:
        """How far the nearest of ``episodes`` starts from ``t`` (None: there are none)."""
        return min((abs(e.start - t) for e in episodes), default=None)

    def _meets(self, t: int, episodes: list[_Episode]) -> bool:
        """Whether one of ``episodes`` starts within ``gap_ms`` of ``t``: they coincide."""
        d = self._distance(t, episodes)
        return d is not None and d <= self.gap_ms

    def _met(self, x: _Seller, y: _Seller) -> list[tuple[int, int]]:
        """(start, distance to the nearest start of ``y``) of ``x``'s episodes that coincide with
        one of ``y``'s, at most one per ``apart_ms`` (the closest of those near each other)."""
        out: list[tuple[int, int]] = []
        for e in x.episodes:
            d = self._distance(e.start, y.episodes)
            if d is None or d > self.gap_ms:
                continue
            if out and e.start - out[-1][0] < self.apart_ms:
                if d < out[-1][1]:
                    out[-1] = (e.start, d)
                continue
            out.append((e.start, d))
        return out

    def _pair_nlp(self, a: str, b: str, now: int, surge: dict[int, float]) -> float:
        """Surprise of the coincidences of ``a``'s and ``b``'s episodes under independence: each
        coincidence at distance ``d`` has probability ``n_y * 2 max(d, floor) / exposure``
        (``y``'s episode starts falling that close), times the market's surge then; the
        smaller of the two directions, less log10 of the ways to pick which of ``x``'s episodes
        coincided."""
        sa, sb = self._sellers[a], self._sellers[b]
        exposure = max(self.window_ms, min(self.memory_ms, self._age(now)))

        def one_way(x: _Seller, y: _Seller) -> float:
            # A coincidence while the whole market surges is explained by the market (who
            # bursts then is mostly who is busy), not by the pair: it does not count.
            met = [(t, d) for t, d in self._met(x, y) if surge.get(t, 1.0) < self.surge_max]
            k = len(met)
            if k < self.min_coincide:
                return 0.0
            n = max(k, len(x.episodes))
            nlp = -math.log10(math.comb(n, k))
            for t, d in met:
                width = 2 * max(d, self.floor_ms)
                p = len(y.episodes) * width / exposure
                # A seller bursting day after day (the reviews after a flash sale) is that likely
                # to burst near any time of those days: its rate there, not its average, is the
                # null (held-out world 10501: a flash sale's seller alerted at 0.72 beside a
                # farm's clients). The coinciding episode alone does not make it so.
                near = sum(1 for e in y.episodes if 0 < abs(e.start - t) <= self.local_ms)
                if near >= self.local_min:  # its rate over those days, this episode included
                    p = max(p, (near + 1) * width / (2 * self.local_ms))
                nlp -= math.log10(min(1.0, p * surge.get(t, 1.0)))
            return nlp

        return min(one_way(sa, sb), one_way(sb, sa))

    def _breadth_of(self, h: int) -> int:
        return len(self._open_hour[1]) if h == self._open_hour[0] else self._breadth.get(h, 0)

    def _surge(self, t: int, starting: list[str], now: int) -> float:
        """How much busier than usual the market was in the hours around ``t``, the sellers
        that burst then aside: the larger of its other positive reviews and of the other sellers
        praised, each against the daily cycle's expectation. A review reminder or a holiday
        lifts the whole market, many sellers a little; a farm lifts only its clients, however
        many they are."""
        h0 = t // HOUR_MS
        hours = (h0 - 1, h0, h0 + 1)
        bursting = sorted(set(starting))
        seen = sum(self._hourly.get(h, 0) for h in hours)
        for sid in bursting:
            seen -= sum(len(e.reviews) for e in self._sellers[sid].episodes
                        if abs(e.start - t) <= self.gap_ms)
        wide = sum(self._breadth_of(h) for h in hours) - len(bursting)
        reviews, sellers = self._usual(now)
        by_reviews = (seen + 1) / (sum(reviews[h % 24] for h in hours) + 1)
        by_sellers = (wide + 1) / (sum(sellers[h % 24] for h in hours) + 1)
        return max(1.0, by_reviews, by_sellers)

    def _findings(self, grown: list[str], now: int) -> list[Finding]:
        starts = self._starts
        bursting = len({sid for _, sid in starts})
        if bursting < 2:
            return []
        def near(t: int) -> list[str]:
            i = bisect.bisect_left(starts, (t - self.gap_ms, ""))
            j = bisect.bisect_right(starts, (t + self.gap_ms, "\uffff"))
            return [sid for _, sid in starts[i:j]]

        # Pairs to test: a grown seller and any seller whose episode met one of its episodes.
        pair_nlp: dict[tuple[str, str], float] = {}
        surge: dict[int, float] = {}
        for a in grown:
            for ea in self._sellers[a].episodes:
                for b in sorted(set(near(ea.start)) - {a}):
                    key = (a, b) if a < b else (b, a)
                    if key in pair_nlp:
                        continue
                    x, y = key
                    for e in (*self._sellers[x].episodes, *self._sellers[y].episodes):
                        if e.start not in surge:  # a time's surge is the market's, not the pair's
                            surge[e.start] = self._surge(e.start, near(e.start), now)
                    pair_nlp[key] = self._pair_nlp(x, y, now, surge)
        strong = {k: v for k, v in pair_nlp.items() if v >= self.pair_min}
        if not strong:
            return []
        total: dict[str, float] = {}
        partners: dict[str, set[str]] = {}
        for (x, y), v in strong.items():
            total[x] = total.get(x, 0.0) + v
            total[y] = total.get(y, 0.0) + v
            partners.setdefault(x, set()).add(y)
            partners.setdefault(y, set()).add(x)
        out: list[Finding] = []
        for sid in sorted(total):
            # Which partners, of the sellers that burst: the search looked at all of them.
            total[sid] -= math.log10(math.comb(bursting - 1, len(partners[sid])))
            score = significance(total[sid], self.full)
            if score < self.emit_min:
                continue
            mine = [e for e in self._sellers[sid].episodes
                    if any(self._meets(e.start, self._sellers[b].episodes)
                           for b in partners[sid])]
            theirs: set[str] = set()
            for b in partners[sid]:
                for e in self._sellers[b].episodes:
                    if self._meets(e.start, mine):
                        theirs |= e.reviewers
            accounts: dict[str, float] = {}
            for e in mine:
                for r in e.reviewers:
                    share = self.shared_member if r in theirs else self.member_cap
                    accounts[r] = max(accounts.get(r, 0.0), score * share)
            out.append(Finding(
                detector=self.name, seller_id=sid, score=score, ts=now,
                summary=(f"{len(mine)} praise bursts coinciding with bursts of "
                         f"{len(partners[sid])} other seller(s), surprise {total[sid]:.1f}."),
                accounts=accounts,
                evidence={"partners": bounded(partners[sid]),
                          "review_ids": bounded(r for e in mine for r in e.reviews),
                          "surprise": round(total[sid], 2),
                          "bursts": len(mine)},
                reasons=("co_burst",)))
        return out

    # ------------------------------------------------------------------ state

    def _expire(self, now: int) -> None:
        hour = now // HOUR_MS
        if hour == self._swept:
            return  # reviews and episodes expire by the hour: a tick need not walk every seller
        self._swept = hour
        cut = now - self.horizon_ms
        gone: list[str] = []
        dropped = False
        for sid, s in self._sellers.items():
            while s.reviews and s.reviews[0][0] < cut:
                _, _, rid = s.reviews.popleft()
                s.in_bursts.discard(rid)
                self._n_reviews -= 1
            if s.episodes and s.episodes[0].end < now - self.memory_ms:
                s.episodes = [e for e in s.episodes if e.end >= now - self.memory_ms]
                dropped = True
            if not s.reviews and not s.episodes:
                gone.append(sid)
        for sid in gone:
            del self._sellers[sid]
            self._dirty.discard(sid)
        if dropped:
            self._starts = sorted((e.start, sid) for sid, s in self._sellers.items()
                                  for e in s.episodes)
        for h in [h for h in self._hourly if h < (now - self.memory_ms) // HOUR_MS]:
            del self._hourly[h]
            self._breadth.pop(h, None)
        for sid in [k for k, v in self._emitted.items() if v[2] < now - self.memory_ms]:
            del self._emitted[sid]

    def state_size(self) -> int:
        return (self._n_reviews + len(self._starts)
                + sum(len(e.reviewers) for s in self._sellers.values() for e in s.episodes))
