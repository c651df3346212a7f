"""Publishing contract events to Kafka with confluent-kafka: routing, pacing, progress, rate.

Values are sent as the exact bytes of the JSON lines (what a file holds is what Kafka gets),
keyed per the contract: ``seller_id`` on orders, reviews and records, ``entity_id`` on decisions.
Pacing is either a fixed rate (events per second) or a speed-up of event time (``ts``), or none
(as fast as the broker takes them).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from config.settings import Settings
from credence.contract import INPUT_TOPICS, TOPIC_OF_TYPE, InputTopic, parse_event
from producers.progress import Progress

__all__ = ["Publisher", "PublishStats", "PublishError", "Pacer", "RouteError", "route",
           "events_per_second", "publish"]


class PublishError(RuntimeError):
    """Kafka cannot take the events (unreachable, topics missing); the message is one line."""


class RouteError(ValueError):
    """A line that cannot be published: ``str(exc)`` is the reason reported with its number."""


def events_per_second(count: int, seconds: float) -> float:
    """The produce rate: events acknowledged by the broker per wall-clock second."""
    return count / seconds if seconds > 0 else 0.0


@dataclass
class PublishStats:
    sent: dict[str, int] = field(default_factory=dict)  # per contract topic, delivered
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    first_error: str | None = None

    @property
    def total(self) -> int:
        return sum(self.sent.values())

    @property
    def rate(self) -> float:
        return events_per_second(self.total, self.seconds)

    def summary(self) -> str:
        per = ", ".join(f"{t} {n:,}" for t, n in self.sent.items() if n)
        text = (f"sent {self.total:,} events ({per or 'none'}) in {self.seconds:.2f} s "
                f"({self.rate:,.0f} events/s); skipped {self.skipped:,} lines")
        if self.failed:
            text += f"; {self.failed:,} failed ({self.first_error})"
        return text


def route(line: bytes, *, validate: bool = True) -> tuple[InputTopic, str | None, int | None]:
    """(contract topic, key, ts in ms or None) of one JSON line, or `RouteError`.

    With ``validate`` the line must be a valid contract event; without, any JSON object with a
    routable ``type`` goes through as it is (so that workers' dead-letter handling can be fed).
    """
    if validate:
        try:
            ev = parse_event(line)
        except ValueError as e:
            raise RouteError(str(e)) from None
        return TOPIC_OF_TYPE[ev.type], ev.key, ev.ts
    try:
        obj: Any = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        raise RouteError(f"bad JSON: {e}") from None
    if not isinstance(obj, dict):
        raise RouteError(f"expected a JSON object, got {type(obj).__name__}")
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in TOPIC_OF_TYPE:
        raise RouteError(f"cannot route type {str(kind)[:40]!r}")
    key = obj.get("entity_id" if kind == "decision" else "seller_id")
    return TOPIC_OF_TYPE[kind], key if isinstance(key, str) else None, None


class Pacer:
    """Holds sending back to ``rate`` events/s, or to event time sped up ``speedup`` times."""

    def __init__(self, rate: float | None = None, speedup: float | None = None) -> None:
        if rate is not None and speedup is not None:
            raise ValueError("give a rate or a speed-up, not both")
        self.rate, self.speedup = rate, speedup
        self._t0: float | None = None
        self._ts0: int | None = None

    @property
    def active(self) -> bool:
        return self.rate is not None or self.speedup is not None

    def delay(self, n: int, ts_ms: int | None) -> float:
        """Seconds to wait before sending event number ``n`` (0-based) of time ``ts_ms``."""
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        if self.rate is not None:
            return self._t0 + n / self.rate - now
        if self.speedup is not None and ts_ms is not None:
            if self._ts0 is None:
                self._ts0 = ts_ms
            return self._t0 + (ts_ms - self._ts0) / 1000 / self.speedup - now
        return 0.0


class Publisher:
    """One confluent-kafka producer for the contract's input topics (with the prefix)."""

    def __init__(self, settings: Settings, *, pacer: Pacer | None = None,
                 total: int | None = None, progress: bool = True, label: str = "publish",
                 check_timeout: float = 10.0) -> None:
        from confluent_kafka import KafkaException

        from config.kafka import producer

        self.settings = settings
        self._p = producer(settings, on_delivery=self._delivered)
        try:
            topics = self._p.list_topics(timeout=check_timeout).topics
        except KafkaException as e:
            raise PublishError(f"Kafka at {settings.kafka} does not answer: "
                               f"{e.args[0].str()}") from None
        missing = [settings.topic(t) for t in INPUT_TOPICS if settings.topic(t) not in topics]
        if missing:
            raise PublishError(f"topic {missing[0]} does not exist: run `credence topics create`"
                               f" (CREDENCE_TOPIC_PREFIX={settings.topic_prefix!r})")
        self._names: dict[str, str] = {t: settings.topic(t) for t in INPUT_TOPICS}
        self._topic_of_name = {v: k for k, v in self._names.items()}
        self.stats = PublishStats(sent={t: 0 for t in INPUT_TOPICS})
        self.pacer = pacer or Pacer()
        self.progress = Progress(total, label, enabled=progress)
        self._n = 0
        self._t0 = time.monotonic()

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.stats.failed += 1
            if self.stats.first_error is None:
                self.stats.first_error = err.str()
        else:
            self.stats.sent[self._topic_of_name[msg.topic()]] += 1

    def send(self, topic: InputTopic, key: str | None, value: bytes,
             ts_ms: int | None = None) -> None:
        if self.pacer.active:
            wait = self.pacer.delay(self._n, ts_ms)
            while wait > 0:
                # Waiting in poll() serves delivery reports meanwhile.
                self._p.poll(min(wait, 0.2))
                self.progress.update(self._n)
                wait = self.pacer.delay(self._n, ts_ms)
        name = self._names[topic]
        k = key.encode() if key is not None else None
        while True:
            try:
                self._p.produce(name, value, k)
                break
            except BufferError:
                self._p.poll(0.05)  # the local queue is full: let librdkafka drain it
        self._n += 1
        if self._n & 1023 == 0:
            self._p.poll(0)
            self.progress.update(self._n)

    def close(self, timeout: float = 120.0) -> PublishStats:
        """Wait for every delivery report (up to ``timeout`` s); what is left counts as failed."""
        deadline = time.monotonic() + timeout
        left = self._p.flush(1.0)
        while left and time.monotonic() < deadline:
            self.progress.update(self._n - left)
            left = self._p.flush(1.0)
        if left:
            self.stats.failed += left
            self.stats.first_error = self.stats.first_error or "delivery timed out"
        self.stats.seconds = time.monotonic() - self._t0
        self.progress.close(self.stats.total)
        return self.stats


def publish(settings: Settings, events: Iterable[tuple[InputTopic, str | None, bytes,
                                                        int | None]], *,
            total: int | None = None, pacer: Pacer | None = None, progress: bool = True,
            label: str = "publish") -> PublishStats:
    """Send (topic, key, value, ts) tuples and wait for delivery."""
    pub = Publisher(settings, pacer=pacer, total=total, progress=progress, label=label)
    for topic, key, value, ts in events:
        pub.send(topic, key, value, ts)
    return pub.close()
