"""`streams.snapshot_store.SnapshotStore` on a real Redis, as the worker logs in: a snapshot in
chunks under a manifest (the fault suite's million-event run grew the detection state past
Redis's 512 MB per value, and the stage retried a refused SET forever)."""

from __future__ import annotations

import os

import pytest

from config.credentials import as_principal
from credence.security import grant_redis_prefix
from credence.store.keys import snapshot_key
from credence.store.redis import aconnect, connect
from streams.snapshot_store import SnapshotMissing, SnapshotStore, manifest_of


@pytest.fixture
def scope(redis_factory, infra):
    """(admin settings, the worker's settings) on a fresh key prefix."""
    s = redis_factory()
    if not infra.secure:
        return s, s
    grant_redis_prefix(s, s.key_prefix)
    return s, as_principal(s, "worker")


async def test_a_snapshot_larger_than_a_chunk_round_trips_and_replaces_the_last(scope):
    admin_s, worker_redis = scope
    key = snapshot_key(worker_redis.key_prefix)
    store = SnapshotStore(aconnect(worker_redis, decode=False), key, chunk_bytes=16_384)
    assert await store.load() is None
    first = os.urandom(70_000)  # five chunks
    await store.save(first)
    assert await store.load() == first
    second = os.urandom(20_000)
    await store.save(second)
    assert await store.load() == second
    # the first generation's chunks are gone: only the manifest and two chunks remain
    admin = connect(admin_s, decode=False)
    assert len(list(admin.scan_iter(match=f"{key}*"))) == 1 + 2


async def test_the_manifest_says_what_the_snapshot_covers(scope):
    """The stage's sequenced offset rides in the manifest: `credence chaos` judges a run only
    once the snapshot (taken with every output before it published) covers the input."""
    _, worker_redis = scope
    key = snapshot_key(worker_redis.key_prefix)
    r = aconnect(worker_redis, decode=False)
    store = SnapshotStore(r, key, chunk_bytes=1000)
    assert await store.manifest() is None
    await store.save(os.urandom(2500), {"seq_offset": 41})
    assert (await store.manifest())["seq_offset"] == 41
    assert manifest_of(await r.get(key))["chunks"] == 3
    await store.save(os.urandom(10), {"seq_offset": 57})
    assert (await store.manifest())["seq_offset"] == 57


async def test_a_snapshot_of_the_single_value_layout_is_read_as_it_is(scope):
    _, worker_redis = scope
    key = snapshot_key(worker_redis.key_prefix)
    r = aconnect(worker_redis, decode=False)
    await r.set(key, b"CRDSNAP\x02...")
    assert await SnapshotStore(r, key).load() == b"CRDSNAP\x02..."


async def test_missing_chunks_are_reported_not_returned(scope):
    admin_s, worker_redis = scope
    key = snapshot_key(worker_redis.key_prefix)
    r = aconnect(worker_redis, decode=False)
    store = SnapshotStore(r, key, chunk_bytes=1000)
    await store.save(os.urandom(2500))
    admin = connect(admin_s, decode=False)
    admin.delete(sorted(k for k in admin.scan_iter(match=f"{key}:*"))[1])
    with pytest.raises(SnapshotMissing):
        await store.load()

