"""Stage A: decode, validate, dead-letter, update features in Redis, forward to detection.

Runs in parallel on every worker, over the input partitions it is assigned. A batch of raw Kafka
messages becomes: dead letters (anything that does not fit the contract), one Lua call that
applies the valid events' feature ops exactly once (dedupe by id), and a forward of the valid
events, with this worker's progress per input partition, to the single-partition sequenced topic
that stage B (`streams.detect`) reads.

A message redelivered after a crash (same topic/partition/offset) is forwarded again but not
re-applied; a second message with an id already seen is dropped (`credence.store.base`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import orjson

from config.settings import Settings
from credence.contract import TOPIC_OF_TYPE, DeadLetter, Event, InvalidEvent, parse_event
from credence.features import FeatureModel
from credence.pseudonyms import Pseudonyms
from credence.store.base import DUPLICATE, NEW
from credence.store.redis import AsyncRedisWriter
from credence.tuning import POLICY_TOPIC, PolicyChange, parse_policy

__all__ = ["Ingestor", "IngestResult", "Raw", "encode_forward", "decode_forward", "MAX_FORWARD"]

# (topic, partition, offset, value): one input message
Raw = tuple[str, int, int, bytes | None]

MAX_FORWARD = 512 * 1024  # bytes per forwarded message (the topic allows 8 MiB; keep it small)


@dataclass
class IngestResult:
    dead_letters: list[DeadLetter] = field(default_factory=list)
    forwards: list[bytes] = field(default_factory=list)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)  # (topic, outcome) → n


def encode_forward(worker: str, progress: dict[str, list], events: Sequence[tuple[str, int, str]],
                   limit: int = MAX_FORWARD) -> list[bytes]:
    """Forward messages: events ``[tp, offset, raw]`` split by size; progress on the last one."""
    out: list[bytes] = []
    cur: list[tuple[str, int, str]] = []
    size = 0
    for item in events:
        n = len(item[2]) + len(item[0]) + 24
        if cur and size + n > limit:
            out.append(orjson.dumps({"w": worker, "e": cur}))
            cur, size = [], 0
        cur.append(item)
        size += n
    out.append(orjson.dumps({"w": worker, "p": progress, "e": cur}))
    return out


def decode_forward(value: bytes) -> tuple[dict[str, list], list[tuple[str, int, str]]]:
    msg = orjson.loads(value)
    return msg.get("p") or {}, msg.get("e") or []


class Ingestor:
    def __init__(self, settings: Settings, writer: AsyncRedisWriter | None = None):
        self.s = settings
        self.model = FeatureModel(settings.key_prefix)
        self.writer = writer or AsyncRedisWriter(settings, self.model.dedupe_ttl_s)
        self.worker = settings.worker_id
        # Personal identifiers are replaced before anything is stored or forwarded.
        self.pseudonyms = Pseudonyms.from_settings(settings)
        # per input partition "topic/partition": next offset to process, largest valid ts
        self.next_offset: dict[str, int] = {}
        self.max_ts: dict[str, int] = {}
        self.policy_topic = settings.topic(POLICY_TOPIC)

    async def handle(self, batch: Sequence[Raw]) -> IngestResult:
        res = IngestResult()
        valid: list[tuple[Event | PolicyChange, str, str, int, bytes]] = []
        now = time.time_ns() // 1_000_000
        # Progress is committed to self only once the batch is applied: a failed batch (retried
        # by the caller) must not be reported as read.
        next_offset: dict[str, int] = {}
        max_ts: dict[str, int] = {}
        for topic, partition, offset, value in batch:
            tp = f"{topic}/{partition}"
            next_offset[tp] = max(next_offset.get(tp, 0), offset + 1)
            raw = value if value is not None else b""
            try:
                if topic == self.policy_topic:  # run-time policy: that topic, that type only
                    valid.append((parse_policy(raw, max_bytes=self.s.max_event_bytes), tp,
                                  topic, offset, raw))
                    continue
                event = parse_event(raw, max_bytes=self.s.max_event_bytes)
                if self.s.topic(TOPIC_OF_TYPE[event.type]) != topic:
                    raise InvalidEvent(f"type {event.type!r} does not belong on topic {topic!r}")
                event, raw = self.pseudonyms.apply_raw(event, raw)
            except InvalidEvent as e:
                res.dead_letters.append(DeadLetter.of(raw, str(e), source_topic=topic,
                                                      partition=partition, offset=offset,
                                                      now_ms=now))
                self._count(res, topic, "dead_letter")
                continue
            valid.append((event, tp, topic, offset, raw))
        ops = [self.model.ops(e, f"{tp}/{off}") for e, tp, _, off, _ in valid]
        outcomes = await self.writer.apply(ops) if ops else []
        forward: list[tuple[str, int, str]] = []
        for (event, tp, topic, offset, raw), outcome in zip(valid, outcomes, strict=True):
            if outcome == DUPLICATE:
                self._count(res, topic, "duplicate")
                continue
            # Redelivered events are forwarded again: the first forward may not have been sent.
            self._count(res, topic, "new" if outcome == NEW else "redelivered")
            forward.append((tp, offset, raw.decode()))
            if event.ts > max_ts.get(tp, -1):
                max_ts[tp] = event.ts
        for tp, nxt in next_offset.items():
            self.next_offset[tp] = max(self.next_offset.get(tp, 0), nxt)
        for tp, ts in max_ts.items():
            self.max_ts[tp] = max(self.max_ts.get(tp, -1), ts)
        # A batch never claims "caught up" (the fetcher's end offsets can be stale); only the
        # heartbeat does, against end offsets it has just asked the broker for.
        res.forwards = encode_forward(self.worker,
                                      self.progress(set(next_offset), lambda t, p: None), forward)
        return res

    def progress(self, tps: set[str], highwater: Callable[[str, int], int | None],
                 position: Callable[[str, int], int | None] | None = None) -> dict[str, list]:
        """``tp → [next offset, largest ts or None, caught up]`` for the partitions given.

        ``position`` gives where this worker started on a partition (the group's committed
        offset when it was assigned, or the earliest one)."""
        out: dict[str, list] = {}
        for tp in sorted(tps):
            topic, _, p = tp.rpartition("/")
            hw = highwater(topic, int(p))
            nxt = self.forwarded_through(
                tp, position(topic, int(p)) if position is not None else None)
            caught = hw is not None and nxt is not None and nxt >= hw
            out[tp] = [nxt, self.max_ts.get(tp), caught]
        return out

    def forwarded_through(self, tp: str, start: int | None) -> int | None:
        """The offset of ``tp`` up to which events are forwarded: what this worker forwarded or
        where it started (the group's committed offset: forwarded by an earlier owner),
        whichever is further. A partition back from a worker that finished it has nothing left
        to read, and this worker's own figure dates from before it lost the partition."""
        known = [o for o in (self.next_offset.get(tp), start) if o is not None]
        return max(known) if known else None

    @staticmethod
    def _count(res: IngestResult, topic: str, outcome: str) -> None:
        res.counts[(topic, outcome)] = res.counts.get((topic, outcome), 0) + 1
