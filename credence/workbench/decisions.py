"""Producing an inspector's decision to ``decisions`` (acks=all), as the inspector principal
(and a supervisor's run-time policy change to ``credence-policy``, the same way).

The inspector named in the event is the logged-in user, never a form field: the workbench is
what makes the ``inspector`` field of a decision trustworthy. Each decision is validated
against the contract before it is sent, and the send waits for the broker's acknowledgement,
so a page that says "sent" means the decision is in the topic.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Literal

import orjson

from config.settings import Settings
from credence.contract import InvalidEvent, iso, parse_event

__all__ = ["DecisionSender", "DecisionError", "Action", "decision_events"]

Action = Literal["confirm", "dismiss", "lift"]


class DecisionError(RuntimeError):
    """The decision was not accepted (invalid, or not acknowledged by Kafka); one line."""


def decision_events(entity_id: str, entity_type: str, action: str, inspector: str,
                    alert_ids: list[str], reason: str, ts_ms: int | None = None
                    ) -> list[dict[str, Any]]:
    """The contract events of one decision: one per alert it covers (the contract's decision
    names one alert), or one without an alert (e.g. lifting a listing with no open alert)."""
    ts = iso(int(time.time() * 1000) if ts_ms is None else ts_ms)
    base = {"type": "decision", "entity_id": entity_id, "entity_type": entity_type,
            "action": action, "inspector": inspector, "ts": ts, "note": reason}
    events = [{**base, "alert_id": a} for a in alert_ids] or [base]
    for e in events:
        try:
            parse_event(orjson.dumps(e))
        except InvalidEvent as err:
            raise DecisionError(f"not a valid decision: {err}") from None
    return events


class DecisionSender:
    def __init__(self, settings: Settings, producer: Any | None = None):
        self.s = settings
        self._producer = producer
        self._lock = threading.Lock()  # one send at a time: flush() waits for all

    def _p(self) -> Any:
        if self._producer is None:
            from config.kafka import producer

            self._producer = producer(self.s, **{"acks": "all", "linger.ms": 0})
        return self._producer

    def send_policy(self, change: dict[str, Any], timeout: float = 15.0) -> None:
        """A supervisor's run-time policy change, keyed by its setting (compacted topic)."""
        from config.topics import POLICY

        self.send([change], timeout, topic=POLICY, key_field="setting")

    def send_casework(self, row: dict[str, Any], timeout: float = 15.0) -> None:
        """An assignment or a note (`ReadModel.casework_row`), keyed by its entity."""
        from config.topics import CASEWORK

        self.send([row], timeout, topic=CASEWORK, key_field="entity_id")

    def send(self, events: list[dict[str, Any]], timeout: float = 15.0,
             topic: str = "decisions", key_field: str = "entity_id") -> None:
        errors: list[str] = []

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                errors.append(err.str())

        with self._lock:
            p = self._p()
            for e in events:
                p.produce(self.s.topic(topic), key=e[key_field].encode(),
                          value=orjson.dumps(e), on_delivery=delivered)
            left = p.flush(timeout)
        if left:
            raise DecisionError(f"Kafka did not acknowledge the decision within {timeout:.0f} s")
        if errors:
            raise DecisionError(f"Kafka refused the decision: {errors[0]}")
