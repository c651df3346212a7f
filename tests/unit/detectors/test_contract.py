"""The contract every detector keeps (river's test_estimators pattern): parametrized over all."""

from __future__ import annotations

import copy
import pickle

import pytest

from credence.contract import Decision, Order, Record, Refund, Review
from detectors import detector_classes
from detectors.base import Detector, Finding
from tests.unit.detectors.support import run

DAY = 86_400_000
T0 = 1_790_000_000_000


def _stream(n: int = 3000, span_days: int = 40) -> list:
    """A deterministic mixed stream touching every event type, with some dense structure."""
    out: list = []
    step = span_days * DAY // n
    for i in range(n):
        ts = T0 + i * step
        s = f"s{i % 17}"
        b = f"b{(i * 7) % 211}"
        k = i % 10
        if k < 6:
            out.append(Order(order_id=f"o{i}", seller_id=s, buyer_id=b, amount=10.0 + i % 90,
                             ts=ts, device_id=f"d{(i * 3) % 97}", ip=f"ip{i % 13}",
                             payment_id=f"p{(i * 5) % 101}", address_id=f"a{i % 89}",
                             tracking_no=None if i % 9 == 0 else f"t{i}",
                             buyer_registered=ts - (i % 400) * DAY))
        elif k < 8:
            out.append(Review(review_id=f"r{i}", seller_id=s, reviewer_id=b, rating=1 + i % 5,
                              ts=ts, order_id=f"o{i - 2}" if i % 3 else None,
                              text=f"good item number {i % 4}"))
        elif k == 8:
            out.append(Refund(order_id=f"o{i - 8}", seller_id=s, amount=5.0, ts=ts))
        else:
            src = ("invoice", "customs", "court", "ipr", "registry")[i % 5]
            out.append(Record(record_id=f"x{i}", seller_id=s, source=src, kind="k",
                              amount=1000.0, ts=ts))
    out.append(Decision(entity_id="s1", entity_type="seller", action="dismiss",
                        inspector="ann", ts=T0 + span_days * DAY))
    return out


CLASSES = detector_classes()


@pytest.fixture(params=CLASSES, ids=[c.name for c in CLASSES])
def det_cls(request) -> type[Detector]:
    return request.param


def test_registry_not_empty():
    assert CLASSES, "no detector registered in detectors.REGISTRY"


def test_names_are_one_word_and_unique():
    names = [c.name for c in CLASSES]
    assert len(set(names)) == len(names)
    for n in names:
        assert n.isidentifier() and n == n.lower() and " " not in n


def test_declares_what_it_observes(det_cls):
    assert det_cls.observes, "observes must name at least one event type"
    assert det_cls.observes <= {"order", "refund", "review", "record", "decision"}


def test_findings_are_well_formed(det_cls):
    det = det_cls()
    events = _stream()
    for f in run(det, events):
        assert isinstance(f, Finding)
        assert f.detector == det_cls.name
        assert 0.0 <= f.score <= 1.0
        assert all(0.0 <= s <= 1.0 for s in f.accounts.values())
        assert all(0.0 <= s <= 1.0 for s in f.sellers.values())
        assert f.summary and f.summary.strip().endswith(".") and "\n" not in f.summary
        for v in f.evidence.values():
            if isinstance(v, list):
                assert len(v) <= 100, "evidence lists must be bounded"
        assert events[0].ts <= f.ts <= events[-1].ts + 60_000


def test_deterministic(det_cls):
    events = _stream()
    a = run(det_cls(), events)
    b = run(det_cls(), copy.deepcopy(events))
    assert [vars(f) for f in a] == [vars(f) for f in b]


def test_state_is_bounded_by_the_window(det_cls):
    """Twice the history must not (nearly) double the state: old state expires."""
    short = det_cls()
    run(short, _stream(n=3000, span_days=40))
    long = det_cls()
    run(long, _stream(n=6000, span_days=80))
    assert long.state_size() <= max(1.5 * short.state_size(), short.state_size() + 500)


def test_state_pickles(det_cls):
    """The detection stage snapshots detector state with pickle."""
    det = det_cls()
    run(det, _stream(n=500, span_days=5))
    clone = pickle.loads(pickle.dumps(det))
    tail = _stream(n=200, span_days=1)
    tail = [e.model_copy(update={"ts": e.ts + 6 * DAY}) for e in tail]
    assert [vars(f) for f in run(det, tail)] == [vars(f) for f in run(clone, tail)]


def test_quiet_on_empty_ticks(det_cls):
    det = det_cls()
    assert det.evaluate(T0) == []
