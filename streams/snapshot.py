"""Sealed detection snapshots: authenticated, and never able to run code when read (issue 12,
item 3).

A snapshot is ``MAGIC | format version | HMAC-SHA-256 tag | payload``. The tag (RFC 2104, keyed
by the ``snapshot`` key of `config.keys`) is checked, in constant time, before a byte of the
payload is decoded: a snapshot written by anyone without the key (whoever can write the Redis
key) is rejected, and the stage rebuilds from the sequenced topic.

The payload is the engine's state in pickle's format, read by an unpickler that resolves only
the classes of the engine's own state (classes defined in Credence's packages, and in
`ALLOWED` numpy's arrays and the anomaly model's scikit-learn trees) and nothing callable besides: even a
payload that passed the tag (a leaked key) cannot name ``os.system`` or any other function, so
reading it cannot run code (the restriction the Python documentation gives, "Restricting
Globals"). The settings (credentials, keys) are never written into it: a reference stands in
for them, replaced by the running worker's own settings when read.
"""

from __future__ import annotations

import copyreg
import hmac
import io
import pickle  # noqa: S403 - restricted to ALLOWED on load, and authenticated first
from typing import Any

from config.settings import Settings

__all__ = ["seal", "unseal", "ALLOWED", "OWN_PACKAGES", "SnapshotRejected"]

MAGIC = b"CRDSNAP"
FORMAT = 1
_TAG = 32

#: Credence's own packages: a snapshot may name any *class* defined in them (the engine's state
#: is made of them; their constructors run no code from their arguments)
OWN_PACKAGES: tuple[str, ...] = ("credence.", "detectors.", "streams.")
#: and these classes and array constructors of other libraries, nothing else
ALLOWED: frozenset[tuple[str, str]] = frozenset({
    ("collections", "deque"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("sklearn.ensemble._iforest", "IsolationForest"),
    ("sklearn.tree._classes", "ExtraTreeRegressor"),
    ("sklearn.tree._tree", "Tree"),
})

class SnapshotRejected(ValueError):
    """A snapshot that is not ours, was altered, or names something outside `ALLOWED`."""


def _live_settings() -> Settings:  # pragma: no cover - replaced at load by the reader's own
    raise SnapshotRejected("a snapshot's settings are the running worker's")


def _settings_reference(_: Settings) -> tuple:
    return _live_settings, ()


class _Pickler(pickle.Pickler):
    # A dispatch-table entry (a dict lookup per type in the C pickler) rather than
    # persistent_id (a Python call per object: twice as slow on a 28 MB state).
    dispatch_table = {**copyreg.dispatch_table, Settings: _settings_reference}

    def __init__(self, buf: io.BytesIO) -> None:
        super().__init__(buf, protocol=pickle.HIGHEST_PROTOCOL)


class _Unpickler(pickle.Unpickler):
    def __init__(self, buf: io.BytesIO, settings: Settings) -> None:
        super().__init__(buf)
        self._settings = settings

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == (__name__, _live_settings.__name__):
            return lambda: self._settings
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        if module.startswith(OWN_PACKAGES) and "." not in name:
            obj = super().find_class(module, name)
            if isinstance(obj, type) and obj.__module__ == module:
                return obj
        raise SnapshotRejected(f"snapshot names {module}.{name}, which a snapshot may not")


def _tag(key: bytes, payload: bytes) -> bytes:
    return hmac.digest(key, MAGIC + bytes([FORMAT]) + payload, "sha256")


def seal(state: Any, key: bytes) -> bytes:
    """``state`` as an authenticated snapshot (the settings left out)."""
    buf = io.BytesIO()
    _Pickler(buf).dump(state)
    payload = buf.getvalue()
    return MAGIC + bytes([FORMAT]) + _tag(key, payload) + payload


def unseal(blob: bytes, settings: Settings, key: bytes) -> Any:
    """The state of a snapshot made by `seal` with ``key``; `SnapshotRejected` otherwise."""
    head = len(MAGIC) + 1
    if len(blob) < head + _TAG or not blob.startswith(MAGIC):
        raise SnapshotRejected("not a sealed Credence snapshot")
    if blob[len(MAGIC)] != FORMAT:
        raise SnapshotRejected(f"snapshot format {blob[len(MAGIC)]} != {FORMAT}")
    tag, payload = blob[head:head + _TAG], blob[head + _TAG:]
    if not hmac.compare_digest(tag, _tag(key, payload)):
        raise SnapshotRejected("snapshot authentication failed (altered, or another key)")
    try:
        return _Unpickler(io.BytesIO(payload), settings).load()
    except SnapshotRejected:
        raise
    except Exception as e:  # a payload we sealed ourselves but cannot read: rebuild
        raise SnapshotRejected(f"snapshot unreadable: {type(e).__name__}: {e}") from None
