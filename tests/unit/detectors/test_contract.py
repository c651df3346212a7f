"""The contract every detector keeps (river's test_estimators pattern): parametrized over all."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from credence.contract import Decision, Order, Record, Refund, Review, iso, parse_event
from credence.features import FeatureModel
from credence.store.memory import MemoryStore
from detectors import detector_classes
from detectors.base import Detector, Finding
from tests.unit.detectors import support
from tests.unit.detectors.support import run, snapshot_copy
from tests.unit.detectors.test_anomaly import market

DAY = 86_400_000
T0 = 1_790_000_000_000
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


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


class _Bench:
    """A detector with what it needs to run: the feature store for a prior that reads one."""

    def __init__(self, det: Detector, store: MemoryStore | None = None,
                 model: FeatureModel | None = None) -> None:
        self.det, self.store, self.model = det, store, model

    @classmethod
    def of(cls, det_cls: type[Detector]) -> _Bench:
        det = det_cls()
        bind = getattr(det, "bind", None)
        if bind is None:
            return cls(det)
        store, model = MemoryStore(), FeatureModel(scope="core")
        bind(store, model)  # as the engine does (see test_anomaly)
        return cls(det, store, model)

    def run(self, events: list) -> list[Finding]:
        write: Callable[[object], None] | None = None
        if self.store is not None and self.model is not None:
            store, model = self.store, self.model

            def write(e) -> None:
                store.apply([model.ops(e)])
        return support.run(self.det, events, before_observe=write)

    def clone(self) -> _Bench:
        """What the detection stage's snapshot restores (the store travels with the detector)."""
        det, store = snapshot_copy((self.det, self.store))
        return _Bench(det, store, self.model)


def _fixture(case: str) -> list:
    lines = (FIXTURES / case / "events.jsonl").read_bytes().splitlines()
    return sorted((parse_event(line) for line in lines if line.strip()), key=lambda e: e.ts)


def _positive(name: str) -> list:
    """A stream on which detector ``name`` emits findings: the smallest golden case where it
    alerts in both halves (the snapshot test cuts the stream in two), else the smallest where it
    alerts (the anomaly prior, which alerts in none, gets the market of its own tests)."""
    if name == "anomaly":
        return market()
    fallback = None
    for golden in sorted(FIXTURES.glob("*/expected_alerts.jsonl"),
                         key=lambda p: ((p.parent / "events.jsonl").stat().st_size, p)):
        rows = [orjson.loads(line) for line in golden.read_bytes().splitlines() if line.strip()]
        times = [r["ts"] for r in rows if r["detector"] == name]
        if not times:
            continue
        events = _fixture(golden.parent.name)
        middle = iso(events[len(events) // 2].ts)
        if min(times) < middle < max(times):  # ISO-8601 UTC strings order as times do
            return events
        fallback = fallback or events
    if fallback is not None:
        return fallback
    raise AssertionError(f"no positive stream for detector {name}: add a golden case")


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


@pytest.mark.parametrize("positive", [True, False], ids=["positive", "mixed"])
def test_findings_are_well_formed(det_cls, positive):
    events = _positive(det_cls.name) if positive else _stream()
    found = _Bench.of(det_cls).run(events)
    if positive:
        assert found, f"{det_cls.name} must find something on its positive stream"
    for f in found:
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
    events = _positive(det_cls.name)
    a = _Bench.of(det_cls).run(events)
    b = _Bench.of(det_cls).run(copy.deepcopy(events))
    assert a, f"{det_cls.name} must find something on its positive stream"
    assert [vars(f) for f in a] == [vars(f) for f in b]


def test_state_is_bounded_by_the_window(det_cls):
    """Twice the history must not (nearly) double the state: old state expires."""
    short = det_cls()
    run(short, _stream(n=1500, span_days=40))
    long = det_cls()
    run(long, _stream(n=3000, span_days=80))
    assert long.state_size() <= max(1.5 * short.state_size(), short.state_size() + 500)


def test_state_survives_a_snapshot(det_cls):
    """The detection stage snapshots detector state (`streams.codec`): a snapshot taken mid-stream
    goes on to find what the original finds."""
    events = _positive(det_cls.name)
    cut = len(events) // 2
    bench = _Bench.of(det_cls)
    bench.run(events[:cut])
    clone = bench.clone()
    tail = events[cut:]
    a, b = bench.run(tail), clone.run(tail)
    assert a, f"{det_cls.name} must find something in the second half of its positive stream"
    assert [vars(f) for f in a] == [vars(f) for f in b]


def test_quiet_on_empty_ticks(det_cls):
    det = det_cls()
    assert det.evaluate(T0) == []
