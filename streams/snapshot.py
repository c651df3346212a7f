"""Sealed detection snapshots: authenticated, and never able to run code when read (issue 12,
item 3).

A snapshot is ``MAGIC | format version | HMAC-SHA-256 tag | payload``. The tag (RFC 2104, keyed
by the ``snapshot`` key of `config.keys`) is checked, in constant time, before a byte of the
payload is decoded: a snapshot written by anyone without the key (whoever can write the Redis
key) is rejected, and the stage rebuilds from the sequenced topic.

The payload is data, not a program: the engine's state in msgpack with explicit type tags
(`streams.codec`), whose reader builds only containers, numpy arrays of numbers, and instances
of the engine's own classes (and the anomaly model's scikit-learn trees) without calling their
code. Even a payload that passed the tag (a leaked key) cannot name ``os.system`` or any other
function. The settings (credentials, keys) are never written into it: a placeholder stands in
for them, replaced by the running worker's own settings when read.

Format 1 was pickle's format read by a restricted unpickler; a format-1 snapshot is refused
(by its version byte, before its tag is even computed) and the stage rebuilds from the topic.
"""

from __future__ import annotations

import hmac
from typing import Any

from config.settings import Settings
from streams.codec import DecodeError, decode, encode

__all__ = ["seal", "unseal", "SnapshotRejected", "FORMAT"]

MAGIC = b"CRDSNAP"
#: 2: msgpack with type tags (`streams.codec`); 1 (pickle) is no longer read
FORMAT = 2
_TAG = 32


class SnapshotRejected(ValueError):
    """A snapshot that is not ours, was altered, is of another format, or names something a
    snapshot may not hold."""


def _tag(key: bytes, payload: bytes | memoryview) -> bytes:
    mac = hmac.new(key, MAGIC + bytes([FORMAT]), "sha256")
    mac.update(payload)  # no copy of a payload of tens of MB
    return mac.digest()


def seal(state: Any, key: bytes) -> bytes:
    """``state`` as an authenticated snapshot (the settings left out)."""
    payload = encode(state)
    return MAGIC + bytes([FORMAT]) + _tag(key, payload) + payload


def unseal(blob: bytes, settings: Settings, key: bytes) -> Any:
    """The state of a snapshot made by `seal` with ``key``; `SnapshotRejected` otherwise."""
    head = len(MAGIC) + 1
    if len(blob) < head + _TAG or not blob.startswith(MAGIC):
        raise SnapshotRejected("not a sealed Credence snapshot")
    if blob[len(MAGIC)] != FORMAT:
        old = " (pickle, no longer read)" if blob[len(MAGIC)] == 1 else ""
        raise SnapshotRejected(f"snapshot format {blob[len(MAGIC)]}{old} != {FORMAT}")
    tag, payload = blob[head:head + _TAG], memoryview(blob)[head + _TAG:]  # not a copy
    if not hmac.compare_digest(tag, _tag(key, payload)):
        raise SnapshotRejected("snapshot authentication failed (altered, or another key)")
    try:
        return decode(payload, settings)
    except DecodeError as e:
        raise SnapshotRejected(str(e)) from None
    except Exception as e:  # a payload we sealed ourselves but cannot read: rebuild
        raise SnapshotRejected(f"snapshot unreadable: {type(e).__name__}: {e}") from None
