"""The faust app: thin agents around the core (docs/architecture.md).

* ``ingest`` (stage A) consumes ``orders``, ``reviews``, ``records`` and ``decisions`` on every
  worker, in micro-batches (``stream.take_events``), and calls `streams.ingest.Ingestor`: dead
  letters out, one Redis Lua call for the features, one forward to the sequenced topic.
* ``detect`` (stage B) consumes the single-partition sequenced topic, so exactly one worker runs
  it at a time, and calls `streams.detect.DetectionStage`; it publishes alerts, blacklist entries
  and credit scores, writes the Redis views, and snapshots its state.

Why a repartition to one partition and not a shared Redis structure for the cross-seller
detectors: sock-puppet clusters, circular trades and review farms span sellers on every
partition; graph algorithms (peeling, union-find, cycle search) need their whole window in memory,
and a single ordered stream is what makes their results independent of how input partitions are
spread over workers (tests/integration/test_workers.py runs 1 and 2 workers and compares).
Per-seller features, which are partition-local, stay parallel in stage A.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from typing import Any, Literal

import faust
import orjson
from faust.types import TP
from faust.web import Request, Response, View

from config.settings import Settings
from config.topics import POLICY, SEQUENCED, create_topics
from credence.contract import INPUT_TOPICS, OUTPUT_TOPICS
from credence.engine import Outputs
from credence.store.keys import (
    PENDING,
    SCORE_HISTORY_KEEP,
    output_id_of,
    output_marker,
    score_history,
    snapshot_key,
    view,
)
from credence.store.redis import aconnect
from streams.delivery import OUTPUT_ID_HEADER, delivered
from streams.detect import DetectionStage, output_id
from streams.ingest import Ingestor, encode_forward
from streams.metrics import Metrics
from streams.snapshot_store import SnapshotMissing, SnapshotStore

__all__ = ["create_app", "run_worker", "broker_credentials", "Runtime", "Role"]

log = logging.getLogger("credence.streams")

# How long an output's published marker is kept in Redis.
OUTPUT_MARKER_TTL_S = 30 * 86400


class Runtime:
    """Everything the agents share: the core objects, Redis, metrics, and the Kafka plumbing."""

    def __init__(self, settings: Settings, app: faust.App):
        self.s = settings
        self.app = app
        self.metrics = Metrics()
        self.ingestor = Ingestor(settings)
        log.info("pseudonym key fingerprint %s (every worker and replay must show the same)",
                 self.ingestor.pseudonyms.fingerprint)
        self.redis = aconnect(settings, decode=False)
        self.p = settings.key_prefix
        # The contract's inputs, and the run-time policy changes (credence.tuning).
        self.input_topics = {settings.topic(t) for t in (*INPUT_TOPICS, POLICY)}
        self.seq_name = settings.topic(SEQUENCED)
        self.stage: DetectionStage | None = None
        # Markers of outputs the broker has but Redis does not yet: a retried emit (Redis full or
        # away: the fault suite's maxmemory run sent each alert six times) must not send them
        # again. Cleared as their markers are written; at most a batch's outputs.
        self._unmarked: set[str] = set()
        # The stage whose state is ahead of what is published (a catch-up thread is changing it,
        # or a batch's outputs are still being sent): no snapshot of it may be taken meanwhile.
        self._unpublished: DetectionStage | None = None
        self.last_snapshot = 0.0
        self.snapshot_key = snapshot_key(self.p)
        # Progress must never overtake the events it describes in the sequenced topic: a batch's
        # forward and a heartbeat are sent under one lock, each after the state it reports.
        self.forward_lock = asyncio.Lock()
        self._late_seen = 0
        self._expired_seen = 0
        self._highwaters: dict[TP, int] = {}
        # When the heartbeat last heard the broker (None: this worker has no heartbeat): a worker
        # cut off from Kafka with nothing left in hand has no lag it knows of, so its /health
        # would stay green through the cut (fault suite, kafka-unreachable).
        self.broker_heard: float | None = None
        self._wm: Any = None  # confluent-kafka consumer for watermark queries (no subscription)
        self._starts: dict[TP, int | None] = {}
        self.started = time.time()
        self.policy_checked = False
        self.heartbeat_seconds = max(0.25, settings.idle_seconds / 4)

    # ------------------------------------------------------------------ kafka helpers

    def highwater(self, topic: str, partition: int) -> int | None:
        tp = TP(topic, partition)
        try:
            hw = self.app.consumer.highwater(tp)
        except Exception:
            hw = None
        # The fetcher only knows a partition's end after a fetch; the heartbeat asks the broker.
        return hw if hw is not None else self._highwaters.get(tp)


    def _watermarks(self, tps: list[TP], commits_of: list[TP]
                    ) -> tuple[dict[TP, tuple[int, int]], dict[TP, int | None]]:
        """Low and high watermarks of ``tps`` and the group's committed offsets of ``commits_of``
        (None: nothing committed), asked of the broker, not of faust's cached views."""
        from confluent_kafka import TopicPartition

        from config.kafka import consumer

        if self._wm is None:
            # In the worker's own group, to read its commits; it never subscribes, so it never
            # joins the group (nor takes partitions from the agents).
            self._wm = consumer(self.s, group=self.app.conf.id)
        marks = {tp: self._wm.get_watermark_offsets(TopicPartition(tp.topic, tp.partition),
                                                    timeout=10, cached=False) for tp in tps}
        commits: dict[TP, int | None] = {}
        if commits_of:
            got = self._wm.committed([TopicPartition(tp.topic, tp.partition)
                                      for tp in commits_of], timeout=10)
            for tp, c in zip(commits_of, got, strict=True):
                if c.error is not None:
                    raise OSError(f"committed offset of {tp.topic}/{tp.partition}: {c.error}")
                commits[tp] = c.offset if c.offset >= 0 else None
        return marks, commits

    def input_partitions(self) -> list[str]:
        from config.kafka import admin

        md = admin(self.s).list_topics(timeout=10)
        return sorted(f"{t}/{p}" for t in self.input_topics if t in md.topics
                      for p in md.topics[t].partitions)


    # ------------------------------------------------------------------ stage A

    async def retrying(self, what: str, fn: Any) -> Any:
        """Run ``fn`` until it succeeds while Redis or Kafka fail transiently.

        A batch is never given up: faust would not deliver its messages again before a
        rebalance. Retrying is safe because every effect is idempotent (dedupe keys, source
        offsets, output ids)."""
        import redis
        from aiokafka.errors import KafkaError
        from confluent_kafka import KafkaException

        delay = 0.2
        while True:
            try:
                return await fn()
            except (TimeoutError, redis.RedisError, KafkaError, KafkaException, OSError) as e:
                self.metrics.retries.labels(what).inc()
                log.warning("%s failed (%r); retrying in %.1f s", what, e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def ingest(self, events: list[Any], dead: faust.TopicT, seq: faust.TopicT) -> None:
        t0 = time.perf_counter()
        batch = [(e.message.topic, e.message.partition, e.message.offset, e.message.value)
                 for e in events]

        async def attempt() -> Any:
            if not self.policy_checked:
                await self.check_policy()
            async with self.forward_lock:
                res = await self.ingestor.handle(batch)
                for fw in res.forwards:
                    await seq.send(key=b"f", value=fw)
            return res

        async def dead_letters() -> None:
            # Once per source position: a batch redelivered after a crash (its offsets were not
            # committed yet) would otherwise publish its dead letters again (the fault suite
            # measured one duplicate in two SIGKILLs of a 5,000-event run).
            items = [(dead, None, dl.to_json(),
                      output_marker(self.p, f"d:{dl.source_topic}/{dl.partition}/{dl.offset}"))
                     for dl in res.dead_letters]
            fresh = await self.send_unmarked(items, self.ingestor.model.dedupe_ttl_s)
            if fresh:
                pipe = self.redis.pipeline(transaction=False)
                for marker in fresh:
                    pipe.set(marker, 1, ex=self.ingestor.model.dedupe_ttl_s)
                await pipe.execute()
                self._unmarked.difference_update(fresh)

        res = await self.retrying("ingest", attempt)
        # Apart: a failed dead-letter send must not apply and forward the batch again.
        await self.retrying("dead-letter", dead_letters)
        m = self.metrics
        done = time.time()
        for e in events:
            ts = e.message.timestamp
            if ts:
                m.ingest_latency.observe(max(0.0, done - ts))
        expired = self.ingestor.writer.expired
        if expired > self._expired_seen:
            m.expired.inc(expired - self._expired_seen)
            self._expired_seen = expired
        for (topic, outcome), n in res.counts.items():
            m.events.labels(topic, outcome).inc(n)
            if outcome == "dead_letter":
                m.dead_letters.labels(topic).inc(n)
        m.batch_seconds.labels("ingest").observe(time.perf_counter() - t0)
        m.batch_size.labels("ingest").observe(len(events))
        m.mark("ingest")

    async def check_policy(self) -> None:
        """Refuse to write features into a Redis that may evict them: the agent stops (and
        /health turns red) before its first write, with the reason in the log."""
        from credence.store.redis import EvictionPolicyError, check_no_eviction

        try:
            await asyncio.to_thread(check_no_eviction, self.s)
        except EvictionPolicyError as e:
            log.error("%s", e)
            raise
        self.policy_checked = True

    async def heartbeat(self, seq: faust.TopicT) -> None:
        """Progress of every assigned input partition, also those with nothing to read.

        Nothing is reported while the group rebalances: from the revocation until faust has
        sought the new assignment to its committed offsets, the consumer still lists partitions
        this worker may lose, and faust's own committed offsets are cleared. A heartbeat in that
        window once took the earliest offset as its start on partitions another worker had
        finished, and they were never caught up again: the watermark stuck and the last ticks'
        outputs never came (fault suite, kill run: 33 outputs lost of 5,000 events)."""
        app = self.app
        generation = app.rebalancing_count
        tps = {tp for tp in app.consumer.assignment() if tp.topic in self.input_topics}
        if app.rebalancing or not tps:
            self.broker_heard = time.time()  # nothing to ask it, or it answers the group
            return
        # Where this worker starts on a partition it has processed nothing of: the group's
        # committed offset (asked of the broker), else the earliest.
        new = sorted(tp for tp in tps if tp not in self._starts)
        marks, commits = await asyncio.to_thread(self._watermarks, sorted(tps), new)
        self.broker_heard = time.time()
        if app.rebalancing or app.rebalancing_count != generation:
            return  # the assignment changed while the broker was asked
        self._highwaters = {tp: hi for tp, (_, hi) in marks.items()}
        self._starts = {tp: st for tp, st in self._starts.items() if tp in tps}
        for tp in new:
            c = commits[tp]
            self._starts[tp] = c if c is not None else marks[tp][0]
        starts = {f"{tp.topic}/{tp.partition}": self._starts.get(tp) for tp in tps}
        async with self.forward_lock:
            if app.rebalancing or app.rebalancing_count != generation:
                return
            progress = self.ingestor.progress(
                set(starts), lambda t, p: self._highwaters.get(TP(t, p)),
                lambda t, p: starts.get(f"{t}/{p}"))
            for msg in encode_forward(self.s.worker_id, progress, []):
                await seq.send(key=b"h", value=msg)
        for tp in tps:
            hw = marks[tp][1]  # just asked of the broker; the fetcher's copy can be older
            nxt = progress[f"{tp.topic}/{tp.partition}"][0]
            if hw is not None and nxt is not None:
                self.metrics.lag.labels(tp.topic, str(tp.partition)).set(max(0, hw - nxt))

    # ------------------------------------------------------------------ stage B

    async def _load_stage(self) -> DetectionStage:
        stage = DetectionStage(self.s, await asyncio.to_thread(self.input_partitions))
        try:
            blob = await SnapshotStore(self.redis, self.snapshot_key).load()
        except SnapshotMissing as e:
            log.warning("detection snapshot not used (%s); rebuilding from the start", e)
            return stage
        if blob:
            try:
                stage.restore(blob)
            except ValueError as e:
                # A snapshot of another release: rebuild by re-reading the sequenced topic from
                # its start (outputs already published are recognised by their markers).
                log.warning("detection snapshot not used (%s); rebuilding from the start", e)
                return stage  # restore checks the version before it changes anything
            log.info("detection state restored from snapshot at sequenced offset %d",
                     stage.seq_offset)
        return stage

    def _catch_up(self, stage: DetectionStage, until: int) -> Outputs:
        """Re-read the sequenced topic from the snapshot's offset + 1 to ``until`` (exclusive)."""
        from confluent_kafka import TopicPartition

        from config.kafka import consumer

        out = Outputs()
        start = stage.seq_offset + 1
        if start >= until:
            return out
        c = consumer(self.s, group=f"{self.s.worker_id}-catchup")
        try:
            c.assign([TopicPartition(self.seq_name, 0, start)])
            while stage.seq_offset < until - 1:
                msgs = c.consume(num_messages=500, timeout=5.0)
                if not msgs:
                    raise RuntimeError(f"sequenced topic offsets {start}..{until - 1} are gone; "
                                       "the snapshot is older than the topic's retention")
                items = [(m.offset(), m.value()) for m in msgs
                         if m.error() is None and m.offset() < until]
                out.extend(stage.handle(items))
        finally:
            c.close()
        log.info("caught up sequenced offsets %d..%d", start, until - 1)
        return out

    async def detect(self, events: list[Any], sinks: dict[str, faust.TopicT]) -> None:
        t0 = time.perf_counter()
        first = events[0].message.offset
        stage = self.stage
        if stage is None or first > stage.seq_offset + 1:
            # First batch, or a gap: another worker had the partition meanwhile.
            stage = self.stage = await self.retrying("load", self._load_stage)
            self._late_seen = stage.seq.late
        # Until this batch's outputs are published, no snapshot of the stage (a revocation
        # meanwhile saves one): the catch-up runs in a thread while the event loop goes on, and
        # a snapshot of the state it changes crashed a worker in the fault suite ('dictionary
        # changed size during iteration'); a snapshot taken after `handle` but before the
        # broker has the outputs would let the next owner start past outputs a kill then lost.
        # This batch is still finished on the stage it began with: its outputs are
        # deterministic and deduplicated by id, and the next owner redoes the batch from the
        # last snapshot taken with everything before it published.
        self._unpublished = stage
        try:
            if first > stage.seq_offset + 1:
                pre = await asyncio.to_thread(self._catch_up, stage, first)
                await self.retrying("emit", lambda: self.emit(pre, sinks))
            out = stage.handle([(e.message.offset, e.message.value) for e in events])
            await self.retrying("emit", lambda: self.emit(out, sinks))
        finally:
            self._unpublished = None
        m = self.metrics
        m.ticks.inc(stage.ticks_closed)
        m.late.inc(stage.seq.late - self._late_seen)
        self._late_seen = stage.seq.late
        wm = stage.clock.watermark(time.time())
        if wm is not None:
            m.watermark.set(wm)
        m.batch_seconds.labels("detect").observe(time.perf_counter() - t0)
        m.batch_size.labels("detect").observe(len(events))
        m.mark("detect")
        if time.monotonic() - self.last_snapshot >= self.s.snapshot_seconds:
            await self.retrying("snapshot", self.save_snapshot)

    async def save_snapshot(self) -> None:
        if self.stage is None or self.stage is self._unpublished:
            return  # nothing, or a state ahead of what is published: the last snapshot stands
        t0 = time.perf_counter()
        covers, blob = self.stage.seq_offset, self.stage.snapshot()  # no await between the two
        await SnapshotStore(self.redis, self.snapshot_key).save(blob, {"seq_offset": covers})
        self.last_snapshot = time.monotonic()
        self.metrics.snapshot_seconds.observe(time.perf_counter() - t0)

    async def emit(self, out: Outputs, sinks: dict[str, faust.TopicT]) -> None:
        """Publish outputs not published before (ids in Redis), then write the Redis views."""
        items: list[tuple[str, bytes, bytes, str]] = []
        for a in out.alerts:
            items.append(("alerts", a.seller_id.encode(), a.to_json(), output_id(a)))
        for b in out.blacklist:
            items.append(("blacklist", b.entity_id.encode(), b.to_json(), output_id(b)))
        for s in out.scores:
            items.append(("credit-scores", s.seller_id.encode(), s.to_json(), output_id(s)))
        p = self.p
        if items:
            fresh_markers = await self.send_unmarked(
                [(sinks[topic], key, value, output_marker(p, oid))
                 for topic, key, value, oid in items],
                OUTPUT_MARKER_TTL_S)
            # The markers and the score history go together (MULTI): a score replayed after a
            # restart or a retried emit finds its marker and is not appended to the history again.
            fresh = {oid for *_, oid in items if output_marker(p, oid) in fresh_markers}
            pipe = self.redis.pipeline(transaction=True)
            for *_, oid in items:
                pipe.set(output_marker(p, oid), 1, ex=OUTPUT_MARKER_TTL_S)
            for sc in out.scores:
                if output_id(sc) in fresh:
                    hist = score_history(p, sc.seller_id)
                    pipe.lpush(hist, sc.to_json())
                    pipe.ltrim(hist, 0, SCORE_HISTORY_KEEP - 1)
            await pipe.execute()
            self._unmarked.difference_update(fresh_markers)
            for topic, *_, oid in items:  # counted once marked: a retried emit counts once
                if output_marker(p, oid) in fresh_markers:
                    self.metrics.outputs.labels(topic).inc()
        rows = DetectionStage.view_writes(out)
        if rows:  # latest values: rewriting them is harmless
            pipe = self.redis.pipeline(transaction=False)
            for kind, field, value in rows:
                pipe.hset(view(p, kind), field, value)
            await pipe.execute()

    async def send_unmarked(self, items: list[tuple[faust.TopicT, bytes | None, bytes, str]],
                            ttl_s: int) -> list[str]:
        """Send each ``(topic, key, value, marker)`` not published before, and wait until the
        broker has every one; return the markers of those sent (or found delivered), for the
        caller to mark published in Redis.

        Each marker is claimed first (SET NX to "pending since now", streams.delivery), so a
        crash between the broker's acknowledgement and the caller's write leaves a pending
        marker, not a missing one: the next sender asks the output topics which of those the
        broker has and sends only the rest. Those this process delivered on an earlier attempt
        (a retry while Redis refused the published marks) it knows without asking."""
        if not items:
            return []
        stamp = PENDING + str(int(time.time() * 1000)).encode()
        pipe = self.redis.pipeline(transaction=False)
        for *_, marker in items:
            pipe.set(marker, stamp, ex=ttl_s, nx=True, get=True)
        olds = await pipe.execute()
        fresh: list[str] = []
        todo: list[tuple[faust.TopicT, bytes | None, bytes, str]] = []
        unsure: dict[str, int] = {}  # marker → its pending send's time
        for item, old in zip(items, olds, strict=True):
            marker = item[3]
            if old is None:  # claimed now: never sent
                todo.append(item)
            elif not old.startswith(PENDING):
                continue  # published
            elif marker not in self._unmarked:
                unsure[marker] = int(old[len(PENDING):])
                todo.append(item)
                continue
            fresh.append(marker)
        have: set[str] = set()
        if unsure:
            topics = {item[0].get_topic_name() for item in todo if item[3] in unsure}
            have = await asyncio.to_thread(delivered, self.s, topics, min(unsure.values()),
                                           {output_id_of(self.p, m) for m in unsure})
            self.metrics.recovered.inc(len(have))
            log.info("%d outputs of a send cut short: %d delivered, %d sent now",
                     len(unsure), len(have), len(unsure) - len(have))
            fresh += unsure
        # Sent in the order given: a seller's scores reach its partition in the order they were
        # computed, as its score history lists them (the resent ones once went after the new
        # ones, and the fault suite's rebalance run found histories in another order).
        send = [item for item in todo if output_id_of(self.p, item[3]) not in have]
        futures = [await topic.send(key=key, value=value,
                                    headers=[(OUTPUT_ID_HEADER,
                                              output_id_of(self.p, marker).encode())])
                   for topic, key, value, marker in send]
        for fut in futures:
            await fut  # delivered before it is marked as published
        self._unmarked.update(fresh)
        return fresh

    # ------------------------------------------------------------------ health

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Unhealthy when a stage has work waiting and made no progress for ``stall_seconds``."""
        now = time.time()
        info: dict[str, Any] = {"stages": {}}
        if self.stage is not None:
            # The run-time policy the detection stage decides with (credence.tuning).
            from credence.tuning import current

            info["policy"] = current(self.stage.engine)
        ok = True
        for tp in self.app.consumer.assignment():
            stage = "detect" if tp.topic == self.seq_name else "ingest"
            hw = self.highwater(tp.topic, tp.partition)
            # Lag against what was *processed* (faust's read offsets advance as soon as a message
            # enters the agent's buffer, also when the batch then fails and is retried).
            if stage == "ingest":
                nxt = self.ingestor.forwarded_through(f"{tp.topic}/{tp.partition}",
                                                      self._starts.get(tp))
            else:
                nxt = self.stage.seq_offset + 1 if self.stage is not None else None
            lag = (hw - nxt) if hw is not None and nxt is not None else 0
            st = info["stages"].setdefault(stage, {"lag": 0})
            st["lag"] += max(0, lag)
        for stage, st in info["stages"].items():
            last = self.metrics.progress.get(stage)
            st["idle_seconds"] = None if last is None else round(now - last, 1)
            if st["lag"] > 0 and (last is None or now - last > self.s.stall_seconds) and \
                    now - self.started > self.s.stall_seconds:
                st["stalled"] = True
                ok = False
        if self.broker_heard is not None:
            deaf = now - self.broker_heard
            info["broker_unheard_seconds"] = round(deaf, 1)
            if deaf > max(self.s.stall_seconds, 3 * self.heartbeat_seconds):
                ok = False
        for name, agent in self.app.agents.items():
            crashed = [a for a in agent._actors if getattr(a, "_crashed", None) is not None  # noqa: SLF001
                       and a._crashed.is_set()]  # noqa: SLF001
            if crashed:
                info.setdefault("crashed_agents", []).append(name)
                ok = False
        info["ok"] = ok
        return ok, info


Role = Literal["all", "ingest", "detect"]


def broker_credentials(settings: Settings) -> faust.SASLCredentials | None:
    """The worker's SASL login for aiokafka, from the same settings as the confluent clients."""
    from config.kafka import security_config

    sec = security_config(settings)  # raises the one-line error when credentials are missing
    if sec["security.protocol"] == "PLAINTEXT":
        return None
    ssl_context = None
    if sec["security.protocol"] == "SASL_SSL":
        import ssl

        ssl_context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile or None)
    return faust.SASLCredentials(username=sec["sasl.username"], password=sec["sasl.password"],
                                 mechanism=sec["sasl.mechanism"], ssl_context=ssl_context)


def create_app(settings: Settings, role: Role = "all") -> faust.App:
    """A faust app wired to the settings (topic prefix, Redis prefix, group id, web port).

    ``role`` "all" runs both stages (one consumer group); "ingest" and "detect" run one each, in
    consumer groups of their own (``<worker_id>-ingest``, ``<worker_id>-detect``), so ingest can
    be scaled over cores while detection keeps a process to itself. Use one scheme per
    deployment: "all" workers next to "ingest" workers would consume the inputs twice (harmless
    for the features, which are idempotent, but wasted work).
    """
    group = settings.worker_id if role == "all" else f"{settings.worker_id}-{role}"
    app = faust.App(
        group,
        broker=settings.kafka_url,
        broker_credentials=broker_credentials(settings),
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        datadir=str(settings.home / "worker" / "{conf.id}"),  # not the current directory
        web_port=settings.web_port,
        web_host="0.0.0.0",  # noqa: S104 - /metrics and /health are scraped from outside
        topic_disable_leader=True,
        topic_allow_declare=False,  # topics come from `credence topics create`
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_max_request_size=2 * 1024 * 1024,
        broker_commit_interval=1.0,
        # A crashed (or SIGTERMed: it exits as a crash) worker never says goodbye: its partitions
        # wait this long for it. faust's 60 s made every kill a minute of stalled input; the
        # heartbeat (3 s) runs on the event loop, so a detection tick must stay well under it.
        broker_session_timeout=settings.session_timeout_seconds,
        consumer_max_fetch_size=4 * 1024 * 1024,  # inputs may be up to 2 MiB (dead letters)
        stream_wait_empty=False,
    )
    rt = Runtime(settings, app)
    app.credence = rt  # type: ignore[attr-defined]
    raw = {"value_type": bytes, "key_type": bytes, "value_serializer": "raw",
           "key_serializer": "raw"}
    inputs = app.topic(*sorted(rt.input_topics), **raw)
    seq = app.topic(rt.seq_name, **raw)
    dead = app.topic(settings.topic("dead-letters"), **raw)
    sinks = {name: app.topic(settings.topic(name), **raw)
             for name in ("alerts", "blacklist", "credit-scores")}

    if role in ("all", "ingest"):
        @app.agent(inputs, name="ingest")
        async def ingest(stream):  # noqa: ANN001
            async for events in stream.take_events(settings.batch_size,
                                                   within=settings.batch_wait):
                await rt.ingest(list(events), dead, seq)

        @app.timer(interval=rt.heartbeat_seconds)
        async def heartbeat() -> None:
            # An exception escaping a faust timer stops the whole app: a heartbeat that fails
            # (broker briefly away) is logged and tried again at the next tick.
            try:
                await rt.heartbeat(seq)
            except Exception as e:  # noqa: BLE001
                rt.metrics.retries.labels("heartbeat").inc()
                log.warning("heartbeat failed (%r); next tick retries", e)

    if role in ("all", "detect"):
        @app.agent(seq, name="detect")
        async def detect(stream):  # noqa: ANN001
            async for events in stream.take_events(settings.batch_size,
                                                   within=settings.batch_wait):
                await rt.detect(list(events), sinks)

    @app.page("/metrics")
    class MetricsView(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(rt.metrics.render(), content_type="text/plain; version=0.0.4")

    @app.page("/health")
    class HealthView(View):
        async def get(self, request: Request) -> Response:
            ok, info = rt.health()
            return self.bytes(orjson.dumps(info), content_type="application/json",
                              status=200 if ok else 503)

    @app.task
    async def on_start() -> None:
        rt.started = time.time()

    @app.on_partitions_revoked.connect
    async def on_revoked(sender: Any, revoked: set[TP], **kwargs: Any) -> None:
        # Hand the detection state over to the next owner as fresh as possible.
        if any(tp.topic == rt.seq_name for tp in revoked):
            await rt.save_snapshot()
            rt.stage = None
        # The ingestor keeps what it forwarded of a revoked partition: if the partition comes
        # back, faust does not redeliver messages this worker already read, and the progress
        # must still say they were forwarded (or the watermark would wait for them forever).
        for tp in revoked:
            rt._starts.pop(tp, None)

    return app


class BoundedWorker(faust.Worker):
    """faust's worker with a bounded, crash-consistent stop (issue 12, item 5).

    faust-streaming 0.15.3's graceful stop can hang for minutes in ``Worker.stop_and_shutdown``
    (`make demo` waited over four), and a stop that cancels an agent mid-batch can commit the
    offsets of events whose Redis writes never happened (seen in the SIGTERM integration test:
    orders missing from the features after a restart). So on SIGTERM or Ctrl-C the worker ends
    the way a crash does, which the suite proves loses nothing: every effect is idempotent
    (state updates keyed by offsets, outputs by deterministic ids), the next start re-reads what
    was not committed, and the detection stage re-reads the sequenced topic since its last
    snapshot. The group sees the worker leave when its session times out.
    """

    def _schedule_shutdown(self, sig: signal.Signals) -> None:
        log.warning("%s: stopping now (uncommitted input is re-read at the next start)",
                    sig.name)
        logging.shutdown()
        os._exit(0)


def run_worker(settings: Settings, loglevel: str = "info", role: Role = "all") -> None:
    """Check Redis's eviction policy, create the topics (idempotent) and run a worker until
    stopped (SIGTERM, Ctrl-C)."""
    import redis

    from credence.store.redis import check_no_eviction

    try:
        check_no_eviction(settings)  # before anything is consumed: refuse, don't lose state later
    except redis.ConnectionError as e:
        # Redis away is a transient fault the agents ride out (retries, /health); the policy is
        # then checked before the first write (Runtime.ingest).
        log.warning("Redis at %s does not answer (%s); its eviction policy is checked when it "
                    "does", settings.redis, e)
    create_topics(settings, only=(*INPUT_TOPICS, *OUTPUT_TOPICS, POLICY, SEQUENCED))
    (settings.home / "worker").mkdir(parents=True, exist_ok=True)
    app = create_app(settings, role)
    worker = BoundedWorker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
