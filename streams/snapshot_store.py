"""Where the detection stage's snapshot lives in Redis: in chunks, under a manifest.

One Redis value holds at most ``proto-max-bulk-len`` (512 MB by default), and a larger SET is
not refused with an error: Redis closes the connection. The fault suite's million-event run grew
the detection state past that: every snapshot attempt failed with "connection reset", the stage
retried it forever and stopped consuming. So a snapshot is written as chunks of
``CHUNK_BYTES`` under a generation of its own (``<key>:<generation>:<i>``), and only then does
the manifest at ``<key>`` switch to that generation; the chunks of the generation it replaced
are deleted afterwards. A crash at any point leaves the manifest naming a whole generation.
Two writers at once (a worker that lost its partition and does not know it yet, beside the new
owner) each write their own generation and never delete one the manifest names; the manifest
ends naming one of them, and the other's chunks stay behind (one snapshot's worth of keys per
such overlap, under the prefix, none for a single writer). Integrity is the sealed blob's
(HMAC, `streams.snapshot`); the manifest only says where the pieces are.

The manifest also carries what the caller says of the snapshot (``meta``): the detection stage
gives the sequenced offset it covers. A snapshot is only taken when every output before it is
published (streams.app), so that offset is how far the stage's outputs are surely out -- what
`credence chaos` waits for before it judges a run (a wait on the group's committed offsets
judged too early: faust commits what it took in, and after a kill the next owner redoes the
batch from the snapshot; 543 outputs still being sent counted as lost under load).

A value at ``<key>`` that is not a manifest is a snapshot of the single-value layout of earlier
releases, and is returned as it is.
"""

from __future__ import annotations

import os
import time
from typing import Any

import orjson

__all__ = ["SnapshotStore", "SnapshotMissing", "CHUNK_BYTES", "manifest_of"]

CHUNK_BYTES = 32 * 1024 * 1024  # well under Redis's 512 MB per value, and per command


def manifest_of(raw: bytes | None) -> dict[str, Any] | None:
    """The manifest stored at a snapshot's key (None: no snapshot, or the single-value layout)."""
    if raw is None or not raw.startswith(b"{"):
        return None
    return orjson.loads(raw)


class SnapshotMissing(ValueError):
    """The manifest names chunks that are not (all) there: the snapshot cannot be used."""


class SnapshotStore:
    """Save and load one snapshot blob under ``key`` with an asyncio Redis client."""

    def __init__(self, redis: Any, key: str, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.redis = redis
        self.key = key
        self.chunk_bytes = int(chunk_bytes)

    def _chunks(self, generation: str, n: int) -> list[str]:
        return [f"{self.key}:{generation}:{i}" for i in range(n)]

    async def manifest(self) -> dict[str, Any] | None:
        return manifest_of(await self.redis.get(self.key))

    async def save(self, blob: bytes, meta: dict[str, Any] | None = None) -> None:
        """Write ``blob`` as a new generation and switch the manifest to it; ``meta`` (plain
        JSON values) is kept in the manifest."""
        before = await self.manifest()
        generation = f"{time.time_ns():x}-{os.urandom(4).hex()}"
        step = self.chunk_bytes
        n = max(1, -(-len(blob) // step))
        view = memoryview(blob)
        for key, i in zip(self._chunks(generation, n), range(n), strict=True):
            # One command per chunk: a pipeline would hold them all in the client's buffer.
            await self.redis.set(key, bytes(view[i * step:(i + 1) * step]))
        await self.redis.set(self.key, orjson.dumps(
            {**(meta or {}), "generation": generation, "chunks": n, "bytes": len(blob)}))
        if before is not None:
            await self.redis.delete(*self._chunks(before["generation"], before["chunks"]))

    async def load(self) -> bytes | None:
        """The snapshot, None when there is none; `SnapshotMissing` when its chunks are gone."""
        raw = await self.redis.get(self.key)
        m = manifest_of(raw)
        if m is None:
            return raw
        parts = [await self.redis.get(k) for k in self._chunks(m["generation"], m["chunks"])]
        if any(p is None for p in parts):
            raise SnapshotMissing(f"snapshot chunks of generation {m['generation']} are missing")
        blob = b"".join(parts)
        if len(blob) != m["bytes"]:
            raise SnapshotMissing(f"snapshot of {len(blob):,} bytes, the manifest says "
                                  f"{m['bytes']:,}")
        return blob
