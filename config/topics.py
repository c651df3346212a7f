"""The topics of Credence: the contract's (CONTRACT.md sections 1-3) and one internal topic.

`create_topics` is idempotent: it creates what is missing, leaves what exists, and reports which.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

from config.settings import Settings

__all__ = ["TopicSpec", "topic_specs", "create_topics", "SEQUENCED", "TopicError",
           "ALERT_RETENTION_DAYS", "POLICY", "CASEWORK"]

Cleanup = Literal["delete", "compact"]

# Stage A (parallel, per input partition) forwards validated events here for stage B, the single
# detection stage that needs a global, totally ordered view (see streams/app.py).
SEQUENCED = "credence-sequenced"
ALERT_RETENTION_DAYS = 400
# Supervisors' run-time changes of the blacklist threshold and alert cool-down (credence.tuning).
POLICY = "credence-policy"
# Inspectors' assignments and notes (credence.workbench): the workbench's read model is rebuilt
# from the topics when lost, and these exist nowhere else.
CASEWORK = "credence-casework"


class TopicError(RuntimeError):
    """Kafka refused or could not be reached; the message is one line."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    cleanup: Cleanup = "delete"
    config: dict[str, str] = field(default_factory=dict)

    def kafka_config(self) -> dict[str, str]:
        cfg = {"cleanup.policy": self.cleanup, **self.config}
        if self.cleanup == "compact":
            # Keep the latest entry per key promptly visible to new readers of the table.
            cfg.setdefault("min.cleanable.dirty.ratio", "0.1")
            cfg.setdefault("segment.ms", str(6 * 3600 * 1000))
        return cfg


def topic_specs(settings: Settings, partitions: int | None = None) -> list[TopicSpec]:
    n = partitions or settings.partitions
    t = settings.topic
    # Inputs take values up to 2 MiB, so an oversized event reaches the worker and becomes a
    # dead letter with its reason, instead of being refused at the producer without a trace.
    big = {"max.message.bytes": str(2 * 1024 * 1024)}
    return [
        TopicSpec(t("orders"), n, config=big),
        TopicSpec(t("reviews"), n, config=big),
        TopicSpec(t("records"), n, config=big),
        TopicSpec(t("decisions"), n, config=big),
        # An alert keeps its case in the inspector workbench until someone decides it, and a
        # workbench read model that is lost is rebuilt from this topic: keep alerts long
        # (400 days) rather than the broker's default week.
        TopicSpec(t("alerts"), n, config={"retention.ms": str(ALERT_RETENTION_DAYS * 86_400_000)}),
        TopicSpec(t("blacklist"), n, "compact"),
        TopicSpec(t("credit-scores"), n, "compact"),
        TopicSpec(t("dead-letters"), n),
        # Run-time policy changes (credence.tuning): compacted, the latest value per setting.
        TopicSpec(t(POLICY), 1, "compact"),
        # Assignments and notes, in one total order (the latest assignment wins), kept as long
        # as the alerts whose cases they belong to.
        TopicSpec(t(CASEWORK), 1, config={"retention.ms": str(ALERT_RETENTION_DAYS * 86_400_000)}),
        # One partition is the point: a total order for the detection stage. A day of retention
        # covers any restart from the last detection snapshot (CREDENCE_SNAPSHOT_SECONDS).
        TopicSpec(t(SEQUENCED), 1, config={"retention.ms": str(24 * 3600 * 1000),
                                           "max.message.bytes": str(8 * 1024 * 1024)}),
    ]


def create_topics(settings: Settings, partitions: int | None = None,
                  timeout: float = 15.0, only: Collection[str] | None = None) -> dict[str, str]:
    """Create the missing topics (of ``only``, names without the prefix, if given); return
    ``{name: "created" | "exists"}``. A principal sees only the topics its ACLs name, so one
    that is not the admin passes the topics it uses: any other looks missing to it."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    from config.kafka import admin as admin_client

    admin = admin_client(settings)
    specs = topic_specs(settings, partitions)
    if only is not None:
        wanted = {settings.topic(x) for x in only}
        specs = [s for s in specs if s.name in wanted]
    try:
        existing = set(admin.list_topics(timeout=timeout).topics)
    except KafkaException as e:
        raise TopicError(f"Kafka at {settings.kafka} does not answer: {e.args[0].str()}") from None
    result = {s.name: "exists" for s in specs if s.name in existing}
    todo = [NewTopic(s.name, num_partitions=s.partitions, replication_factor=-1,
                     config=s.kafka_config()) for s in specs if s.name not in existing]
    if todo:
        for name, fut in admin.create_topics(todo, request_timeout=timeout).items():
            try:
                fut.result()
                result[name] = "created"
            except KafkaException as e:
                err = e.args[0]
                if err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    result[name] = "exists"
                else:
                    raise TopicError(f"cannot create {name}: {err.str()}") from None
    return result
