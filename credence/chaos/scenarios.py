"""The fault scenarios: real workers, a real fault, and the result against `credence replay`.

Each scenario takes admin settings of a running stack (`credence stack up`) and the input lines,
and runs in an arena of its own (topic prefix, Redis key prefix, consumer group, the ``worker``
principal's ACLs on them; removed afterwards). It publishes the whole input first, starts
`credence worker` processes, injects its fault while they work, waits for the stream to drain,
and compares what the stream published (read back from Kafka) and stored (Redis features) with
replay of the same input (`credence.chaos.compare`). The workers log in as ``worker``, like in
production, so the faults also prove that its ACLs suffice on every recovery path.

Why each fault should lose nothing is in docs/architecture.md ("Faults"): every effect is
idempotent (feature writes dedupe by event id in the same Lua call, forwards by source offset,
outputs by id markers written after delivery), offsets are committed only after the effects, and
the detection stage's offsets travel inside its snapshot.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from config.settings import Settings
from credence.chaos.compare import (
    OUTPUT_TOPICS,
    Expected,
    Published,
    diff,
    expected_from_replay,
    features_diff,
    marker_states,
    memory_features,
    redis_features,
    score_history_diff,
)
from credence.chaos.harness import Worker, produce, wait_for
from credence.chaos.proxy import Proxy

__all__ = ["Result", "Arena", "SCENARIOS", "Reference", "reference", "simulated_events",
           "scenario", "run_scenario", "table", "FAST"]

#: Worker settings of every scenario: a short event-time idleness (the last tick closes soon
#: after the input ends), frequent snapshots (a restart re-reads little), and a 10 s consumer
#: session so a killed worker's partitions move on within seconds, and /health red after 5 s
#: without progress.
FAST: dict[str, Any] = {"idle_seconds": 1.0, "batch_wait": 0.02, "snapshot_seconds": 2.0,
                        "session_timeout_seconds": 10.0, "stall_seconds": 5.0}


@dataclass
class Result:
    """One scenario's figures."""

    name: str
    events: int
    faults: int = 0
    mid_stream: int = 0  # faults that hit while input was still waiting
    lost: int = 0
    duplicated: int = 0
    extra: int = 0
    features_identical: bool = False
    views_identical: bool = False  # the score-history views hold each published score once
    recovery_s: float | None = None  # the slowest recovery of the run's faults
    seconds: float = 0.0
    outputs: int = 0  # what replay publishes: the outputs the run is judged on
    dead_letters: int = 0
    health_red: bool | None = None  # /health went red during the fault (where it must)
    notes: list[str] = field(default_factory=list)
    detail: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (self.lost == 0 and self.duplicated == 0 and self.extra == 0
                and self.features_identical and self.views_identical)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "ok": self.ok}


def table(results: Sequence[Result]) -> str:
    """The figures as a Markdown table."""
    rows = ["| scenario | events | faults | lost | duplicated | features identical "
            "| score histories | recovery s |",
            "|---|---|---|---|---|---|---|---|"]
    for r in results:
        rec = "-" if r.recovery_s is None else f"{r.recovery_s:.1f}"
        rows.append(f"| {r.name} | {r.events:,} | {r.faults} | {r.lost} | {r.duplicated} | "
                    f"{'yes' if r.features_identical else 'NO'} | "
                    f"{'each score once' if r.views_identical else 'NO'} | {rec} |")
    return "\n".join(rows)


# ------------------------------------------------------------------------------ input


#: Dead-letter material mixed into the input (one line in `DEAD_EVERY`): rejected the same way
#: by the stream and by replay, so dead letters are counted, lost or duplicated like outputs.
DEAD_EVERY = 997


def _dead_line(i: int) -> bytes:
    k = i % 4
    if k == 0:
        return b'{"type":"order","order_id":"bad' + str(i).encode() + b'"'
    if k == 1:
        return orjson.dumps({"type": "review", "review_id": f"bad{i}", "seller_id": f"s{i % 7}",
                             "reviewer_id": "u", "rating": 7, "ts": 1_790_000_000_000})
    if k == 2:
        return orjson.dumps({"type": "order", "order_id": f"bad{i}", "seller_id": f"s{i % 7}",
                             "buyer_id": "b", "amount": -3, "ts": 1_790_000_000_000})
    return orjson.dumps({"type": "payment", "payment_id": f"bad{i}", "ts": 1_790_000_000_000})


def simulated_events(n: int, seed: int = 11, days: int = 5) -> list[bytes]:
    """About ``n`` lines: a simulated marketplace with every manipulation pattern over ``days``
    (~70k events per day and unit of scale), cut at ``n``, with dead-letter material mixed
    in. Fewer days for the same ``n`` is less detection work: its ticks cost more than its
    events at a few thousand events."""
    from producers.scenario import Scenario
    from producers.simulator import simulate

    scale = min(20.0, max(0.01, n / (66_000 * days)))
    lines = [bytes(x) for x in simulate(Scenario(seed=seed, scale=scale, days=days)).events.lines]
    out: list[bytes] = []
    for i, line in enumerate(lines[:n]):
        if i and i % DEAD_EVERY == 0:
            out.append(_dead_line(i // DEAD_EVERY))
        out.append(line)
    return out[:n]


# ------------------------------------------------------------------------------ arena


class Arena:
    """Isolated topics, keys and group on the stack of ``admin``, and the run's observers."""

    def __init__(self, admin: Settings, workdir: Path, partitions: int = 4,
                 **overrides: Any) -> None:
        tag = "chaos-" + uuid.uuid4().hex[:8]
        self.admin = admin
        self.s = admin.model_copy(update={"topic_prefix": tag + ".", "key_prefix": tag,
                                          "worker_id": "credence-" + tag,
                                          "partitions": partitions, **FAST, **overrides})
        self.dir = workdir / tag
        self.dir.mkdir(parents=True, exist_ok=True)
        self.workers: list[Worker] = []
        self.closers: list[Callable[[], None]] = []  # run at exit, before the clean-up
        self.published = Published()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None
        self._offsets: Any = None
        self._redis: Any = None

    # ------------------------------------------------------------------ set-up, tear-down

    def __enter__(self) -> Arena:
        from config.topics import create_topics
        from credence.security import apply_acls

        create_topics(self.s)
        if self.s.kafka_username:  # the secured stack: the worker principal's ACLs
            apply_acls(self.admin, "worker", "worker", self.s)
            self.grant_redis()
        self._reader = threading.Thread(target=self._read_outputs, daemon=True)
        self._reader.start()
        return self

    def grant_redis(self) -> None:
        """Let the worker user at this arena's keys (again after a Redis restart: the grant is
        not in the stack's ACL file)."""
        from credence.security import grant_redis_prefix

        if self.s.kafka_username:
            grant_redis_prefix(self.admin, self.s.key_prefix)

    def __exit__(self, *exc: object) -> None:
        from config.kafka import admin
        from credence.security import revoke_acls
        from credence.store.redis import connect

        for w in self.workers:
            w.kill()
        for close in self.closers:
            close()
        self._stop.set()
        if self._reader is not None:
            self._reader.join(10)
        if self._offsets is not None:
            self._offsets.close()
        if self._redis is not None:
            self._redis.close()
        with contextlib.suppress(Exception):
            a = admin(self.admin)
            names = [t for t in a.list_topics(timeout=10).topics
                     if t.startswith(self.s.topic_prefix)]
            if names:
                for fut in a.delete_topics(names, operation_timeout=10).values():
                    with contextlib.suppress(Exception):
                        fut.result()
        with contextlib.suppress(Exception):
            r = connect(self.admin, decode=False)
            batch = list(r.scan_iter(match=f"{self.s.key_prefix}:*", count=1000))
            for i in range(0, len(batch), 1000):
                r.unlink(*batch[i:i + 1000])
        if self.s.kafka_username:
            with contextlib.suppress(Exception):
                revoke_acls(self.admin, "worker", "worker", self.s)

    # ------------------------------------------------------------------ workers

    def start_worker(self, **overrides: Any) -> Worker:
        s = self.s.model_copy(update=overrides) if overrides else self.s
        w = Worker(s, self.dir / f"worker-{len(self.workers)}.log").start()
        self.workers.append(w)
        return w

    def running(self) -> list[Worker]:
        return [w for w in self.workers if w.running]

    # ------------------------------------------------------------------ observers

    def _read_outputs(self) -> None:
        """Everything published on the output and dead-letter topics, from their start."""
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        from config.kafka import consumer

        c = consumer(self.admin, group="chaos-reader-" + uuid.uuid4().hex[:8])
        names = {self.s.topic(t): t for t in (*OUTPUT_TOPICS, "dead-letters")}
        c.assign([TopicPartition(n, p, OFFSET_BEGINNING) for n in names
                  for p in range(self.s.partitions)])
        try:
            while not self._stop.is_set():
                for m in c.consume(num_messages=1000, timeout=0.5):
                    if m.error() is None:
                        with self._lock:
                            self.published.add(names[m.topic()], m.value())
        finally:
            c.close()

    def outputs_seen(self) -> int:
        with self._lock:
            return sum(len(v) for v in self.published.values.values())

    def _committed(self) -> tuple[int, int, int]:
        """(committed input offsets, input end offsets, committed sequenced offset) of the
        worker group, asked of the broker."""
        from confluent_kafka import TopicPartition

        from config.kafka import consumer
        from config.topics import SEQUENCED
        from credence.contract import INPUT_TOPICS

        if self._offsets is None:
            # Never subscribes: reads the group's commits without joining it.
            self._offsets = consumer(self.admin, group=self.s.worker_id)
        tps = [TopicPartition(self.s.topic(t), p) for t in INPUT_TOPICS
               for p in range(self.s.partitions)]
        seq = TopicPartition(self.s.topic(SEQUENCED), 0)
        got = self._offsets.committed([*tps, seq], timeout=10)
        ends = sum(self._offsets.get_watermark_offsets(tp, timeout=10, cached=False)[1]
                   for tp in tps)
        done = sum(max(0, t.offset) for t in got[:-1])
        return done, ends, max(0, got[-1].offset)

    def _seq_end(self) -> int:
        from confluent_kafka import TopicPartition

        from config.topics import SEQUENCED

        self._committed()  # makes the consumer
        tp = TopicPartition(self.s.topic(SEQUENCED), 0)
        return self._offsets.get_watermark_offsets(tp, timeout=10, cached=False)[1]

    def ingested(self) -> float:
        """Share of the input the worker group has committed (0..1)."""
        done, ends, _ = self._committed()
        return done / ends if ends else 1.0

    def progress(self) -> int:
        """A number that grows while the stream works: committed offsets of the inputs and of
        the sequenced topic (stage B commits it as it applies forwards and heartbeats), and the
        outputs published."""
        done, _, seq = self._committed()
        return done + seq + self.outputs_seen()

    def wait_share(self, share: float, timeout: float) -> None:
        wait_for(lambda: self.ingested() >= share, timeout, f"{share:.0%} of the input",
                 self._alive_or_none())

    def recovery(self, since: float, timeout: float = 300.0) -> float:
        """Seconds from ``since`` until the stream makes progress again."""
        base = self.progress()
        wait_for(lambda: self.progress() > base, timeout, "progress after the fault",
                 self._alive_or_none())
        return time.monotonic() - since

    def _alive_or_none(self) -> Worker | None:
        running = self.running()
        return running[0] if len(running) == 1 else None

    def published_through(self) -> int:
        """The sequenced offset through which stage B's outputs are all published: the one its
        last snapshot covers (streams.snapshot_store); -1 before the first."""
        from credence.store.keys import snapshot_key
        from credence.store.redis import connect
        from streams.snapshot_store import manifest_of

        if self._redis is None:  # asked every second of a drain: one client for the arena
            self._redis = connect(self.admin, decode=False)
        m = manifest_of(self._redis.get(snapshot_key(self.s.key_prefix)))
        return -1 if m is None else int(m.get("seq_offset", -1))

    def drain(self, expected: Expected | None, timeout: float, quiet: float = 20.0) -> None:
        """Wait until the input is committed and every expected output was published, or,
        failing that, until stage B has published everything the sequenced topic held
        ``quiet`` seconds after the last new output arrived; then a short settle, in which a
        late duplicate would still show.

        Quiet is judged by the stage's own progress, not by the clock alone: on a loaded
        machine a restarted worker's catch-up and resend took longer than 20 s of silence,
        and a run judged then counted 543 outputs still being sent as lost (all arrived
        within the next minute). Neither are the group's committed offsets a sign: faust
        commits what the stage took in, and after a kill the next owner redoes those batches
        from the last snapshot."""
        deadline = time.monotonic() + timeout
        wait_for(lambda: self.ingested() >= 1.0, timeout, "the whole input committed",
                 self._alive_or_none())
        last_n, last_t, mark = -1, time.monotonic(), None
        while time.monotonic() < deadline:
            with self._lock:
                missing = 0 if expected is None else self.published.missing(expected)
            if missing == 0:
                break
            n, now = self.outputs_seen(), time.monotonic()
            if n != last_n:
                last_n, last_t, mark = n, now, None
            elif mark is None and now - last_t > quiet:
                mark = self._seq_end()  # what the stage must get through, with nothing new
            elif mark is not None and self.published_through() >= mark - 1:
                break
            time.sleep(1.0)
        time.sleep(2.0)


# ------------------------------------------------------------------------------ running


Inject = Callable[[Arena, Result, random.Random], None]
LATE_S = 60.0  # how long a run that lost outputs goes on reading, to tell late from lost
BIG = 100_000  # inputs above this snapshot every 15 s instead of 2


@dataclass(frozen=True)
class Reference:
    """What a run of some input is judged against: `credence replay`'s outputs and the features
    kept in memory. Neither depends on the run's topics, keys, workers or batch sizes (the
    contract), so scenarios of one input share it: it is worked out once."""

    expected: Expected
    features: dict[str, object]


def reference(admin: Settings, lines: Sequence[bytes], workdir: Path) -> Reference:
    """Replay ``lines`` (with the arenas' settings) and keep the features in memory."""
    s = admin.model_copy(update={"topic_prefix": "reference.", "key_prefix": "reference",
                                 **FAST})
    workdir.mkdir(parents=True, exist_ok=True)
    events = workdir / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    return Reference(expected_from_replay(s, events, workdir / "replay"),
                     memory_features(s, lines))


def run_scenario(name: str, admin: Settings, lines: Sequence[bytes], workdir: Path,
                 inject: Inject, *, workers: int = 1, seed: int = 0, partitions: int = 4,
                 echo: Callable[[str], None] = lambda m: None,
                 ref: Reference | None = None, **overrides: Any) -> Result:
    """Publish ``lines``, run ``workers`` workers while ``inject`` does its faults, drain, and
    compare with ``ref`` (worked out here when not given)."""
    t0 = time.monotonic()
    res = Result(name, len(lines))
    if len(lines) > BIG:
        # A snapshot of a large detection state takes seconds of the event loop: every 2 s
        # would leave no time for detection (and starve the consumer's heartbeats).
        overrides = {"snapshot_seconds": 15.0, **overrides}
    rng = random.Random(seed)  # noqa: S311 - where to inject faults, not secrets
    with Arena(admin, workdir, partitions, **overrides) as arena:
        s = arena.s
        if ref is None:
            echo(f"{name}: replaying {len(lines):,} lines")
            ref = reference(admin, lines, arena.dir)
        expected = ref.expected
        res.outputs, res.dead_letters = expected.outputs, sum(expected.dead.values())
        echo(f"{name}: publishing; replay has {res.outputs:,} outputs, "
             f"{res.dead_letters:,} dead letters")
        produce(s, lines)
        for _ in range(workers):
            arena.start_worker()
        inject(arena, res, rng)
        echo(f"{name}: {res.faults} faults injected; draining")
        arena.drain(expected, timeout=600 + len(lines) / 200)
        with arena._lock:  # noqa: SLF001 - the arena's own reader
            d = diff(expected, arena.published)
        res.lost = sum(d.lost.values())
        res.duplicated = sum(d.duplicated.values())
        res.extra = sum(d.extra.values())
        res.detail = {"lost": d.lost, "duplicated": d.duplicated, "extra": d.extra}
        res.notes += d.examples[:6]
        if d.lost_ids:
            # Lost, or only late? The markers say whether the stream emitted them; a minute
            # more of reading says whether they were on their way.
            res.notes.append(f"markers of the lost outputs: "
                             f"{dict(marker_states(s, d.lost_ids))}")
            time.sleep(LATE_S)
            with arena._lock:  # noqa: SLF001 - the arena's own reader
                late = sum(d.lost.values()) - sum(diff(expected, arena.published).lost.values())
            res.notes.append(f"{late} of the lost outputs arrived within {LATE_S:.0f} s after "
                             f"the drain")
        if res.extra:
            res.notes.append(f"{res.extra} outputs replay does not have")
        echo(f"{name}: comparing features")
        fd = features_diff(redis_features(s), ref.features)
        res.features_identical = not fd
        res.notes += fd
        with arena._lock:  # noqa: SLF001 - the arena's own reader
            scores = list(arena.published.values["credit-scores"])
        hd = score_history_diff(s, scores)
        res.views_identical = not hd
        res.notes += hd[:6]
        crashed = [w for w in arena.workers if w.proc is not None and w.proc.poll() not in
                   (None, -9, 0)]
        for w in crashed:
            res.notes.append(f"a worker exited with {w.proc.returncode}: "  # type: ignore[union-attr]
                             f"{w.tail(3)}")
    res.seconds = time.monotonic() - t0
    return res


def _fault(arena: Arena, res: Result) -> None:
    """Count a fault, and whether it hit while input was still waiting (mid-stream)."""
    res.faults += 1
    try:
        share = arena.ingested()
    except Exception:  # noqa: BLE001 - the broker may be the fault
        share = None
    if share is None or share < 1.0:
        res.mid_stream += 1


def _worst(res: Result, seconds: float) -> None:
    res.recovery_s = max(res.recovery_s or 0.0, seconds)


STEP = 600.0  # seconds any one step of a scenario may take before it counts as stuck


# ------------------------------------------------------------------------------ the faults


def kills(n: int) -> Inject:
    """``n`` SIGKILLs of a random worker at random points of the run, each restarted at once."""
    def inject(arena: Arena, res: Result, rng: random.Random) -> None:
        points = sorted(rng.uniform(0.05, 0.95) for _ in range(n))
        for share in points:
            # At a random share of the input; once it is all in, a few seconds apart (the
            # detection stage may still be working on it).
            deadline = time.monotonic() + rng.uniform(1.0, 6.0)
            while arena.ingested() < share and time.monotonic() < deadline + 600:
                time.sleep(0.2)
                if arena.ingested() >= 1.0 and time.monotonic() >= deadline:
                    break
            victim = rng.choice(arena.running())
            victim.kill()
            _fault(arena, res)
            t = time.monotonic()
            arena.start_worker()
            _worst(res, arena.recovery(t))
    return inject


def restart(service: str) -> Inject:
    """SIGKILL ``service`` (kafka or redis) mid-stream and start it again; its data stays (the
    broker's log directory, Redis's append-only file, which brings back every acknowledged
    write)."""
    def inject(arena: Arena, res: Result, rng: random.Random) -> None:
        from credence.stack import Stack

        arena.wait_share(rng.uniform(0.2, 0.4), STEP)
        stack = Stack(arena.admin)
        _fault(arena, res)
        stack.stop(service, kill=True, echo=lambda m: None)
        time.sleep(1.0)
        stack.start(service, echo=lambda m: None)
        if service == "redis":
            arena.grant_redis()
        t = time.monotonic()
        _worst(res, arena.recovery(t))
        if service == "kafka":
            res.notes.append("recovery counted from the broker answering again")
    return inject


def rebalances(arena: Arena, res: Result, rng: random.Random) -> None:
    """Three rebalances: a second worker joins; the worker holding the detection stage leaves
    (SIGTERM); a third joins."""
    arena.wait_share(0.2, STEP)
    t = time.monotonic()
    arena.start_worker()
    _fault(arena, res)
    _worst(res, arena.recovery(t))
    arena.wait_share(0.45, STEP)
    holder = _detect_holder(arena)
    if holder is None:
        res.notes.append("no worker reported the detection stage; stopped the first")
        holder = arena.running()[0]
    holder.stop()
    _fault(arena, res)
    t = time.monotonic()
    _worst(res, arena.recovery(t))
    arena.wait_share(0.7, STEP)
    t = time.monotonic()
    arena.start_worker()
    _fault(arena, res)
    _worst(res, arena.recovery(t))


def _detect_holder(arena: Arena) -> Worker | None:
    """The worker whose /health lists the detection stage (it holds the sequenced partition)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for w in arena.running():
            _, info = w.health()
            if "detect" in info.get("stages", {}):
                return w
        time.sleep(0.5)
    return None


def maxmemory(arena: Arena, res: Result, rng: random.Random) -> None:
    """Redis full (``maxmemory`` just above what it uses, noeviction): the worker must stall
    without losing anything and /health turn red; when the limit is raised it recovers."""
    from credence.store.redis import connect

    arena.wait_share(rng.uniform(0.15, 0.3), STEP)
    r = connect(arena.admin)  # CONFIG is admin's: the worker user may not
    before = r.config_get("maxmemory")["maxmemory"]
    w = arena.running()[0]
    try:
        used = int(r.info("memory")["used_memory"])
        r.config_set("maxmemory", used + 256 * 1024)
        _fault(arena, res)
        t = time.monotonic()
        wait_for(lambda: w.health()[0] == 503, 120, "/health to turn red with Redis full", w)
        res.health_red = True
        res.notes.append(f"/health red {time.monotonic() - t:.1f} s after Redis filled up")
        stuck = arena.ingested()
        time.sleep(3.0)
        if arena.ingested() > stuck + 0.02:
            res.notes.append("the input kept moving while Redis refused writes")
    finally:
        r.config_set("maxmemory", before)
    t = time.monotonic()
    _worst(res, arena.recovery(t))
    wait_for(lambda: w.health()[0] == 200, 120, "/health green again", w)
    res.notes.append(f"/health green {time.monotonic() - t:.1f} s after the limit was raised")


def unreachable(service: str, seconds: float = 30.0) -> Inject:
    """``service`` (kafka or redis) unreachable for ``seconds``: the worker talks to it through a
    TCP proxy, which is cut and then restored."""
    def inject(arena: Arena, res: Result, rng: random.Random) -> None:
        from credence.chaos.harness import free_port
        from credence.stack import Stack, proxied_ports

        stack = Stack(arena.admin)
        if service == "kafka":
            listen, advertised = proxied_ports(stack.kafka_port)
            proxy = Proxy(advertised, listen, stack.kafka_host)
            where = {"kafka": f"{stack.kafka_host}:{advertised}"}
        else:
            port = free_port()
            proxy = Proxy(port, stack.redis_port, stack.redis_host)
            where = {"redis": arena.s.redis.replace(f":{stack.redis_port}", f":{port}", 1)}
        proxy.start()
        arena.closers.append(proxy.stop)  # up until the arena ends: the drain goes through it
        w = arena.start_worker(stall_seconds=5.0, **where)
        arena.wait_share(rng.uniform(0.15, 0.3), STEP)
        proxy.cut()
        _fault(arena, res)
        t0 = time.monotonic()
        red = False
        while time.monotonic() - t0 < seconds and w.running:
            red = red or w.health()[0] == 503
            time.sleep(0.5)
        proxy.restore()
        if not w.running:
            res.notes.append(f"the worker exited during the cut: {w.tail(3)}")
        res.health_red = red
        res.notes.append(f"/health {'red' if red else 'never red'} during the cut")
        t = time.monotonic()
        _worst(res, arena.recovery(t))
    return inject


#: the scenarios, in the order they run: name → (workers started before the fault, builder of
#: the fault from the run's options)
SCENARIOS: dict[str, tuple[int, Callable[[int, float], Inject]]] = {
    "kills": (2, lambda k, sec: kills(k)),
    "broker-restart": (1, lambda k, sec: restart("kafka")),
    "redis-restart": (1, lambda k, sec: restart("redis")),
    "rebalances": (1, lambda k, sec: rebalances),
    "maxmemory": (1, lambda k, sec: maxmemory),
    "kafka-unreachable": (0, lambda k, sec: unreachable("kafka", sec)),
    "redis-unreachable": (0, lambda k, sec: unreachable("redis", sec)),
}


def scenario(name: str, admin: Settings, lines: Sequence[bytes], workdir: Path, *,
             kills: int = 20, unreachable_seconds: float = 30.0, seed: int = 0,
             echo: Callable[[str], None] = lambda m: None, ref: Reference | None = None,
             **overrides: Any) -> Result:
    """Run the scenario ``name`` of `SCENARIOS` (judged against ``ref`` when given)."""
    if name not in SCENARIOS:
        raise KeyError(name)
    workers, build = SCENARIOS[name]
    return run_scenario(name, admin, lines, workdir, build(kills, unreachable_seconds),
                        workers=workers, seed=seed, echo=echo, ref=ref, **overrides)
