"""The event types of ``CONTRACT.md``: one model per event in and out, and the parser.

Inputs are validated strictly: an identifier must be a JSON string, a rating a JSON integer, an
amount a JSON number; ``ts`` is either an ISO 8601 string *with a zone* or integer epoch
milliseconds, and is held as integer epoch milliseconds (UTC) inside Credence. Anything that does
not fit raises `InvalidEvent` whose message names the field and why, which becomes the ``error``
of a dead letter.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    WithJsonSchema,
)

__all__ = [
    "EventType", "RecordSource", "EntityType", "DecisionAction", "Severity", "BlacklistAction",
    "InputTopic", "OutputTopic", "INPUT_TOPICS", "OUTPUT_TOPICS", "TOPIC_OF_TYPE",
    "Order", "Refund", "Review", "Record", "Decision", "Event", "EVENT_MODELS",
    "Alert", "BlacklistEntry", "CreditScore", "DeadLetter", "Suspicion",
    "InvalidEvent", "parse_event", "parse_ts", "iso", "stable_id", "DEAD_LETTER_PAYLOAD_BYTES",
    "MINUTE_MS", "HOUR_MS", "DAY_MS",
]

EventType = Literal["order", "refund", "review", "record", "decision"]
RecordSource = Literal["customs", "invoice", "court", "ipr", "registry"]
EntityType = Literal["seller", "account"]
DecisionAction = Literal["confirm", "dismiss", "lift"]
Severity = Literal["low", "medium", "high"]
BlacklistAction = Literal["add", "remove"]
InputTopic = Literal["orders", "reviews", "records", "decisions"]
OutputTopic = Literal["alerts", "blacklist", "credit-scores", "dead-letters"]

INPUT_TOPICS: tuple[InputTopic, ...] = ("orders", "reviews", "records", "decisions")
OUTPUT_TOPICS: tuple[OutputTopic, ...] = ("alerts", "blacklist", "credit-scores", "dead-letters")
TOPIC_OF_TYPE: dict[str, InputTopic] = {
    "order": "orders", "refund": "orders", "review": "reviews",
    "record": "records", "decision": "decisions",
}
DEAD_LETTER_PAYLOAD_BYTES = 4096

# Event time is epoch milliseconds (section 1); its units, defined once for the whole project.
MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

# Epoch-ms bounds: anything outside is a unit mistake (seconds, microseconds), not a date.
_TS_MIN = 0
_TS_MAX = 7_258_118_400_000  # 2200-01-01
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


# --------------------------------------------------------------------------- time


def parse_ts(value: Any) -> int:
    """``ts`` in either contract form → integer epoch milliseconds (UTC)."""
    if isinstance(value, bool):
        raise ValueError("must be an ISO 8601 string with a zone or integer epoch milliseconds")
    if isinstance(value, int):
        ms = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not an ISO 8601 time: {value[:40]!r}") from None
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ValueError(f"ISO 8601 time without a zone: {value[:40]!r}")
        ms = (dt - _EPOCH) // _MS
    else:
        raise ValueError("must be an ISO 8601 string with a zone or integer epoch milliseconds")
    if not _TS_MIN <= ms < _TS_MAX:
        raise ValueError(f"epoch milliseconds out of range: {ms}")
    return ms


def iso(ms: int) -> str:
    """Epoch milliseconds → ISO 8601 UTC with millisecond precision (the contract's output form)."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def stable_id(*parts: object, n: int = 20) -> str:
    """A deterministic id from its inputs (same input → same id), hex of BLAKE2b."""
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        h.update(str(p).encode())
        h.update(b"\x1f")
    return h.hexdigest()[:n]


# --------------------------------------------------------------------------- field types

EventTime = Annotated[int, BeforeValidator(parse_ts), WithJsonSchema({
    "anyOf": [{"type": "string", "format": "date-time",
               "description": "ISO 8601 with a zone, e.g. 2026-11-27T13:31:00.123Z or +08:00"},
              {"type": "integer", "minimum": 0, "description": "epoch milliseconds"}]})]
Id = Annotated[StrictStr, Field(min_length=1, max_length=256)]
PositiveAmount = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegativeAmount = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Text = Annotated[StrictStr, Field(max_length=8192)]


class _Model(BaseModel):
    # strict: "12.5" is not an amount and 123 is not an identifier (CONTRACT.md section 1).
    model_config = ConfigDict(frozen=True, extra="ignore", strict=True)


class _Event(_Model):
    ts: EventTime

    @property
    def event_id(self) -> str:
        """The idempotency key: the same type and id have the effect of one event."""
        raise NotImplementedError

    @property
    def key(self) -> str:
        """The Kafka key of the event's topic."""
        return self.seller_id  # type: ignore[attr-defined]


class Order(_Event):
    type: Literal["order"] = "order"
    order_id: Id
    seller_id: Id
    buyer_id: Id
    amount: PositiveAmount
    item_id: Id | None = None
    quantity: Annotated[StrictInt, Field(ge=1)] = 1
    currency: Annotated[StrictStr, Field(pattern=r"^[A-Z]{3}$")] = "CNY"
    device_id: Id | None = None
    ip: Id | None = None
    payment_id: Id | None = None
    address_id: Id | None = None
    tracking_no: Annotated[StrictStr, Field(max_length=256)] | None = None
    buyer_registered: EventTime | None = None

    @property
    def event_id(self) -> str:
        return self.order_id

    @property
    def shipped(self) -> bool:
        return bool(self.tracking_no)


class Refund(_Event):
    type: Literal["refund"] = "refund"
    order_id: Id
    seller_id: Id
    amount: PositiveAmount
    reason: Text | None = None

    @property
    def event_id(self) -> str:
        return self.order_id


class Review(_Event):
    type: Literal["review"] = "review"
    review_id: Id
    seller_id: Id
    reviewer_id: Id
    rating: Annotated[StrictInt, Field(ge=1, le=5)]
    order_id: Id | None = None
    item_id: Id | None = None
    text: Text | None = None
    reviewer_registered: EventTime | None = None

    @property
    def event_id(self) -> str:
        return self.review_id


class Record(_Event):
    type: Literal["record"] = "record"
    record_id: Id
    seller_id: Id
    source: RecordSource
    kind: Annotated[StrictStr, Field(min_length=1, max_length=128)]
    amount: NonNegativeAmount | None = None
    details: dict[str, Any] | None = None

    @property
    def event_id(self) -> str:
        return self.record_id


class Decision(_Event):
    type: Literal["decision"] = "decision"
    entity_id: Id
    entity_type: EntityType
    action: DecisionAction
    inspector: Id
    alert_id: Id | None = None
    note: Text | None = None

    @property
    def event_id(self) -> str:
        # A decision has no id field; the same decision sent twice has the same content.
        return stable_id(self.entity_type, self.entity_id, self.action, self.inspector,
                         self.ts, self.alert_id)

    @property
    def key(self) -> str:
        return self.entity_id


Event = Order | Refund | Review | Record | Decision
EVENT_MODELS: dict[str, type[_Event]] = {
    "order": Order, "refund": Refund, "review": Review, "record": Record, "decision": Decision,
}


# --------------------------------------------------------------------------- parsing


class InvalidEvent(ValueError):
    """An input that does not fit the contract; ``str(exc)`` is the dead letter's reason."""


def _reason(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:3]:
        loc = ".".join(str(x) for x in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "missing":
            parts.append(f"missing field {loc!r}")
        else:
            got = e.get("input")
            shown = "" if isinstance(got, dict | list) else f" (got {repr(got)[:40]})"
            parts.append(f"field {loc!r}: {msg}{shown}")
    return "; ".join(parts)


def parse_event(raw: bytes | str | dict[str, Any], *, max_bytes: int = 65536) -> Event:
    """Decode and validate one input event; raise `InvalidEvent` with a precise reason."""
    if isinstance(raw, dict):
        obj: Any = raw
    else:
        size = len(raw)
        if size > max_bytes:
            raise InvalidEvent(f"payload of {size} bytes exceeds the {max_bytes}-byte limit")
        if isinstance(raw, bytes):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise InvalidEvent(f"payload is not valid UTF-8 (byte {e.start})") from None
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise InvalidEvent(f"bad JSON: {e}") from None
    if not isinstance(obj, dict):
        raise InvalidEvent(f"expected a JSON object, got {type(obj).__name__}")
    kind = obj.get("type")
    if kind is None:
        raise InvalidEvent("missing field 'type'")
    model = EVENT_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise InvalidEvent(f"unknown type {str(kind)[:40]!r}")
    try:
        return model.model_validate(obj)  # type: ignore[return-value]
    except ValidationError as err:
        raise InvalidEvent(f"{kind}: {_reason(err)}") from None


# --------------------------------------------------------------------------- outputs


class _Out(_Model):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))


IsoTime = Annotated[str, Field(description="ISO 8601 UTC, e.g. 2026-11-27T13:31:00.123Z")]


class Alert(_Out):
    alert_id: str
    seller_id: str
    detector: str
    score: Annotated[float, Field(ge=0, le=1)]
    severity: Severity
    ts: IsoTime
    detected_at: IsoTime
    accounts: list[str]
    evidence: dict[str, Any]
    summary: str


class BlacklistEntry(_Out):
    entity_id: str
    entity_type: EntityType
    action: BlacklistAction
    reason: str
    alert_ids: list[str]
    ts: IsoTime
    by: Annotated[str, Field(pattern=r"^(auto|inspector:.+)$")]


class ScoreReason(_Out):
    code: str
    text: str


class CreditScore(_Out):
    seller_id: str
    score: Annotated[int, Field(ge=350, le=950)]
    previous: Annotated[int, Field(ge=350, le=950)] | None
    ts: IsoTime
    components: dict[str, float]
    reasons: Annotated[list[ScoreReason], Field(max_length=4)]


class DeadLetter(_Out):
    source_topic: str
    partition: int | None
    offset: int | None
    error: str
    payload: str
    ts: IsoTime

    @classmethod
    def of(cls, raw: bytes | str, error: str, *, source_topic: str, partition: int | None,
           offset: int | None, now_ms: int) -> DeadLetter:
        data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogateescape")
        cut = data[:DEAD_LETTER_PAYLOAD_BYTES].decode("utf-8", "replace")
        return cls(source_topic=source_topic, partition=partition, offset=offset, error=error,
                   payload=cut, ts=iso(now_ms))


class Suspicion(_Out):
    entity_id: str
    entity_type: EntityType
    score: Annotated[float, Field(ge=0, le=1)]
    detectors: dict[str, float]
