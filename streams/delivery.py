"""Which outputs a send cut short by a crash did deliver (docs/architecture.md, exactly-once effect).

An output's marker in Redis goes through two values: ``p:<ms>`` (pending: written with SET NX
before the send, by whoever sends it first) and ``1`` (published: written once the broker has
acknowledged it). A worker killed between the two leaves the marker pending; the next sender
cannot tell from Redis whether the broker has the output. It asks the broker: every output
carries its id in a header, so reading the output topics from the pending time on (the send's
own clock stamped both, CreateTime) finds the ones delivered. Before this, a SIGKILL in that
window published the whole batch again (133 duplicates in one CI run of the fault suite).

This reads only what was written since the pending send started (a batch's outputs), not the
topic, and runs only after a crash or a failed send.
"""

from __future__ import annotations

from collections.abc import Iterable

from config.kafka import consumer
from config.settings import Settings

__all__ = ["OUTPUT_ID_HEADER", "SLACK_MS", "delivered"]

OUTPUT_ID_HEADER = "credence-output-id"
# How far before the pending time the search starts: the marker is written before the send, the
# message stamped after it, on one clock; the margin only covers a clock stepped back meanwhile.
SLACK_MS = 60_000


def delivered(settings: Settings, topics: Iterable[str], since_ms: int,
              wanted: set[str], timeout_s: float = 10.0) -> set[str]:
    """The ids in ``wanted`` that the ``topics`` hold in a message stamped at ``since_ms`` -
    `SLACK_MS` or later. Raises ``confluent_kafka.KafkaException`` when the broker does not
    answer (the caller's batch retries)."""
    from confluent_kafka import KafkaError, KafkaException, TopicPartition

    found: set[str] = set()
    if not wanted:
        return found
    c = consumer(settings, group=f"{settings.worker_id}-delivery", **{"enable.partition.eof": True})
    try:
        meta = c.list_topics(timeout=timeout_s)
        asked = [TopicPartition(t, p, max(0, since_ms - SLACK_MS))
                 for t in sorted(set(topics)) for p in sorted(meta.topics[t].partitions)]
        starts = [tp for tp in c.offsets_for_times(asked, timeout=timeout_s) if tp.offset >= 0]
        ends: dict[tuple[str, int], int] = {}
        for tp in starts:
            _, hi = c.get_watermark_offsets(TopicPartition(tp.topic, tp.partition),
                                            timeout=timeout_s)
            if tp.offset < hi:
                ends[(tp.topic, tp.partition)] = hi
        if not ends:
            return found
        c.assign([tp for tp in starts if (tp.topic, tp.partition) in ends])
        while ends and found != wanted:
            msgs = c.consume(num_messages=500, timeout=timeout_s)
            if not msgs:
                raise KafkaException(KafkaError(KafkaError._TIMED_OUT,
                                                "output topics did not answer"))
            for m in msgs:
                where = (m.topic(), m.partition())
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        ends.pop(where, None)
                        continue
                    raise KafkaException(err)
                for key, value in m.headers() or ():
                    if key == OUTPUT_ID_HEADER and value is not None:
                        oid = value.decode()
                        if oid in wanted:
                            found.add(oid)
                if where in ends and m.offset() >= ends[where] - 1:
                    del ends[where]  # compacted topics can skip the last offset: EOF ends those
        return found
    finally:
        c.close()
