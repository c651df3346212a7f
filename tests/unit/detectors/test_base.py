"""`detectors.base` helpers shared by the detectors: the re-emit throttle and the expiry
bookkeeping of indexes and counters."""

from __future__ import annotations

from detectors.base import Finding, count_down, discard_member, reemit_findings


def _f(seller: str, score: float, ts: int, *accounts: str) -> Finding:
    return Finding(detector="t", seller_id=seller, score=score, ts=ts, summary="s.",
                   accounts={a: score for a in accounts})


def test_reemit_findings_holds_back_repeats_until_they_grow_name_someone_new_or_go_stale():
    last: dict = {}
    assert [f.seller_id for f in reemit_findings(last, [_f("a", 0.5, 0, "x"), None])] == ["a"]
    assert reemit_findings(last, [_f("a", 0.51, 10, "x")], refresh_ms=1000) == []
    assert len(reemit_findings(last, [_f("a", 0.51, 20, "x", "y")], refresh_ms=1000)) == 1
    assert len(reemit_findings(last, [_f("a", 0.6, 30, "x")], refresh_ms=1000)) == 1
    assert len(reemit_findings(last, [_f("a", 0.6, 2000, "x")], refresh_ms=1000)) == 1
    assert last["a"][1] == frozenset({"x", "y"})


def test_discard_member_and_count_down_drop_empty_keys():
    index = {"k": {1, 2}}
    discard_member(index, "k", 1)
    assert index == {"k": {2}}
    discard_member(index, "k", 2)
    discard_member(index, "missing", 2)
    assert index == {}
    counts = {"k": 2}
    assert count_down(counts, "k") == 1 and counts == {"k": 1}
    assert count_down(counts, "k") == 0 and counts == {}
    assert count_down(counts, "k") == 0 and counts == {}
