"""Run-time policy: the blacklist threshold and the alert cool-down, changed without a restart.

A supervisor's change is an input event like any other, with its own event time::

    {"type": "policy", "setting": "blacklist_threshold", "value": 0.85, "by": "sue",
     "reason": "...", "ts": "2026-11-30T10:00:00Z"}

It travels on the internal topic ``credence-policy`` (with ``CREDENCE_TOPIC_PREFIX``; one
partition, compacted, keyed by the setting: a worker that starts from nothing still reads the
latest value of each), which only the inspector principal (the workbench) may write and the
worker reads as one more input. Stage A accepts the type on that topic only (anywhere else it is
a dead letter, as before), and forwards it; stage B sequences it with the other events and the
engine applies it when its tick is processed, so every decision of that tick and after uses the
new value. ``credence replay`` applies a policy line of its input files the same way, at its
``ts``: the same events (policy changes included) in the same order give the same outputs.

Compaction keeps only the latest change per setting: a full re-run of old inputs from a
compacted topic applies the current value from that change's ``ts`` on, not the history before
it (the audit trail of the workbench keeps the history). The values live in the engine's state,
so they survive restarts in its snapshot, and the settings (``CREDENCE_BLACKLIST_THRESHOLD``,
``CREDENCE_ALERT_COOLDOWN_SECONDS``) are only the values before the first change.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Protocol

import orjson
from pydantic import Field, ValidationError, model_validator

from config.topics import POLICY
from credence.contract import (
    Event,
    Id,
    InvalidEvent,
    Text,
    _Event,
    _reason,
    parse_event,
    stable_id,
)


class Tunable(Protocol):
    """What a policy change touches: the engine's blacklist policy and alerting (a protocol,
    so that the engine can import this module and not the other way round)."""

    policy: Any
    alerting: Any

__all__ = ["POLICY_TOPIC", "TUNABLE", "Setting", "PolicyChange", "parse_policy", "parse_input",
           "current", "apply_change"]

POLICY_TOPIC = POLICY  # the name in config.topics, without the prefix

Setting = Literal["blacklist_threshold", "alert_cooldown_seconds"]
# setting → (least, greatest, what it means)
TUNABLE: dict[str, tuple[float, float, str]] = {
    "blacklist_threshold": (0.05, 1.0, "suspicion (0-1) at which an entity is listed "
                                       "automatically"),
    "alert_cooldown_seconds": (0, 30 * 86400, "event-time seconds between two alerts of one "
                                              "seller and detector, unless the later one "
                                              "escalates"),
}


class PolicyChange(_Event):
    type: Literal["policy"] = "policy"
    setting: Setting
    value: Annotated[float, Field(allow_inf_nan=False)]
    by: Id
    reason: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _int_value(cls, data: Any) -> Any:
        # A JSON integer is a valid value (strict mode would refuse 3600 for a float field).
        if isinstance(data, dict) and isinstance(data.get("value"), int) and \
                not isinstance(data.get("value"), bool):
            data = {**data, "value": float(data["value"])}
        return data

    @model_validator(mode="after")
    def _in_range(self) -> PolicyChange:
        lo, hi, _ = TUNABLE[self.setting]
        if not lo <= self.value <= hi:
            raise ValueError(f"{self.setting} must be within {lo:g}..{hi:g}, not {self.value:g}")
        return self

    @property
    def event_id(self) -> str:
        return stable_id("policy", self.setting, self.value, self.by, self.ts)

    @property
    def key(self) -> str:
        return self.setting


def parse_policy(raw: bytes | str, *, max_bytes: int = 65536) -> PolicyChange:
    """Decode and validate a policy change; `InvalidEvent` with the reason otherwise."""
    if len(raw) > max_bytes:
        raise InvalidEvent(f"payload of {len(raw)} bytes exceeds the {max_bytes}-byte limit")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise InvalidEvent(f"bad JSON: {e}") from None
    if not isinstance(obj, dict) or obj.get("type") != "policy":
        raise InvalidEvent("only policy changes belong on the policy topic")
    try:
        return PolicyChange.model_validate(obj)
    except ValidationError as err:
        raise InvalidEvent(f"policy: {_reason(err)}") from None


def parse_input(raw: bytes | str, *, max_bytes: int = 65536) -> Event | PolicyChange:
    """A contract event, or a policy change (replay's files and the sequenced topic hold both)."""
    try:
        is_policy = b'"policy"' in (raw if isinstance(raw, bytes) else raw.encode()) and \
            orjson.loads(raw).get("type") == "policy"
    except (orjson.JSONDecodeError, AttributeError):
        is_policy = False
    if is_policy:
        return parse_policy(raw, max_bytes=max_bytes)
    return parse_event(raw, max_bytes=max_bytes)


def current(engine: Tunable) -> dict[str, float]:
    """The values the engine decides with now."""
    return {"blacklist_threshold": engine.policy.threshold,
            "alert_cooldown_seconds": engine.alerting.cooldown_ms / 1000}


def apply_change(engine: Tunable, change: PolicyChange) -> None:
    if change.setting == "blacklist_threshold":
        engine.policy.threshold = change.value
    elif change.setting == "alert_cooldown_seconds":
        engine.alerting.cooldown_ms = int(change.value * 1000)
