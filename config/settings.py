"""The one settings object of Credence.

Every knob is an environment variable with the ``CREDENCE_`` prefix (``CREDENCE_KAFKA``,
``CREDENCE_REDIS``, ...); ``credence --help`` lists them with their defaults. The object is frozen:
code that needs a variation builds a new one with ``settings.model_copy(update=...)``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.credentials import complete, split_redis_url

__all__ = ["Settings", "SettingsError", "default_home", "load", "split_redis_url"]

_HOSTPORT = re.compile(r"^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):\d{1,5}$")


def default_home() -> Path:
    """Where the local stack keeps data and logs: ``$XDG_STATE_HOME/credence`` or ``~/.credence``."""
    xdg = os.environ.get("XDG_STATE_HOME")
    return Path(xdg) / "credence" if xdg else Path.home() / ".credence"


class SettingsError(ValueError):
    """A setting from the environment does not parse; the message is one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDENCE_", frozen=True, extra="ignore")

    # --- where things are (CONTRACT.md section 3) ---
    kafka: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port]")
    redis: str = Field("redis://127.0.0.1:6379/0", description="Redis URL")
    topic_prefix: str = Field("", description="prefix of every topic name")
    key_prefix: str = Field("credence", description="prefix of every Redis key")
    home: Path = Field(default_factory=default_home, description="state directory of the stack")

    # --- credentials (CONTRACT.md section 5); secrets are SecretStr: never printed or logged ---
    kafka_username: str = Field("", description="SASL user; empty: the command's principal "
                                "(worker for `credence worker`, else admin) read from "
                                "$CREDENCE_HOME/credentials/<principal>.env")
    kafka_password: SecretStr = Field(SecretStr(""), description="SASL password; empty: read "
                                      "from $CREDENCE_HOME/credentials/<user>.env")
    kafka_security_protocol: Literal["SASL_PLAINTEXT", "SASL_SSL", "PLAINTEXT"] = Field(
        "SASL_PLAINTEXT", description="SASL_PLAINTEXT on loopback; SASL_SSL between hosts")
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism of the clients")
    kafka_ssl_cafile: str = Field("", description="CA bundle to verify the brokers with SASL_SSL "
                                  "(empty: the system's)")
    redis_password: SecretStr = Field(SecretStr(""), description="Redis password (a password in "
                                      "CREDENCE_REDIS is moved here, out of the printed URL)")

    # --- local stack ---
    kafka_heap: str = Field("512m", description="JVM heap of the stack's broker")

    # --- topics ---
    partitions: int = Field(6, ge=1, le=1000, description="partitions of each input topic")

    # --- worker ---
    worker_id: str = Field("credence", description="faust app id (consumer group)")
    web_port: int = Field(6066, ge=1, le=65535, description="worker port for /metrics, /health")
    batch_size: int = Field(2000, ge=1, description="max events per micro-batch")
    batch_wait: float = Field(0.01, gt=0, description="seconds to wait to fill a micro-batch")
    stall_seconds: float = Field(30.0, gt=0, description="/health fails after this long stalled")
    snapshot_seconds: float = Field(60.0, gt=0, description="detection state snapshot interval "
                                    "(a restart re-reads the sequenced topic since the last)")
    session_timeout_seconds: float = Field(
        30.0, ge=6, le=300, description="a worker that stops heartbeating is out of the group "
        "after this long and its partitions move on (a crashed worker's input waits as long)")

    # --- event time ---
    tick_seconds: int = Field(60, ge=1, description="event-time tick at which detectors decide")
    lateness_seconds: int = Field(60, ge=0, description="allowed out-of-orderness of event time")
    idle_seconds: float = Field(2.0, gt=0, description="an input partition idle this long "
                                "(wall clock) stops holding back the watermark")
    max_event_bytes: int = Field(65536, ge=256, description="larger values are dead letters")
    pseudonym_key: SecretStr | None = Field(None, description="key of the keyed hash that "
                                            "pseudonymises device, IP, card and address ids "
                                            "(unset: made once in CREDENCE_HOME/pseudonym.key; "
                                            "every worker and replay must share it)")
    snapshot_key: SecretStr | None = Field(None, description="key that authenticates detection "
                                           "snapshots in Redis (unset: made once in "
                                           "CREDENCE_HOME/snapshot.key; workers must share it)")

    # --- detection and scoring policy ---
    blacklist_threshold: float = Field(0.8, gt=0, le=1, description="suspicion that blacklists")
    blacklist_release: float = Field(0.3, ge=0, lt=1, description="least own score for an "
                                     "alert to count against an implicated account or seller")
    listing_expiry_days: int = Field(0, ge=0, description="if set, an automatic listing ends "
                                     "after this many days of event time without new evidence "
                                     "(0: it is kept until an inspector dismisses or lifts it)")
    alert_cooldown_seconds: int = Field(6 * 3600, ge=0, description="one alert per seller and "
                                        "detector in this much event time, unless it escalates")
    score_step: int = Field(5, ge=1, description="publish a score that moved this many points")
    score_interval_seconds: int = Field(24 * 3600, ge=1, description="else publish at most "
                                        "once per this much event time")
    score_every_seconds: int = Field(6 * 3600, ge=0, description="recompute a seller's score at most "
                                     "this often in event time, unless its suspicion or "
                                     "blacklist state changed")

    # --- inspector workbench and lender API (`credence inspect`, CONTRACT.md section 6) ---
    inspect_host: str = Field("127.0.0.1", description="address the workbench listens on "
                              "(loopback by default: put a TLS proxy in front to serve others)")
    inspect_port: int = Field(8080, ge=1, le=65535, description="port of the workbench and the "
                              "lender API")
    inspect_sla_hours: float = Field(24.0, gt=0, description="an open alert older than this "
                                     "(wall clock since detection) is flagged in the queue")
    inspect_session_hours: float = Field(12.0, gt=0, description="a workbench login lasts this "
                                         "long")
    inspect_cookie_secure: bool = Field(False, description="mark the session cookie Secure "
                                        "(set when the workbench is served over HTTPS)")
    inspect_key: SecretStr | None = Field(None, description="key that signs workbench session "
                                          "cookies (unset: made once in "
                                          "CREDENCE_HOME/inspect.key)")

    @model_validator(mode="before")
    @classmethod
    def _redis_secret(cls, data: Any) -> Any:
        # The contract's credential files carry redis://user:password@host:port/db: the password
        # leaves the URL here, so that `settings.redis` is safe to print.
        if isinstance(data, dict) and isinstance(data.get("redis"), str):
            url, password = split_redis_url(data["redis"])
            if password is not None:
                data = {**data, "redis": url}
                if not data.get("redis_password"):
                    data["redis_password"] = password
        return data

    @field_validator("kafka")
    @classmethod
    def _kafka(cls, v: str) -> str:
        parts = [p.strip() for p in v.split(",")]
        if not parts or not all(_HOSTPORT.match(p) for p in parts):
            raise ValueError(f"expected host:port[,host:port], got {v!r}")
        return ",".join(parts)

    @field_validator("redis")
    @classmethod
    def _redis(cls, v: str) -> str:
        u = urlparse(v)
        if u.scheme not in ("redis", "rediss", "unix") or not (u.hostname or u.path):
            raise ValueError(f"expected a redis://host:port/db URL, got {v!r}")
        return v

    @field_validator("topic_prefix", "key_prefix", "worker_id")
    @classmethod
    def _name(cls, v: str) -> str:
        if v and not re.fullmatch(r"[A-Za-z0-9._-]+", v):
            raise ValueError(f"only letters, digits, '.', '_' and '-' are allowed, got {v!r}")
        return v

    # --- derived ---
    def topic(self, name: str) -> str:
        """The full name of a contract topic (`orders`, `alerts`, ...) with the prefix."""
        return f"{self.topic_prefix}{name}"

    @property
    def inspect_prefix(self) -> str:
        """The Redis key prefix of the workbench's read model: next to, not under, the
        worker's (``<key_prefix>:*``), so neither Redis user can write the other's keys."""
        return f"{self.key_prefix}-inspect"

    def environ(self) -> dict[str, str]:
        """The ``CREDENCE_*`` variables that make a child process see these settings (secrets in
        clear: an environment is how a credential reaches a child, never its command line)."""
        out = {}
        for name, value in self.model_dump().items():
            if value is None:
                continue  # unset: the child falls back to the same default
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            out[f"CREDENCE_{name.upper()}"] = str(value)
        return out

    @property
    def kafka_url(self) -> str:
        """The faust broker URL of the bootstrap servers (``kafka://`` driver: aiokafka)."""
        return ";".join(f"kafka://{hp}" for hp in self.kafka.split(","))


def _one_line(err: ValidationError) -> str:
    first = err.errors()[0]
    field = ".".join(str(x) for x in first["loc"]) or "settings"
    msg = first["msg"].removeprefix("Value error, ")
    return f"CREDENCE_{field.upper()}: {msg}"


def load(principal: str | None = "admin", **overrides: object) -> Settings:
    """Read settings from the environment, raising `SettingsError` with a one-line reason.

    Missing Kafka and Redis credentials are completed from the credential file of
    ``CREDENCE_KAFKA_USERNAME``, else of ``principal``, under ``$CREDENCE_HOME/credentials``
    (written by `credence stack up`); ``principal=None`` reads no file."""
    try:
        s = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        raise SettingsError(_one_line(err)) from None
    if principal is None:
        return s
    return complete(s, principal)
