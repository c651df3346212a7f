"""Lockstep reviewer groups across sellers, after CopyCatch.

Method. CopyCatch (Beutel, Xu, Guruswami, Palow & Faloutsos, "CopyCatch: Stopping Group Attacks
by Spotting Lockstep Behavior in Social Networks", WWW 2013) looks for near-bipartite cores in
the time-stamped user→page graph: a set of at least ``m`` users and ``n`` pages, each page with a
time centre, such that every user acted on (a share of) the pages within ``Δt`` of their
centres. It finds them by local search from seeds, alternating between the best pages and
centres for the current users and the users that match the current pages and centres, until
the cluster stops changing.

Adaptation to the stream:

* The graph is reviewer → seller, stamped with the review time, kept for ``window_ms`` (edges
  expire in arrival order). Polarity matters: 4-5 star reviews and 1-2 star reviews are separate
  graphs, because the sellers a group praises in lockstep are its clients (culprits) while the
  sellers it attacks in lockstep are targets (victims).
* A *page* is a (seller, time centre) pair, so one client served in several waves gives one page
  per wave; a member must hit pages of at least ``min_user_sellers`` distinct sellers (a flash
  sale's buyers reviewing one shop on one day are one seller, never a group).
* Seeds come from the stream instead of random restarts: at the end of a tick, a seller with
  at least ``seed_users`` reviewers of one polarity within ``2·Δt`` seeds a search from that
  page (at most once per ``research_ms`` per seller and polarity). Every page of a CopyCatch
  cluster is such a burst, so seeding from bursts loses no cluster.
* The local search alternates as in CopyCatch: (1) from the current users' edges, the pages
  (seller, centre) where at least ``min_page_users`` of them fall within ``Δt`` of a centre,
  the centre being the median of their times; (2) the users (anyone, not only the seed's) that
  fall within ``Δt`` of pages of at least ``min_user_sellers`` distinct sellers; (3) pages left
  with too few members are dropped; repeat until stable or ``max_iter``.
* A cluster of at least ``min_users`` members over at least ``min_sellers`` sellers yields one
  finding per seller; verification is ignored (token purchases do not hide a farm).

Significance (issue 10, class 1: the most popular sellers of a power-law market were listed
because heavy reviewers of popular sellers land in the same hour windows by chance). A cluster
is judged against what the market's own traffic predicts, as CopyCatch asks of its clusters: if
reviewers chose sellers and times independently of each other, the members would make up the
same share of a page's reviewers as of all reviews in the window, so a page expects
``share * N_p`` members (``N_p`` its distinct reviewers of that polarity). But the search makes
a user a member *because* it is on pages of two sellers, so on its own pages every member is
there by construction. A member therefore counts on a page only if it would be a member without
that page (pages of ``min_user_sellers`` sellers besides it), or if it is in the cluster's
*core*: its hits on the pages are surprising for its own review volume (had its reviews fallen
on the market's stream at random it would hit ``its reviews * reach / all reviews`` pages, and
the Poisson tail of its hits, less ``log10`` of the reviewers the pages offered to choose from,
reaches ``core_min``). The light reviewers who met twice by chance
drop out; a heavy reviewer counts only where it keeps meeting the group; a farm hand, whose few
reviews are all in the waves, counts from the first wave. The page's surprise is the Poisson
tail of the members that count, minus ``log10(window / 2Δt)`` for the centres the search could
have chosen (a scan statistic), and it counts when at least ``page_min``: hundreds of slightly
crowded pages add nothing. The cluster's surprise is the sum over its counted pages; it is
reported when at least ``min_surprise`` over pages of at least ``min_sellers`` sellers, and
scores through `detectors.nulls.significance` (0.8 at ``full``); a seller's own score is also
bounded by its own pages' surprise (0.8 at ``full_seller``). A member's score is the cluster's
strength scaled by its own surprise (full at ``member_full``); reviewers of a lockstep page who
are not surprising are named at the bystander level (kept under the blacklist policy's release
level).
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections import deque
from dataclasses import dataclass, field
from typing import ClassVar

from credence.contract import DAY_MS, HOUR_MS, MINUTE_MS, Event, EventType, Review
from detectors.base import Detector, Finding, bounded, reemit
from detectors.nulls import poisson_tail_nlp, significance

__all__ = ["Lockstep"]



@dataclass(slots=True, eq=False)
class _Series:
    """One seller's reviews in time order (a list with a moving head, for bisect)."""

    ts: list[int] = field(default_factory=list)
    who: list[str] = field(default_factory=list)
    pol: list[int] = field(default_factory=list)
    rid: list[str] = field(default_factory=list)
    head: int = 0

    def add(self, ts: int, who: str, pol: int, rid: str) -> None:
        i = len(self.ts)
        if i > self.head and self.ts[-1] > ts:  # a late event: keep the series sorted
            i = bisect.bisect_right(self.ts, ts, self.head)
        self.ts.insert(i, ts)
        self.who.insert(i, who)
        self.pol.insert(i, pol)
        self.rid.insert(i, rid)

    def trim(self, cut: int) -> None:
        n = len(self.ts)
        while self.head < n and self.ts[self.head] < cut:
            self.head += 1
        if self.head > 256 and self.head * 2 > n:
            h = self.head
            del self.ts[:h], self.who[:h], self.pol[:h], self.rid[:h]
            self.head = 0

    def __len__(self) -> int:
        return len(self.ts) - self.head

    def span(self, lo: int, hi: int, pol: int) -> list[tuple[int, str, str]]:
        """(ts, reviewer, review id) of polarity ``pol`` with lo <= ts <= hi."""
        i = bisect.bisect_left(self.ts, lo, self.head)
        j = bisect.bisect_right(self.ts, hi, self.head)
        return [(self.ts[k], self.who[k], self.rid[k]) for k in range(i, j) if self.pol[k] == pol]


def _densest(pts: list[tuple[int, str]], width: int) -> tuple[int, int, int]:
    """(distinct users, i, j) of the window ``pts[i:j]`` spanning at most ``width`` with the most
    distinct users; ``pts`` sorted by time. Two pointers, one pass."""
    count: dict[str, int] = {}
    best, best_i, best_j = 0, 0, 0
    i = 0
    for j, (t, u) in enumerate(pts):
        count[u] = count.get(u, 0) + 1
        while t - pts[i][0] > width:
            v = pts[i][1]
            count[v] -= 1
            if not count[v]:
                del count[v]
            i += 1
        if len(count) > best:
            best, best_i, best_j = len(count), i, j + 1
    return best, best_i, best_j


@dataclass(frozen=True, slots=True)
class _Page:
    seller: str
    centre: int


@dataclass(slots=True)
class _Cluster:
    pol: int
    users: dict[str, set[str]]  # member -> distinct sellers hit
    pages: dict[_Page, list[tuple[int, str, str]]]  # page -> reviews within Δt of its centre


class Lockstep(Detector):
    """CopyCatch-style lockstep groups of reviewers over several sellers.

    Parameters (constructor keywords, defaults in brackets):

    * ``window_ms`` [14 days]: how long review edges are kept.
    * ``delta_ms`` [1 h]: Δt, the half-width of a page's time window.
    * ``seed_users`` [5]: reviewers of one polarity within 2·Δt that make a seller a seed.
    * ``research_ms`` [20 min]: least event time between two searches from one seller.
    * ``min_page_users`` [3]: cluster members a page needs.
    * ``min_user_sellers`` [2]: distinct sellers a member must hit.
    * ``min_users`` [5], ``min_sellers`` [2]: the smallest cluster reported.
    * ``max_iter`` [5]: alternations of the local search.
    * ``max_users`` [400]: a search stops growing a cluster beyond this.
    * ``min_surprise`` [4.0]: least total surprise (log10) of a reported cluster.
    * ``full`` [10.0], ``full_seller`` [6.0]: the cluster's and a seller's own surprise at
      which the score reaches 0.8.
    * ``member_full`` [3.0]: a member's surprise at which it gets the cluster's full strength.
    * ``page_min`` [2.0]: a page counts only when its corrected surprise reaches this.
    * ``core_min`` [1.3]: a member is in the cluster's core when the surprise of its hits,
      corrected for the number of reviewers on the pages, reaches this (p < 0.05) ...
    * ``min_core`` [8]: ... and a cluster needs a core this large: the search looks at many
      subsets of reviewers, and a handful of heavy reviewers of the same popular sellers do
      meet by chance.
    * ``bystander`` [0.25]: share of the cluster's strength given to reviewers of a lockstep page
      who hit no other seller of the cluster.
    * ``emit_min`` [0.3]: least seller score emitted.
    """

    name: ClassVar[str] = "lockstep"
    observes: ClassVar[frozenset[EventType]] = frozenset({"review"})

    def __init__(self, *, window_ms: int = 14 * DAY_MS, delta_ms: int = HOUR_MS,
                 seed_users: int = 5, research_ms: int = 20 * MINUTE_MS, min_page_users: int = 3,
                 min_user_sellers: int = 2, min_users: int = 5, min_sellers: int = 2,
                 max_iter: int = 5, max_users: int = 400, min_surprise: float = 4.0,
                 full: float = 10.0, full_seller: float = 6.0, member_full: float = 3.0,
                 page_min: float = 2.0, core_min: float = 1.3, min_core: int = 8,
                 bystander: float = 0.25, emit_min: float = 0.3) -> None:
        self.window_ms = window_ms
        self.delta_ms = delta_ms
        self.seed_users = seed_users
        self.research_ms = research_ms
        self.min_page_users = min_page_users
        self.min_user_sellers = min_user_sellers
        self.min_users = min_users
        self.min_sellers = min_sellers
        self.max_iter = max_iter
        self.max_users = max_users
        self.min_surprise = min_surprise
        self.full = full
        self.full_seller = full_seller
        self.member_full = member_full
        self.page_min = page_min
        self.core_min = core_min
        self.min_core = min_core
        self.bystander = bystander
        self.emit_min = emit_min
        self._series: dict[str, _Series] = {}
        self._by_user: dict[str, deque[tuple[int, str, int]]] = {}
        self._edges: deque[tuple[int, str, str, int]] = deque()  # (ts, reviewer, seller, pol)
        self._n_pol: dict[int, int] = {}  # reviews of each polarity in the window
        self._dirty: set[tuple[str, int]] = set()  # (seller, polarity) with new reviews
        self._pending: set[tuple[str, int]] = set()  # seeds held back by ``research_ms``
        self._last_search: dict[tuple[str, int], int] = {}
        # (seller, polarity) -> (score, accounts, ts) of the last finding emitted
        self._emitted: dict[tuple[str, int], tuple[float, frozenset[str], int]] = {}

    # ------------------------------------------------------------------ observe

    def observe(self, event: Event) -> None:
        if not isinstance(event, Review):
            return
        pol = 1 if event.rating >= 4 else -1 if event.rating <= 2 else 0
        if pol == 0:
            return
        sid, who = event.seller_id, event.reviewer_id
        series = self._series.get(sid)
        if series is None:
            series = self._series[sid] = _Series()
        series.add(event.ts, who, pol, event.review_id)
        self._by_user.setdefault(who, deque()).append((event.ts, sid, pol))
        self._edges.append((event.ts, who, sid, pol))
        self._n_pol[pol] = self._n_pol.get(pol, 0) + 1
        self._dirty.add((sid, pol))

    # ------------------------------------------------------------------ evaluate

    def evaluate(self, now: int) -> list[Finding]:
        self._expire(now)
        out: list[Finding] = []
        done: set[tuple[str, int]] = set()
        pending: set[tuple[str, int]] = set()
        for sid, pol in sorted(self._dirty | self._pending):
            if (sid, pol) in done:
                continue
            series = self._series.get(sid)
            if series is None:
                continue
            recent = series.span(now - 2 * self.delta_ms, now, pol)
            if len({w for _, w, _ in recent}) < self.seed_users:
                continue
            last = self._last_search.get((sid, pol))
            if last is not None and now - last < self.research_ms:
                pending.add((sid, pol))
                continue
            self._last_search[(sid, pol)] = now
            centre = int(statistics.median_low([t for t, _, _ in recent]))
            cluster = self._search(_Page(sid, centre), pol)
            if cluster is None:
                continue
            for page in cluster.pages:
                done.add((page.seller, pol))
            out += self._findings(cluster, now)
        self._dirty.clear()
        self._pending = pending - done
        return out

    def _page_reviews(self, page: _Page, pol: int) -> list[tuple[int, str, str]]:
        series = self._series.get(page.seller)
        if series is None:
            return []
        return series.span(page.centre - self.delta_ms, page.centre + self.delta_ms, pol)

    def _pages_of(self, users: set[str], pol: int) -> list[_Page]:
        """Step (1): pages where at least ``min_page_users`` of ``users`` act within Δt."""
        times: dict[str, list[tuple[int, str]]] = {}
        for u in sorted(users):
            for t, s, p in self._by_user.get(u, ()):
                if p == pol:
                    times.setdefault(s, []).append((t, u))
        pages: list[_Page] = []
        width = 2 * self.delta_ms
        for s in sorted(times):
            pts = sorted(times[s])
            if len({u for _, u in pts}) < self.min_page_users:
                continue
            # Greedy: the window of width 2Δt with most distinct users, then the next, ...
            while len(pts) >= self.min_page_users:
                best, best_i, best_j = _densest(pts, width)
                if best < self.min_page_users:
                    break
                window = pts[best_i:best_j]
                pages.append(_Page(s, int(statistics.median_low([t for t, _ in window]))))
                pts = pts[:best_i] + pts[best_j:]
        return pages

    def _search(self, seed: _Page, pol: int) -> _Cluster | None:
        users = {w for _, w, _ in self._page_reviews(seed, pol)}
        pages: dict[_Page, list[tuple[int, str, str]]] = {}
        members: dict[str, set[str]] = {}
        for _ in range(self.max_iter):
            cand = self._pages_of(users, pol)
            if seed not in cand and not any(p.seller == seed.seller for p in cand):
                cand.append(seed)
            # Step (2): anyone within Δt of pages of enough distinct sellers.
            pages = {p: self._page_reviews(p, pol) for p in cand}
            hits: dict[str, set[str]] = {}
            for p in sorted(pages, key=lambda x: (x.seller, x.centre)):
                for _, w, _ in pages[p]:
                    hits.setdefault(w, set()).add(p.seller)
            members = {u: ss for u, ss in hits.items() if len(ss) >= self.min_user_sellers}
            # Step (3): pages need enough members; members what is left of the pages.
            pages = {p: revs for p, revs in pages.items()
                     if len({w for _, w, _ in revs if w in members}) >= self.min_page_users}
            hits = {}
            for p in sorted(pages, key=lambda x: (x.seller, x.centre)):
                for _, w, _ in pages[p]:
                    if w in members:
                        hits.setdefault(w, set()).add(p.seller)
            members = {u: ss for u, ss in hits.items() if len(ss) >= self.min_user_sellers}
            if not members or len(members) > self.max_users:
                break
            # Grow from everyone on the surviving pages, not only from the members: a member of
            # pages A and B is found only once both are pages, and B may first show up through
            # the reviewers of A that are not members yet.
            frontier = {w for revs in pages.values() for _, w, _ in revs}
            if frontier <= users:
                break
            users |= frontier
        sellers = {p.seller for p in pages}
        if len(members) < self.min_users or len(sellers) < self.min_sellers:
            return None
        return _Cluster(pol=pol, users=members, pages=pages)

    def _significance(self, c: _Cluster) -> tuple[dict[_Page, float], dict[str, float]]:
        """(page → corrected surprise, member → surprise): see the module docstring."""
        # Shares are of all reviews, of either polarity: a crew that posts most of the market's
        # few negative reviews is still a small share of the market's reviewers.
        total = max(1, sum(self._n_pol.values()))
        counts = {u: len(self._by_user.get(u, ())) for u in c.users}
        reviewers = {p: {w for _, w, _ in revs} for p, revs in c.pages.items()}
        reach = sum(len(ws) for ws in reviewers.values())
        hits: dict[str, int] = {}
        for ws in reviewers.values():
            for w in ws & c.users.keys():
                hits[w] = hits.get(w, 0) + 1
        # A member is surprising when its hits on the pages are many for its own review volume:
        # a heavy reviewer of popular sellers hits pages by volume, a farm hand by design.
        # corrected for the reviewers the pages offered: the search chose among them
        candidates = math.log10(max(1, len(set().union(*reviewers.values()))))
        members = {u: max(0.0, poisson_tail_nlp(h, counts[u] * reach / total) - candidates)
                   for u, h in hits.items()}
        core = {u for u, v in members.items() if v >= self.core_min}
        # member → seller → its pages there (for the leave-one-out)
        where: dict[str, dict[str, int]] = {}
        for p, ws in reviewers.items():
            for w in ws & c.users.keys():
                d = where.setdefault(w, {})
                d[p.seller] = d.get(p.seller, 0) + 1
        share = sum(counts.values()) / total  # the members' share of all reviews
        scan = math.log10(max(1.0, self.window_ms / (2 * self.delta_ms)))
        pages: dict[_Page, float] = {}
        for p, ws in reviewers.items():
            inside = 0
            for w in ws & c.users.keys():
                d = where[w]
                alone = len(d) - (d.get(p.seller, 0) == 1)  # sellers it hits without p
                inside += w in core or alone >= self.min_user_sellers
            v = poisson_tail_nlp(inside, share * len(ws)) - scan
            pages[p] = v if v >= self.page_min else 0.0
        return pages, members

    def _findings(self, c: _Cluster, now: int) -> list[Finding]:
        sellers = sorted({p.seller for p in c.pages})
        n_users, n_sellers = len(c.users), len(sellers)
        page_nlp, member_nlp = self._significance(c)
        total = sum(page_nlp.values())
        per_seller = {sid: sum(v for p, v in page_nlp.items() if p.seller == sid)
                      for sid in sellers}
        # CopyCatch's lockstep across pages of several sellers, each page surprising on its own,
        # by a core of surprising members large enough that the search could not have picked it
        # from chance meetings (a handful of heavy reviewers of the same popular sellers).
        core = sum(1 for v in member_nlp.values() if v >= self.core_min)
        if sum(1 for v in per_seller.values() if v > 0) < self.min_sellers \
                or total < self.min_surprise or core < self.min_core:
            return []
        strength = significance(total, self.full)
        # The cluster's newest review is the event that (re)triggers every seller's finding.
        newest = min(now, max(t for revs in c.pages.values() for t, _, _ in revs))
        out: list[Finding] = []
        for sid in sellers:
            score = min(strength, significance(per_seller[sid], self.full_seller))
            if score < self.emit_min:
                continue
            revs = [r for p, rs in c.pages.items() if p.seller == sid for r in rs]
            accounts: dict[str, float] = {}
            for w in sorted({w for _, w, _ in revs}):
                if w == sid:
                    continue
                if w in c.users:
                    # A member's own hits against its own activity: heavy reviewers of popular
                    # sellers hit pages by volume and stay at the bystanders' level.
                    accounts[w] = strength * min(1.0, self.bystander
                                                 + member_nlp.get(w, 0.0) / self.member_full)
                else:
                    # On a lockstep page but no other seller: below the policy's release level,
                    # so repeated alerts alone never list an honest customer of a farm's client.
                    accounts[w] = strength * self.bystander
            ts = newest
            key = (sid, c.pol)
            state = reemit(self._emitted.get(key), score, accounts, ts, keep_max=True)
            if state is None:
                continue
            self._emitted[key] = state
            pages_here = sorted(p.centre for p in c.pages if p.seller == sid)
            evidence = {
                "review_ids": bounded(r for _, _, r in revs),
                "group_sellers": bounded(sellers),
                "group_accounts": bounded(c.users),
                "group_size": n_users,
                "group_sellers_count": n_sellers,
                "pages": len(c.pages),
                "pages_here": len(pages_here),
                "members_here": len({w for _, w, _ in revs if w in c.users}),
                "surprise_log10": round(total, 2),
                "surprise_here_log10": round(per_seller[sid], 2),
                "delta_h": self.delta_ms / HOUR_MS,
            }
            if c.pol > 0:
                summary = (f"Seller {sid} was reviewed in lockstep by a group of {n_users} accounts "
                           f"that also reviewed {n_sellers - 1} other sellers, each within "
                           f"{self.delta_ms // MINUTE_MS} minutes of a common time per seller "
                           f"(chance given the sellers' own review traffic: 1 in "
                           f"10^{total:.0f}).")
                out.append(Finding(detector=self.name, seller_id=sid, score=score, ts=ts,
                                   summary=summary, accounts=accounts, evidence=evidence,
                                   reasons=("lockstep_reviews", "review_farm")))
            else:
                summary = (f"Seller {sid} was attacked in lockstep by a group of {n_users} accounts "
                           f"that also posted negative reviews on {n_sellers - 1} other sellers.")
                out.append(Finding(detector=self.name, seller_id=sid, score=score, ts=ts,
                                   summary=summary, accounts=accounts, evidence=evidence,
                                   reasons=("lockstep_reviews", "review_bombing"), victim=True))
        return out

    # ------------------------------------------------------------------ expiry

    def _expire(self, now: int) -> None:
        cut = now - self.window_ms
        edges = self._edges
        while edges and edges[0][0] < cut:
            _, who, sid, pol = edges.popleft()
            self._n_pol[pol] -= 1
            dq = self._by_user.get(who)
            if dq is not None:
                while dq and dq[0][0] < cut:
                    dq.popleft()
                if not dq:
                    del self._by_user[who]
            series = self._series.get(sid)
            if series is not None:
                series.trim(cut)
                if not len(series):
                    del self._series[sid]
        for key in [k for k, v in self._emitted.items() if v[2] < cut]:
            del self._emitted[key]
        for key in [k for k, t in self._last_search.items() if t < now - self.research_ms]:
            del self._last_search[key]

    def state_size(self) -> int:
        return len(self._edges) + len(self._emitted)
