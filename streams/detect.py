"""Stage B: the single detection stage over the sequenced topic.

It receives stage A's forwards (valid events plus per-partition progress), drops forwards it has
already applied (per input partition, by source offset: redeliveries after a crash or a
rebalance), sequences events into event-time ticks under the partition clock's watermark, and
runs each closed tick through the `Engine`. Its whole state goes into one sealed snapshot
(`streams.snapshot`: authenticated, read without running code), saved to Redis with the
sequenced-topic offset it covers; a restarted (or newly assigned) stage loads the
snapshot and re-reads the sequenced topic from the next offset.

This module has no Kafka in it; `streams.app` moves the bytes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from config.keys import load_key
from config.settings import Settings
from credence.contract import Alert, BlacklistEntry, CreditScore, stable_id
from credence.engine import Engine, Outputs
from credence.sequencer import PartitionClock, Sequencer
from credence.tuning import parse_input
from streams.ingest import decode_forward
from streams.snapshot import seal, unseal

__all__ = ["DetectionStage", "output_id", "SNAPSHOT_VERSION"]

SNAPSHOT_VERSION = 20  # bump when the engine state changes shape (3: sealed, no settings;
#                        4: cohort detector gained sharing_mark; 5: sock_puppets links (IP, seller);
#                        6: cohort detector gained trait_min and unshown_worth;
#                        7: fake_reviews keeps the devices accounts order from;
#                        8: fake_reviews keeps purchase days in `_LastDay`;
#                        9: the blacklist policy remembered alerts by signal (reverted);
#                        10: fake_reviews remembers a seller's earlier episodes;
#                        11: fake_reviews marks token reviews from a farm's phones;
#                        12: cohort keeps the market's late starters by birth hour;
#                        13: the synchrony detector;
#                        14: sock_puppets counts 4-star reviews as praise too;
#                        15: cohort gained the crew's habits (majority), linked repeat buyers
#                            (co_margin, the repeat edges' rate) and hollow orders (items);
#                        16: cohort keeps each buyer's sellers and the pairs buyers split over;
#                        17: sock_puppets keeps the clusters behaving as puppets per seller;
#                        18: cohort keeps the crews proven per seller (partner_balance,
#                            partner_share); circular_trading's drift 0.45 and full 3.5;
#                        19: cohort gained partner_overlap; sock_puppets' w_push 4: a
#                            restored detector keeps its parameters, so old ones are refused;
#                        20: cohort keeps each seller's pairs by last-order hour and the
#                            market's pairs that stopped buying (departure; quiet_ms))


def output_id(item: Alert | BlacklistEntry | CreditScore) -> str:
    """Deterministic id of an output, to publish each once across restarts."""
    if isinstance(item, Alert):
        return f"a:{item.alert_id}"
    if isinstance(item, BlacklistEntry):
        return "b:" + stable_id(item.entity_id, item.action, item.ts, item.by, item.reason)
    return "s:" + stable_id(item.seller_id, item.ts, item.score, item.previous)


@dataclass
class _State:
    version: int
    engine: Engine
    seq: Sequencer
    clock: PartitionClock
    src_offsets: dict[str, int]
    seq_offset: int


class DetectionStage:
    def __init__(self, settings: Settings, input_partitions: Iterable[str] = ()):
        self.s = settings
        self.engine = Engine(settings)
        self.seq = Sequencer(settings.tick_seconds * 1000, settings.lateness_seconds * 1000)
        self.clock = PartitionClock(settings.lateness_seconds * 1000,
                                    int(settings.idle_seconds * 1000), set(input_partitions))
        self.src_offsets: dict[str, int] = {}  # input partition → highest source offset applied
        self.seq_offset = -1  # last sequenced-topic offset applied
        self._snapshot_key = load_key(settings, "snapshot")

    # ------------------------------------------------------------------ processing

    def handle(self, messages: Iterable[tuple[int, bytes]], wall: float | None = None) -> Outputs:
        """Apply sequenced-topic messages ``(offset, value)``; return what closed ticks produced."""
        wall = time.time() if wall is None else wall
        for offset, value in messages:
            if offset <= self.seq_offset:
                continue
            self.seq_offset = offset
            progress, events = decode_forward(value)
            for tp, src_offset, raw in events:
                if src_offset <= self.src_offsets.get(tp, -1):
                    continue  # already applied: a redelivery re-forwarded by stage A
                self.src_offsets[tp] = src_offset
                # Stage A validated it; a failure here is a bug, so let it raise.
                self.seq.push(parse_input(raw.encode(), max_bytes=1 << 30), src_offset,
                              f"{tp}/{src_offset}")
            for tp, (_nxt, max_ts, caught) in progress.items():
                self.clock.observe(tp, max_ts, caught, wall)
        return self.advance(wall)

    def advance(self, wall: float | None = None) -> Outputs:
        """Close the ticks the watermark has passed; flush all when every input is idle."""
        wall = time.time() if wall is None else wall
        out = Outputs()
        ticks = list(self.seq.release(self.clock.watermark(wall)))
        if self.clock.all_idle(wall):
            ticks += list(self.seq.flush())
        now_ms = int(wall * 1000)
        for tick in ticks:
            out.extend(self.engine.process_tick(tick, now_ms))
        self.ticks_closed = len(ticks)
        return out

    # ------------------------------------------------------------------ snapshots

    def snapshot(self) -> bytes:
        clock = PartitionClock(self.clock.lateness_ms, self.clock.idle_ms,
                               set(self.clock.expected), dict(self.clock.max_ts))
        state = _State(SNAPSHOT_VERSION, self.engine, self.seq, clock, self.src_offsets,
                       self.seq_offset)
        return seal(state, self._snapshot_key)

    def restore(self, blob: bytes) -> None:
        """Take the state of a snapshot; `streams.snapshot.SnapshotRejected` (a ValueError)
        when it is not authentic, names anything but the engine's classes, or is of another
        version, before anything changes."""
        state: _State = unseal(blob, self.s, self._snapshot_key)
        if not isinstance(state, _State):
            raise ValueError("snapshot holds no detection state")
        if state.version != SNAPSHOT_VERSION:
            raise ValueError(f"snapshot version {state.version} != {SNAPSHOT_VERSION}")
        self.engine, self.seq = state.engine, state.seq
        # Idleness is wall-clock state: it restarts from now.
        state.clock.expected |= self.clock.expected
        self.clock = state.clock
        self.src_offsets, self.seq_offset = state.src_offsets, state.seq_offset

    # ------------------------------------------------------------------ views

    @staticmethod
    def view_writes(out: Outputs) -> list[tuple[str, str, bytes]]:
        """``(hash key suffix, field, value)`` for the Redis views of the outputs."""
        rows: list[tuple[str, str, bytes]] = []
        for entity, s in out.suspicion.items():
            rows.append(("susp", entity, orjson.dumps({"score": s.score,
                                                       "detectors": s.detectors})))
        for b in out.blacklist:
            rows.append(("blacklist", b.entity_id, b.to_json()))
        for sc in out.scores:
            rows.append(("score", sc.seller_id, sc.to_json()))
        return rows
