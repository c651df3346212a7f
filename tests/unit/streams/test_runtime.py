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
    rt.stage = rt._unpublished = DetectionStage(rt.s)
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
        snapshot_skipped.append(rt._unpublished is st)
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
    assert len(emitted) == 2 and rt.stage is None and rt._unpublished is None


async def test_no_snapshot_while_a_batchs_outputs_are_being_sent():
    """A revocation between `handle` and the broker's acknowledgement of the outputs would save
    a state past outputs that a kill could then lose: the next owner would start after them."""
    rt = _runtime()
    stage = rt.stage = DetectionStage(rt.s)
    stage.seq_offset = 9
    saved: list[bool] = []

    async def emit(out: Outputs, sinks: dict) -> None:
        before = rt.last_snapshot
        await rt.save_snapshot()  # what on_revoked does; would reach for Redis if it tried
        saved.append(rt.last_snapshot != before)

    def handle(items: list[tuple[int, bytes]]) -> Outputs:
        stage.seq_offset = items[-1][0]
        stage.ticks_closed = 0
        return Outputs()

    rt.emit = emit  # type: ignore[method-assign]
    stage.handle = handle  # type: ignore[method-assign]
    rt.s = rt.s.model_copy(update={"snapshot_seconds": 10**9})
    await rt.detect([SimpleNamespace(message=SimpleNamespace(offset=10, value=b"{}"))], sinks={})
    assert saved == [False] and rt._unpublished is None


# ---------------------------------------------------------------------------- heartbeats
# The fault suite's kill run lost the last ticks' outputs: a heartbeat between a revocation and
# faust's seek read no committed offset, took the earliest as the start of a partition another
# worker had finished, and that partition never counted as caught up again.


class _Seq:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def send(self, key: bytes, value: bytes) -> None:
        from streams.ingest import decode_forward

        self.sent.append(decode_forward(value)[0])


def _heartbeat_runtime(assigned: list[tuple[str, int]], rebalancing: bool = False
                       ) -> tuple[Runtime, list]:
    from faust.types import TP

    rt = _runtime()
    tps = {TP(rt.s.topic(t), p) for t, p in assigned}
    rt.input_topics = {tp.topic for tp in tps}
    rt.app = SimpleNamespace(rebalancing=rebalancing, rebalancing_count=1,  # type: ignore[assignment]
                             consumer=SimpleNamespace(assignment=lambda: tps))
    asked: list = []

    def watermarks(tps_: list, commits_of: list) -> tuple[dict, dict]:
        asked.append(list(commits_of))
        # every partition holds 100 messages; the group committed all of them
        return {tp: (0, 100) for tp in tps_}, {tp: 100 for tp in commits_of}

    rt._watermarks = watermarks  # type: ignore[method-assign]
    return rt, asked


async def test_a_partition_another_worker_finished_is_caught_up():
    rt, asked = _heartbeat_runtime([("orders", 0), ("orders", 1)])
    seq = _Seq()
    await rt.heartbeat(seq)  # type: ignore[arg-type]
    (progress,) = seq.sent
    assert {tp: caught for tp, (_, _, caught) in progress.items()} == \
        {rt.s.topic("orders") + "/0": True, rt.s.topic("orders") + "/1": True}
    await rt.heartbeat(seq)  # type: ignore[arg-type]
    assert asked == [sorted(rt._starts), []]  # the group's commits are asked once


async def test_no_progress_while_the_group_rebalances():
    rt, asked = _heartbeat_runtime([("orders", 0)], rebalancing=True)
    seq = _Seq()
    await rt.heartbeat(seq)  # type: ignore[arg-type]
    assert seq.sent == [] and asked == [] and rt._starts == {}


async def test_a_rebalance_during_the_broker_query_discards_the_answer():
    rt, asked = _heartbeat_runtime([("orders", 0)])
    ask = rt._watermarks

    def watermarks(tps_: list, commits_of: list) -> tuple[dict, dict]:
        rt.app.rebalancing_count += 1  # a revocation began meanwhile
        return ask(tps_, commits_of)

    rt._watermarks = watermarks  # type: ignore[method-assign]
    seq = _Seq()
    await rt.heartbeat(seq)  # type: ignore[arg-type]
    assert seq.sent == [] and rt._starts == {}


def test_a_partition_back_from_another_worker_counts_from_the_groups_commit():
    rt = _runtime()
    ing = rt.ingestor
    ing.next_offset["orders/0"] = 40  # forwarded by this worker before it lost the partition
    caught = ing.progress({"orders/0"}, lambda t, p: 100, lambda t, p: 100)["orders/0"]
    assert caught[0] == 100 and caught[2] is True
    # and a start behind this worker's own figure does not take it back
    assert ing.progress({"orders/0"}, lambda t, p: 100, lambda t, p: 10)["orders/0"][0] == 40
