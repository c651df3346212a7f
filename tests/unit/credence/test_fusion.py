from __future__ import annotations

from credence.fusion import Fusion
from detectors.base import Finding

DAY = 86_400_000


def _f(det: str, score: float, ts: int = 0, **kw) -> Finding:
    return Finding(detector=det, seller_id="s1", score=score, ts=ts, summary="x.", **kw)


def test_noisy_or_and_decay():
    fu = Fusion(half_life_ms=10 * DAY, memory_floor=1.1)  # no memory: the current evidence
    fu.add(_f("a", 0.5))
    fu.add(_f("b", 0.5))
    assert fu.suspicion("s1", 0).score == 0.75
    assert abs(fu.suspicion("s1", 10 * DAY).score - (1 - 0.75 ** 2)) < 1e-3


def test_suspicion_keeps_the_memory_of_proven_manipulation():
    """Issue 10, class 5: findings decay within weeks, the peak they reached only slowly."""
    fu = Fusion(half_life_ms=10 * DAY, memory_half_life_ms=180 * DAY)
    fu.add(_f("a", 0.9))
    s = fu.suspicion("s1", 90 * DAY)
    assert s.detectors["a"] < 0.01  # the finding itself has long decayed ...
    assert abs(s.score - 0.9 * 0.5 ** 0.5) < 1e-3  # ... its memory halves in 180 days
    fu.expire(4 * 365 * DAY)
    assert "s1" not in fu.peak  # and is forgotten once it has faded (bounded state)


def test_weak_findings_and_priors_leave_no_memory():
    fu = Fusion(half_life_ms=10 * DAY, priors=frozenset({"anomaly"}))
    fu.add(_f("a", 0.3))
    fu.add(_f("anomaly", 0.6))
    assert fu.suspicion("s1", 120 * DAY).score < 0.05


def test_a_prior_alone_stays_below_its_cap_but_amplifies_evidence():
    fu = Fusion(priors=frozenset({"anomaly"}), prior_cap=0.35)
    fu.add(_f("anomaly", 1.0))
    assert fu.suspicion("s1", 0).score == 0.35
    fu.add(_f("a", 0.6))
    assert 0.6 < fu.suspicion("s1", 0).score <= 0.8


def test_victim_findings_protect_the_target_and_blame_the_accounts():
    fu = Fusion(review_detectors=frozenset({"fake_reviews"}))
    touched = fu.add(_f("fake_reviews", 0.9, victim=True, accounts={"u1": 0.9}))
    assert touched == {"u1"} and fu.is_victim("s1", 1)
    fu.add(_f("fake_reviews", 0.9))  # a review-based finding against the victim: ignored
    assert fu.suspicion("s1", 1).score == 0.0
    assert fu.suspicion("u1", 1).score == 0.9
    fu.add(_f("sock_puppets", 0.9))  # other evidence still counts
    assert fu.suspicion("s1", 1).score == 0.9
