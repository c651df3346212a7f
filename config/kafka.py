"""confluent-kafka clients configured from the settings (admin, producers, inspector consumers).

librdkafka logs every refused connection to stderr by default; here its log goes to the
``credence.kafka`` Python logger (the name operators filter on), so a broker that is down is reported once, by the caller.
"""

from __future__ import annotations

import logging
from typing import Any

from config.settings import Settings

__all__ = ["kafka_config", "producer", "consumer", "admin"]

_log = logging.getLogger("credence.kafka")
_log.addHandler(logging.NullHandler())
_log.propagate = False


def kafka_config(settings: Settings, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {"bootstrap.servers": settings.kafka, "logger": _log,
                           "socket.timeout.ms": 10000}
    cfg.update(extra)
    return cfg


def producer(settings: Settings, **extra: Any):
    from confluent_kafka import Producer

    # Idempotent producer: a retried send is written once, in order (per partition).
    return Producer(kafka_config(settings, **{
        "enable.idempotence": True, "acks": "all", "linger.ms": 5,
        "compression.type": "lz4", "batch.num.messages": 10000,
        "queue.buffering.max.messages": 1_000_000, **extra}))


def consumer(settings: Settings, group: str, **extra: Any):
    from confluent_kafka import Consumer

    return Consumer(kafka_config(settings, **{
        "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False,
        **extra}))


def admin(settings: Settings, **extra: Any):
    from confluent_kafka.admin import AdminClient

    return AdminClient(kafka_config(settings, **extra))
