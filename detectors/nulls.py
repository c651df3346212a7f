"""Tail probabilities of what a detector saw under a null model of honest behaviour.

Every detector of issue 10 scores *surprise*: ``nlp = -log10 P(X >= observed)`` under a model
fitted to the traffic it sees (the seller's own baseline, its peers, the market). The helpers
here compute those tails cheaply enough for a per-tick loop, and map an accumulated surprise to
the 0-1 score that fusion and the blacklist policy use.
"""

from __future__ import annotations

import math

__all__ = ["poisson_tail_nlp", "binomial_tail_nlp", "binomial_least", "normal_tail_nlp",
           "significance", "MAX_NLP"]

MAX_NLP = 50.0
_LN10 = math.log(10)


def poisson_tail_nlp(k: int, mu: float) -> float:
    """-log10 P(X >= k) for X ~ Poisson(mu), exact and stable for tiny tails."""
    if k <= 0:
        return 0.0
    mu = max(mu, 1e-12)
    if mu >= k:
        term = math.exp(-mu)
        below = term
        for j in range(1, k):
            term *= mu / j
            below += term
        return min(MAX_NLP, -math.log10(max(1.0 - below, 1e-300)))
    log_first = -mu + k * math.log(mu) - math.lgamma(k + 1)
    total, ratio, j = 1.0, 1.0, k
    while True:
        j += 1
        ratio *= mu / j
        total += ratio
        if ratio < 1e-12 * total:
            break
    return min(MAX_NLP, -(log_first + math.log(total)) / _LN10)


def binomial_tail_nlp(k: int, n: int, p: float, n_max: int | None = None) -> float:
    """A lower bound of -log10 P(X >= k) for X ~ Binomial(n, p): the Chernoff bound
    ``exp(-n KL(k/n || p))`` (Hoeffding 1963). Conservative (it understates the surprise by
    about half a log10 unit at small n), monotone and cheap.

    ``n_max`` caps the sample size the share is judged on (``k`` scaled alike): a null fitted to
    traffic is only approximately right, and without a cap a small difference over thousands of
    orders (a popular seller's buyers) reads as overwhelming evidence."""
    if n <= 0 or k <= 0:
        return 0.0
    if n_max is not None and n > n_max:
        k, n = k * n_max / n, n_max
    p = min(max(p, 1e-9), 1 - 1e-9)
    q = k / n
    if q <= p:
        return 0.0
    if q >= 1.0:
        kl = -math.log(p)
    else:
        kl = q * math.log(q / p) + (1 - q) * math.log((1 - q) / (1 - p))
    return min(MAX_NLP, n * kl / _LN10)


def binomial_least(n: int, p: float, nlp: float) -> int:
    """The least ``k`` with -log10 P(X >= k) >= ``nlp`` for X ~ Binomial(n, p), exactly (the
    small ``n`` of a group's members, where the Chernoff bound above is far too cautious);
    ``n + 1`` when even ``k = n`` is not that surprising."""
    if n <= 0:
        return 1
    p = min(max(p, 1e-12), 1 - 1e-12)
    alpha = 10.0 ** -nlp
    # Top down: P(X >= k) grows as k falls; stop at the first k whose tail is too likely.
    lp, lq = math.log(p), math.log1p(-p)
    tail = 0.0
    for k in range(n, -1, -1):
        tail += math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                         + k * lp + (n - k) * lq)
        if tail > alpha:
            return k + 1
    return 0


def normal_tail_nlp(z: float) -> float:
    """-log10 P(Z >= z) for a standard normal Z (0 for z <= 0)."""
    if z <= 0:
        return 0.0
    return min(MAX_NLP, -math.log10(max(0.5 * math.erfc(z / math.sqrt(2)), 1e-300)))


def significance(nlp: float, full: float, top: float = 0.95) -> float:
    """Map accumulated surprise to a score: 0 at 0, 0.8 at ``full`` (where the blacklist policy
    lists on this evidence alone), approaching ``top``; 0.4 (an alert) at about 0.3 ``full``."""
    if nlp <= 0:
        return 0.0
    scale = full / math.log(top / (top - 0.8))
    return top * (1.0 - math.exp(-nlp / scale))
