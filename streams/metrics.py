"""Prometheus metrics of a worker, on the faust web port at ``/metrics``.

Each app has its own registry (tests run several apps in one process).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events = Counter("credence_events_total", "Input events by topic and outcome",
                              ["topic", "outcome"], registry=r)
        self.dead_letters = Counter("credence_dead_letters_total", "Invalid inputs",
                                    ["topic"], registry=r)
        self.batch_seconds = Histogram("credence_batch_seconds", "Time to process a batch",
                                       ["stage"], buckets=_LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("credence_batch_events", "Events per batch", ["stage"],
                                    buckets=(1, 10, 100, 500, 1000, 2000, 5000), registry=r)
        self.lag = Gauge("credence_consumer_lag", "High watermark minus next offset",
                         ["topic", "partition"], registry=r)
        self.outputs = Counter("credence_outputs_total", "Published outputs", ["topic"],
                               registry=r)
        self.recovered = Counter("credence_outputs_found_delivered_total",
                                 "Outputs of a send cut short that the broker already had "
                                 "(found by id in the output topics, not sent again)",
                                 registry=r)
        self.retries = Counter("credence_retries_total", "Transient Redis/Kafka failures retried",
                               ["what"], registry=r)
        self.ticks = Counter("credence_ticks_total", "Event-time ticks closed", registry=r)
        self.late = Counter("credence_late_events_total", "Events whose tick had closed",
                            registry=r)
        self.expired = Counter("credence_expired_writes_total",
                               "Feature writes older than the retention (dropped)", registry=r)
        self.watermark = Gauge("credence_watermark_ms", "Event-time watermark of detection",
                               registry=r)
        self.last_progress = Gauge("credence_last_progress_seconds",
                                   "Wall time of the last processed batch", ["stage"],
                                   registry=r)
        # From the producer's record timestamp to the batch's features committed in Redis and
        # forwarded: the platform-facing latency of stage A.
        self.ingest_latency = Histogram(
            "credence_ingest_latency_seconds", "Produce to features in Redis, per event",
            buckets=(0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0,
                     2.5, 5.0, 10.0, 30.0), registry=r)
        self.snapshot_seconds = Histogram("credence_snapshot_seconds", "Snapshot save time",
                                          buckets=_LATENCY_BUCKETS, registry=r)
        self.progress: dict[str, float] = {}

    def mark(self, stage: str) -> None:
        now = time.time()
        self.progress[stage] = now
        self.last_progress.labels(stage).set(now)

    def render(self) -> bytes:
        return generate_latest(self.registry)
