"""Pseudonyms of the personal identifiers an order carries: device, IP, card and address
(issue 12, item 4).

Each is replaced at ingest, before anything is stored or forwarded, by a keyed hash
(HMAC-SHA-256, RFC 2104) of the field and the value, truncated to 96 bits and prefixed by the
kind (``dv_``, ``ip_``, ``pm_``, ``ad_``). Under one key the same identifier always gets the
same pseudonym, so detection, which only ever compares identifiers for equality (shared
devices, cards, addresses and IPs), is unchanged; without the key a pseudonym cannot be turned
back into the identifier, nor can a guessed identifier be checked against it. The sequenced
topic, Redis features, detection snapshots, alerts and blacklist evidence hold pseudonyms
only. `credence replay` pseudonymises with the same key, so replay and streaming agree.

The key comes from ``CREDENCE_PSEUDONYM_KEY``; when it is unset, one is generated once into
``$CREDENCE_HOME/pseudonym.key`` (mode 600) and reused. Workers on several machines must share
one key (set it, from a secret store): every worker logs the key's fingerprint at start, so a
mismatch shows.
"""

from __future__ import annotations

import hmac

import orjson

from config.keys import load_key
from config.settings import Settings
from credence.contract import Event, Order

__all__ = ["Pseudonyms", "FIELDS"]

#: the order fields that identify a person, and the prefix of each one's pseudonym
FIELDS: dict[str, str] = {"device_id": "dv_", "ip": "ip_", "payment_id": "pm_",
                          "address_id": "ad_"}
_MIN_KEY = 16  # bytes: shorter keys can be searched


class Pseudonyms:
    """Keyed pseudonyms of an order's device, IP, card and address identifiers."""

    def __init__(self, key: bytes) -> None:
        if len(key) < _MIN_KEY:
            raise ValueError(f"the pseudonym key must have at least {_MIN_KEY} bytes")
        self._key = key

    @classmethod
    def from_settings(cls, settings: Settings) -> Pseudonyms:
        return cls(load_key(settings, "pseudonym"))

    @property
    def fingerprint(self) -> str:
        """A short, public digest of the key (for logs: workers must show the same one)."""
        return hmac.digest(self._key, b"credence pseudonym key fingerprint", "sha256")[:4].hex()

    def token(self, field: str, value: str) -> str:
        digest = hmac.digest(self._key, f"{field}\x1f{value}".encode(), "sha256")
        return FIELDS[field] + digest[:12].hex()

    def order(self, event: Order) -> tuple[Order, dict[str, str]]:
        """The order with its identifiers pseudonymised, and the fields replaced."""
        updates = {f: self.token(f, v) for f in FIELDS if (v := getattr(event, f))}
        return (event.model_copy(update=updates) if updates else event), updates

    def apply(self, event: Event) -> Event:
        return self.order(event)[0] if isinstance(event, Order) else event

    def apply_raw(self, event: Event, raw: bytes) -> tuple[Event, bytes]:
        """The event pseudonymised, and its JSON with the same fields replaced (every other
        byte of the input kept) for whatever forwards or stores it."""
        if not isinstance(event, Order):
            return event, raw
        event, updates = self.order(event)
        if not updates:
            return event, raw
        return event, orjson.dumps({**orjson.loads(raw), **updates})
