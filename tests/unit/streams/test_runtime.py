"""The detection stage's Kafka-side runtime around a rebalance, without Kafka: a snapshot is never
taken of a stage a catch-up thread is changing, and a catch-up cut short by a revocation
publishes nothing (found by the fault suite's million-event kill run: a rebalance during a
four-minute catch-up pickled the changing state and crashed the worker)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from config.settings import load
from credence.engine import Outputs
from streams.app import Runtime
from streams.detect import DetectionStage


def _runtime() -> Runtime:
    s = load(None, redis="redis://127.0.0.1:9/0", snapshot_key="k" * 32)  # nothing answers on 9
    return Runtime(s, app=None)  # type: ignore[arg-type]


async def test_no_snapshot_of_a_stage_being_caught_up():
    rt = _runtime()
    rt.stage = rt.catching_up = DetectionStage(rt.s)
    await rt.save_snapshot()  # would reach for Redis (and fail) if it tried
    assert rt.last_snapshot == 0.0


async def test_a_catch_up_cut_short_by_a_revocation_publishes_nothing():
    rt = _runtime()
    stage = DetectionStage(rt.s)
    stage.seq_offset = 10
    emitted: list[Outputs] = []
    snapshots_during: list[bool] = []

    async def load_stage() -> DetectionStage:
        return stage

    def catch_up(st: DetectionStage, until: int) -> Outputs:
        # a rebalance arrives meanwhile: on_revoked snapshots (must be skipped) and drops it
        snapshots_during.append(rt.catching_up is st)
        rt.stage = None
        return Outputs()

    async def emit(out: Outputs, sinks: dict) -> None:
        emitted.append(out)

    rt._load_stage = load_stage  # type: ignore[method-assign]
    rt._catch_up = catch_up  # type: ignore[method-assign]
    rt.emit = emit  # type: ignore[method-assign]
    batch = [SimpleNamespace(message=SimpleNamespace(offset=50, value=b"{}"))]
    await rt.detect(batch, sinks={})
    assert snapshots_during == [True]
    assert emitted == [] and rt.stage is None and rt.catching_up is None
    await asyncio.sleep(0)
