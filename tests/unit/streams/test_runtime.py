"""The detection stage's Kafka-side runtime around a rebalance, without Kafka: a snapshot is never
taken of a stage a catch-up thread is changing, and a batch whose catch-up a revocation
interrupted is still finished on the stage it began with (the fault suite's million-event kill
run: a rebalance during a four-minute catch-up snapshotted the changing state and crashed the
worker with 'dictionary changed size during iteration')."""

from __future__ import annotations

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
    rt.stage = rt._catching_up = DetectionStage(rt.s)
    await rt.save_snapshot()  # would reach for Redis (and fail) if it tried
    assert rt.last_snapshot == 0.0


async def test_a_batch_whose_catch_up_was_revoked_is_finished_on_its_stage():
    rt = _runtime()
    stage = DetectionStage(rt.s)
    stage.seq_offset = 10
    emitted: list[Outputs] = []
    snapshot_skipped: list[bool] = []
    handled: list[list[tuple[int, bytes]]] = []

    async def load_stage() -> DetectionStage:
        return stage

    def catch_up(st: DetectionStage, until: int) -> Outputs:
        # a rebalance arrives meanwhile: on_revoked would snapshot (skipped) and drop the stage
        snapshot_skipped.append(rt._catching_up is st)
        rt.stage = None
        return Outputs()

    async def emit(out: Outputs, sinks: dict) -> None:
        emitted.append(out)

    def handle(items: list[tuple[int, bytes]]) -> Outputs:
        handled.append(items)
        stage.ticks_closed = 0
        return Outputs()

    rt._load_stage = load_stage  # type: ignore[method-assign]
    rt._catch_up = catch_up  # type: ignore[method-assign]
    rt.emit = emit  # type: ignore[method-assign]
    stage.handle = handle  # type: ignore[method-assign]
    rt.s = rt.s.model_copy(update={"snapshot_seconds": 10**9})  # no periodic snapshot here
    batch = [SimpleNamespace(message=SimpleNamespace(offset=50, value=b"{}"))]
    await rt.detect(batch, sinks={})
    assert snapshot_skipped == [True]
    assert handled == [[(50, b"{}")]]  # not dropped: the batch is finished and published
    assert len(emitted) == 2 and rt.stage is None and rt._catching_up is None
