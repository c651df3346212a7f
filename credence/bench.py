"""`credence bench`: throughput and latency on the local broker and Redis, printed as figures.

One run, on isolated topics and keys (a fresh prefix, removed afterwards):

1. **raw consume**: a plain confluent-kafka consumer reads the benchmark's input topics — the
   ceiling any worker is compared with;
2. **worker end to end**: one `credence worker` process catches up on the same events (stage A:
   validation, features in Redis, forward; stage B: detection, scores), timed from start to the
   last input ingested and to the last tick decided; its peak RSS;
3. **latency**: events produced at a fixed rate with fresh timestamps; the worker's histogram of
   producer timestamp → features committed in Redis gives p50 and p99;
4. **replay**: `credence replay`'s core on the same events, in-process;
5. **Redis bytes per seller**: ``MEMORY USAGE`` of every seller feature key, per seller.

Figures are printed, never asserted (DEVELOPERS.md: performance is measured, not tested).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from config.settings import Settings
from config.topics import create_topics
from credence.chaos.harness import free_port, scrape_metrics

__all__ = ["run_bench", "BenchResult"]


@dataclass
class BenchResult:
    events: int = 0
    raw_consume_eps: float = 0.0
    worker_ingest_eps: float = 0.0
    worker_ingest_s: float = 0.0
    worker_detect_eps: float = 0.0
    worker_detect_s: float = 0.0
    worker_vs_raw: float = 0.0
    worker_peak_rss_mb: float = 0.0
    detect_peak_rss_mb: float = 0.0
    split: bool = True
    latency_rate: float = 0.0
    latency_events: int = 0
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    replay_eps: float = 0.0
    redis_bytes_per_seller: float = 0.0
    sellers: int = 0
    notes: list[str] = field(default_factory=list)

    def table(self) -> str:
        rows = [
            ("events", f"{self.events:,}"),
            ("raw confluent-kafka consume", f"{self.raw_consume_eps:,.0f} events/s"),
            ("workers", "1 ingest + 1 detect process" if self.split else "1 worker, both stages"),
            ("ingest (stage A) caught up", f"{self.worker_ingest_eps:,.0f} events/s "
                                           f"({self.worker_ingest_s:.1f} s)"),
            ("end to end (stage B) caught up", f"{self.worker_detect_eps:,.0f} events/s "
                                               f"({self.worker_detect_s:.1f} s)"),
            ("ingest / raw consume", f"{self.worker_vs_raw:.2f}"),
            ("peak RSS", f"ingest {self.worker_peak_rss_mb:,.0f} MB" + (
                f", detect {self.detect_peak_rss_mb:,.0f} MB" if self.split else "")),
            (f"produce → Redis latency at {self.latency_rate:,.0f}/s",
             f"p50 {_ms(self.latency_p50_ms)}, p99 {_ms(self.latency_p99_ms)} "
             f"({self.latency_events:,} events)"),
            ("replay (in-process)", f"{self.replay_eps:,.0f} events/s"),
            ("Redis bytes per seller", f"{self.redis_bytes_per_seller:,.0f} "
                                       f"({self.sellers:,} sellers)"),
        ]
        w = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{w}}  {v}" for k, v in rows) + "".join(
            f"\nnote: {n}" for n in self.notes)


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x:.0f} ms"


def _metrics(port: int) -> dict[str, float]:
    return scrape_metrics(port)


def _sum(m: dict[str, float], prefix: str) -> float:
    return sum(v for k, v in m.items() if k.startswith(prefix))


def _quantile(m: dict[str, float], name: str, q: float) -> float | None:
    """A quantile from a Prometheus histogram, interpolated within its bucket (as PromQL)."""
    buckets = sorted((float(k.split('le="')[1].split('"')[0]), v) for k, v in m.items()
                     if k.startswith(f"{name}_bucket{{") and 'le="+Inf"' not in k)
    total = m.get(f"{name}_count", 0.0)
    if not total:
        return None
    rank, prev_le, prev_n = q * total, 0.0, 0.0
    for le, n in buckets:
        if n >= rank:
            frac = (rank - prev_n) / (n - prev_n) if n > prev_n else 0.0
            return 1000 * (prev_le + (le - prev_le) * frac)
        prev_le, prev_n = le, n
    return 1000 * buckets[-1][0] if buckets else None


def _rss_peak_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _start_worker(settings: Settings, port: int, log: Path, role: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDENCE_")}
    env.update(settings.model_copy(update={"web_port": port}).environ())
    return subprocess.Popen([sys.executable, "-m", "credence.cli", "worker", "--role", role,  # noqa: S603
                             "--loglevel", "warning"], env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def run_bench(base: Settings, scale: float = 0.2, rate: float = 5000.0,
              latency_seconds: float = 20.0, split: bool = True, echo=print) -> BenchResult:
    from confluent_kafka import TopicPartition

    from config.kafka import admin, consumer, producer
    from credence.contract import TOPIC_OF_TYPE, iso
    from credence.replay import Replay
    from producers.scenario import Scenario
    from producers.simulator import simulate, write

    tag = "bench-" + uuid.uuid4().hex[:8]
    s = base.model_copy(update={"topic_prefix": f"{tag}.", "key_prefix": tag, "worker_id": tag,
                                "idle_seconds": 1.0})
    res = BenchResult(split=split)
    work = Path(tempfile.mkdtemp(prefix="credence-bench-"))
    create_topics(s)
    try:
        echo(f"simulating (scale {scale}) ...")
        sim = simulate(Scenario(seed=7, scale=scale))
        events_path, _ = write(sim, work)
        ev = sim.events
        res.events = len(ev.lines)
        p = producer(s)
        for t, k, v in zip(ev.types, ev.keys, ev.lines, strict=True):
            while True:
                try:
                    p.produce(s.topic(TOPIC_OF_TYPE[t]), value=v, key=k)
                    break
                except BufferError:
                    p.poll(0.05)
        p.flush(60)

        echo("raw consume ...")
        topics = [s.topic(t) for t in ("orders", "reviews", "records")]
        md = admin(s).list_topics(timeout=10)
        c = consumer(s, group=f"{tag}-raw", **{"fetch.max.bytes": 50 * 1024 * 1024})
        c.assign([TopicPartition(t, p, 0) for t in topics for p in md.topics[t].partitions])
        n, t0, last = 0, time.perf_counter(), time.perf_counter()
        while n < res.events and time.perf_counter() - last < 10:
            msgs = c.consume(num_messages=10_000, timeout=0.2)
            if msgs:
                n += len(msgs)
                last = time.perf_counter()
        res.raw_consume_eps = n / (time.perf_counter() - t0)
        c.close()

        echo(f"worker{'s' if split else ''} catching up ...")
        port, dport = free_port(), free_port()
        t0 = time.perf_counter()
        proc = _start_worker(s, port, work / "worker.log", "ingest" if split else "all")
        dproc = _start_worker(s, dport, work / "detect.log", "detect") if split else proc
        ingest_done = detect_done = None
        last_out, stable_since = -1.0, None
        try:
            while time.perf_counter() - t0 < 1800:
                time.sleep(0.5)
                if proc.poll() is not None or dproc.poll() is not None:
                    res.notes.append(f"a worker exited; see {work}")
                    break
                m = _metrics(port)
                dm = _metrics(dport) if split else m
                if ingest_done is None and _sum(m, "credence_events_total{") >= res.events:
                    ingest_done = time.perf_counter() - t0
                if ingest_done is not None:
                    outs = _sum(dm, "credence_outputs_total{") + dm.get("credence_ticks_total", 0)
                    if outs != last_out:
                        last_out, stable_since = outs, time.perf_counter()
                    elif time.perf_counter() - stable_since > 5:  # type: ignore[operator]
                        detect_done = stable_since - t0  # type: ignore[operator]
                        break
            res.worker_peak_rss_mb = _rss_peak_mb(proc.pid)
            res.detect_peak_rss_mb = _rss_peak_mb(dproc.pid) if split else 0.0
            if ingest_done:
                res.worker_ingest_s = ingest_done
                res.worker_ingest_eps = res.events / ingest_done
                res.worker_vs_raw = res.worker_ingest_eps / res.raw_consume_eps
            if detect_done:
                res.worker_detect_s = detect_done
                res.worker_detect_eps = res.events / detect_done
            res.notes.append("worker times include its start-up (faust, group join)")

            echo(f"latency at {rate:,.0f} events/s for {latency_seconds:.0f} s ...")
            before = _metrics(port)
            lines = [line for line, t in zip(ev.lines, ev.types, strict=True) if t == "order"]
            sent, start = 0, time.perf_counter()
            while time.perf_counter() - start < latency_seconds:
                due = int((time.perf_counter() - start) * rate)
                while sent < due:
                    d = json.loads(lines[sent % len(lines)])
                    d["order_id"] = f"lat-{sent}"
                    d["ts"] = iso(time.time_ns() // 1_000_000)
                    p.produce(s.topic("orders"), value=json.dumps(d).encode(),
                              key=d["seller_id"].encode())
                    sent += 1
                p.poll(0)
                time.sleep(0.001)
            p.flush(30)
            time.sleep(3)
            after = _metrics(port)
            delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
            res.latency_rate, res.latency_events = rate, sent
            res.latency_p50_ms = _quantile(delta, "credence_ingest_latency_seconds", 0.5)
            res.latency_p99_ms = _quantile(delta, "credence_ingest_latency_seconds", 0.99)
            res.worker_peak_rss_mb = max(res.worker_peak_rss_mb, _rss_peak_mb(proc.pid))
        finally:
            for p_ in {proc, dproc}:
                p_.terminate()
            for p_ in {proc, dproc}:
                try:
                    p_.wait(30)
                except subprocess.TimeoutExpired:
                    p_.kill()

        echo("Redis memory ...")
        res.redis_bytes_per_seller, res.sellers = _redis_per_seller(s)

        echo("replay ...")
        rep = Replay(base.model_copy(update={"key_prefix": tag}))
        stats = rep.run([str(events_path)], None)
        res.replay_eps = stats.events_per_s
    finally:
        _cleanup(s)
    return res


def _redis_per_seller(s: Settings) -> tuple[float, int]:
    from credence.store.redis import connect

    r = connect(s, decode=False)
    total, sellers = 0, set()
    prefix = f"{s.key_prefix}:s:"
    pipe = r.pipeline(transaction=False)
    keys = list(r.scan_iter(match=f"{prefix}*", count=2000))
    for k in keys:
        pipe.memory_usage(k)
        sellers.add(k.decode()[len(prefix):].rsplit(":", 1)[0])  # {seller}:{part}
    for v in pipe.execute():
        total += v or 0
    return (total / len(sellers) if sellers else 0.0), len(sellers)


def _cleanup(s: Settings) -> None:
    from config.kafka import admin
    from credence.store.redis import connect

    a = admin(s)
    names = [t for t in a.list_topics(timeout=10).topics if t.startswith(s.topic_prefix)]
    if names:
        for fut in a.delete_topics(names, operation_timeout=30).values():
            try:
                fut.result()
            except Exception:  # noqa: S110 - best effort: a benchmark's own topics
                pass
    r = connect(s, decode=False)
    batch = list(r.scan_iter(match=f"{s.key_prefix}:*", count=5000))
    for i in range(0, len(batch), 5000):
        r.unlink(*batch[i:i + 5000])


def as_dict(res: BenchResult) -> dict[str, Any]:
    return asdict(res)
