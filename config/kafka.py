"""confluent-kafka clients configured from the settings (admin, producers, inspector consumers).

Every client authenticates with SASL (CONTRACT.md section 5): the user and password come from the
settings, which take them from the environment or the principal's credential file; the password is
handed to librdkafka in the config dict only, never on a command line or in a log.

librdkafka logs every refused connection to stderr by default; here its log goes to the
``credence.kafka`` Python logger (the name operators filter on), so a broker that is down is reported once, by the caller.
"""

from __future__ import annotations

import logging
from typing import Any

from config.settings import Settings, SettingsError

__all__ = ["kafka_config", "security_config", "producer", "consumer", "admin"]

_log = logging.getLogger("credence.kafka")
_log.addHandler(logging.NullHandler())
_log.propagate = False


def security_config(settings: Settings) -> dict[str, str]:
    """librdkafka's security keys for the settings (also what kcat takes with ``-X``)."""
    proto = settings.kafka_security_protocol
    if proto == "PLAINTEXT":
        return {"security.protocol": proto}
    password = settings.kafka_password.get_secret_value()
    if not settings.kafka_username or not password:
        raise SettingsError(
            f"no Kafka credentials for {settings.kafka_username or 'this command'}: set "
            "CREDENCE_KAFKA_USERNAME and CREDENCE_KAFKA_PASSWORD, or run `credence stack up`, "
            f"which writes them under {settings.home}/credentials")
    cfg = {"security.protocol": proto, "sasl.mechanism": settings.kafka_sasl_mechanism,
           "sasl.username": settings.kafka_username, "sasl.password": password}
    if proto == "SASL_SSL" and settings.kafka_ssl_cafile:
        cfg["ssl.ca.location"] = settings.kafka_ssl_cafile
    return cfg


def kafka_config(settings: Settings, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {"bootstrap.servers": settings.kafka, "logger": _log,
                           "socket.timeout.ms": 10000, **security_config(settings)}
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
