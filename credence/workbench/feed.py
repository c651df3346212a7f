"""Keeps the read model up to date: a plain Kafka consumer of ``alerts``, ``blacklist``,
``credit-scores`` and ``decisions``, as the inspector principal.

It assigns itself every partition (no consumer group: the offsets it has applied live in the
read model, next to the effects, so a read model that is lost restarts from the topics' start
and is rebuilt; one in Redis restarts where it stopped). One workbench process feeds a read
model; more would apply the same messages twice, which is harmless (applying is idempotent)
but wasted.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from config.settings import Settings
from credence.workbench.readmodel import TOPICS, ReadModel

__all__ = ["Feed"]

log = logging.getLogger("credence.workbench")


class Feed:
    def __init__(self, settings: Settings, model: ReadModel):
        self.s, self.model = settings, model
        self.by_name = {settings.topic(t): t for t in TOPICS}
        self._consumer: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.applied = 0
        self.skipped = 0
        self.error: str | None = None

    def _assign(self) -> Any:
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        from config.kafka import consumer

        # A group named after the principal (its ACLs allow those); nothing is committed to it.
        c = consumer(self.s, group=f"{self.s.kafka_username or 'inspector'}-workbench",
                     **{"enable.auto.offset.store": False})
        md = c.list_topics(timeout=10)
        missing = [t for t in self.by_name if t not in md.topics]
        if missing:
            c.close()
            raise RuntimeError(f"topics {', '.join(missing)} do not exist yet "
                               "(`credence topics create`, or start a worker)")
        done = self.model.offsets()
        tps = [TopicPartition(t, p, done.get(f"{self.by_name[t]}/{p}", OFFSET_BEGINNING))
               for t in self.by_name for p in md.topics[t].partitions]
        c.assign(tps)
        return c

    def run_once(self, timeout: float = 0.5, max_messages: int = 500) -> int:
        """Apply one batch; return how many messages it had."""
        if self._consumer is None:
            self._consumer = self._assign()
        msgs = self._consumer.consume(num_messages=max_messages, timeout=timeout)
        offsets: dict[str, int] = {}
        n = 0
        for m in msgs:
            if m.error() is not None:
                continue
            name = self.by_name[m.topic()]
            if self.model.apply(name, m.value()):
                self.applied += 1
            else:
                self.skipped += 1
            offsets[f"{name}/{m.partition()}"] = m.offset() + 1
            n += 1
        self.model.commit(offsets)
        return n

    def _loop(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                self.run_once()
                self.error, delay = None, 0.5
            except Exception as e:  # noqa: BLE001 - Kafka or Redis away: keep trying, say why
                self.error = str(e)
                log.warning("read model feed: %s; retrying in %.0f s", e, delay)
                if self._consumer is not None:
                    try:
                        self._consumer.close()
                    except Exception:  # noqa: BLE001, S110 - already broken
                        pass
                    self._consumer = None
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)

    def start(self) -> Feed:
        self._thread = threading.Thread(target=self._loop, name="workbench-feed", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def drain(self, idle: float = 2.0, timeout: float = 60.0) -> None:
        """Apply until nothing arrives for ``idle`` seconds (tests, `credence export`)."""
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            if self.run_once(timeout=0.3):
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= idle:
                return
