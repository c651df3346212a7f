"""Redis feature store: one Lua script call applies a whole batch atomically.

For each event the script checks the dedupe key (``SET NX`` with the delivery's source as value):
a new key applies the event's ops; the same source again is a redelivery (not re-applied); another
source is a duplicate. The dedupe mark and the ops are written by the same script, and Redis runs
a script to completion or not at all, so a crash never leaves one without the other.

Counters are int64 arrays updated with one ``BITFIELD`` call per bucket (position 0 holds the
bucket's epoch) and read back with ``MGET`` into numpy. Keys travel in ARGV, not KEYS: the script
is meant for a single Redis, which is how the stack runs.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import numpy as np
import orjson
import redis as redis_lib

from config.settings import Settings
from credence.features import EventOps, SlotAdd, TotalAdd, ZTouch
from credence.store.base import NEW, FeatureStore, Outcome

__all__ = ["RedisStore", "AsyncRedisWriter", "APPLY_LUA", "connect", "aconnect", "apply_steps",
           "check_no_eviction", "EvictionPolicyError"]

APPLY_LUA = r"""
-- One call applies a batch of events exactly once. ARGV[1] is a JSON document (decoded by
-- Redis's built-in cjson, in C: packing one string is far cheaper for the client than packing
-- thousands of arguments):
--   {"n": events, "ttl": dedupe ttl, "d": [dedupe keys], "src": [sources],
--    "z": [[key, member, score, horizon, ttl, cap, [conditional ops]]],  -- in event order
--    "s": [[key, epoch, nslots, ttl, [pos, delta, ...]]],                -- summed per bucket
--    "t": [[key, [pos, delta, ...]]]}                                     -- summed per key
-- Python sums the counter adds over the batch assuming every event is new; if any is not, the
-- call applies nothing, sets no dedupe key, and returns the outcomes with a -1 flag so that the
-- caller retries with the new events only. Conditional ops ["S", key, epoch, nslots, ttl,
-- [pos, delta, ...]] or ["T", key, [pos, delta, ...]] apply if the member was already there.
local b = cjson.decode(ARGV[1])
local n = b.n
local dttl = b.ttl
local out = {}
local fresh = {}
local all_new = true
for e = 1, n do
  local dkey, src = b.d[e], b.src[e]
  if redis.call('SET', dkey, src, 'NX', 'EX', dttl) then
    out[e] = 1
    fresh[#fresh + 1] = dkey
  elseif redis.call('GET', dkey) == src then
    out[e] = 2
    all_new = false
  else
    out[e] = 0
    all_new = false
  end
end
if not all_new then
  if #fresh > 0 then redis.call('DEL', unpack(fresh)) end
  out[n + 1] = -1
  return out
end
local expired = 0
local slots = {}      -- "key\0epoch" -> {key, epoch, nslots, ttl, {pos -> delta}}
local slot_ids = {}
local totals = {}     -- key -> {pos -> delta}
local total_ids = {}

local function add_fields(acc, f)
  for j = 1, #f, 2 do
    local pos = f[j]
    acc[pos] = (acc[pos] or 0) + f[j + 1]
  end
end

local function slot_group(key, epoch, nslots, ttl)
  local id = key .. '\0' .. string.format('%d', epoch)
  local s = slots[id]
  if not s then
    s = {key, epoch, nslots, ttl, {}}
    slots[id] = s
    slot_ids[#slot_ids + 1] = id
  end
  return s[5]
end

local function total_group(key)
  local t = totals[key]
  if not t then
    t = {}
    totals[key] = t
    total_ids[#total_ids + 1] = key
  end
  return t
end

for _, z in ipairs(b.z) do
  local key, member, score, horizon, ttl, cap, cond = z[1], z[2], z[3], z[4], z[5], z[6], z[7]
  local lo = score - horizon
  local prev = false
  if #cond > 0 then prev = redis.call('ZSCORE', key, member) end
  if redis.call('ZADD', key, 'GT', 'CH', string.format('%d', score), member) == 1 then
    -- A member was added or moved forward: evict what this touch's horizon no longer covers,
    -- enforce the cap, and refresh the expiry (the TTL is a backstop for idle entities only; a
    -- set whose known members keep coming back must not expire under them).
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. string.format('%d', lo))
    local size = redis.call('ZCARD', key)
    if size > cap then redis.call('ZREMRANGEBYRANK', key, 0, size - cap - 1) end
    redis.call('EXPIRE', key, ttl)
  end
  if prev and tonumber(prev) >= lo then
    for _, c in ipairs(cond) do
      if c[1] == 'S' then
        add_fields(slot_group(c[2], c[3], c[4], c[5]), c[6])
      else
        add_fields(total_group(c[2]), c[3])
      end
    end
  end
end
for _, g in ipairs(b.s) do add_fields(slot_group(g[1], g[2], g[3], g[4]), g[5]) end
for _, g in ipairs(b.t) do add_fields(total_group(g[1]), g[2]) end

local function incr_cmd(key, fields, sign)
  local cmd = {key}
  for pos, v in pairs(fields) do
    if v ~= 0 then
      cmd[#cmd + 1] = 'INCRBY'; cmd[#cmd + 1] = 'i64'; cmd[#cmd + 1] = '#' .. pos
      cmd[#cmd + 1] = string.format('%d', sign * v)
    end
  end
  return cmd
end

-- Ring slots: epochs of one slot are applied oldest first, which gives the same final slot as
-- any other order (the newest epoch wins).
table.sort(slot_ids, function(x, y)
  local sx, sy = slots[x], slots[y]
  if sx[1] ~= sy[1] then return sx[1] < sy[1] end
  return sx[2] < sy[2]
end)
for _, id in ipairs(slot_ids) do
  local s = slots[id]
  local ep = s[2]
  local slot = s[1] .. ':' .. string.format('%d', ep % s[3])
  local cmd = incr_cmd(slot, s[5], 1)
  table.insert(cmd, 2, 'GET'); table.insert(cmd, 3, 'i64'); table.insert(cmd, 4, '0')
  local cur = redis.call('BITFIELD', unpack(cmd))[1]
  if cur ~= ep then
    if cur > ep then
      -- The slot already holds a newer bucket: this write is older than the retention. Undo.
      redis.call('BITFIELD', unpack(incr_cmd(slot, s[5], -1)))
      expired = expired + 1
    else
      -- An older (or no) bucket: start this one afresh.
      redis.call('DEL', slot)
      local new = incr_cmd(slot, s[5], 1)
      table.insert(new, 2, 'SET'); table.insert(new, 3, 'i64'); table.insert(new, 4, '0')
      table.insert(new, 5, string.format('%d', ep))
      redis.call('BITFIELD', unpack(new))
      redis.call('EXPIRE', slot, s[4])
    end
  end
end
for _, key in ipairs(total_ids) do
  local cmd = incr_cmd(key, totals[key], 1)
  if #cmd > 1 then redis.call('BITFIELD', unpack(cmd)) end
end
out[n + 1] = expired
return out
"""


_CLIENT = {"protocol": 2, "socket_keepalive": True, "health_check_interval": 30,
           "socket_timeout": 60, "socket_connect_timeout": 10}


def _target(target: Settings | str) -> tuple[str, dict[str, Any]]:
    # The password travels apart from the URL (settings.redis_password), so the URL can be shown.
    if isinstance(target, str):
        return target, {}
    pw = target.redis_password.get_secret_value()
    return target.redis, ({"password": pw} if pw else {})


def connect(target: Settings | str, decode: bool = True, **extra: Any) -> redis_lib.Redis:
    """A client for the settings' Redis (its user and password), or for a bare URL."""
    url, auth = _target(target)
    # RESP2 keeps replies plain lists and ints (redis-py 8 defaults to RESP3).
    return redis_lib.Redis.from_url(url, decode_responses=decode, **{**_CLIENT, **auth, **extra})


def aconnect(target: Settings | str, decode: bool = True, **extra: Any) -> Any:
    """`connect` for asyncio (the faust agents)."""
    import redis.asyncio as aredis

    url, auth = _target(target)
    return aredis.Redis.from_url(url, decode_responses=decode, **{**_CLIENT, **auth, **extra})


class EvictionPolicyError(RuntimeError):
    """Redis would evict keys of the worker; the message is one line."""


def check_no_eviction(target: Settings | str) -> str:
    """Return Redis's ``maxmemory-policy``; raise `EvictionPolicyError` unless it is
    ``noeviction`` (or when the server is older than 7.0). Any other policy drops keys when Redis is full: features, dedupe marks and
    snapshots would vanish without an error, and Kafka offsets already committed would never bring
    them back; under noeviction a full Redis refuses writes, which the worker retries. Read from ``INFO memory``: the worker's ACL user has no CONFIG."""
    r = connect(target, socket_timeout=10)
    where = target if isinstance(target, str) else target.redis
    version = str(r.info("server").get("redis_version", "0"))
    if int(version.split(".")[0] or 0) < 7:
        # Each output's marker is claimed with SET NX GET before the send (streams/delivery.py);
        # an older server would refuse every claim and the worker would retry for ever.
        raise EvictionPolicyError(f"Redis at {where} is version {version}; the worker needs "
                                  "7.0 or later")
    policy = str(r.info("memory").get("maxmemory_policy", ""))
    if policy != "noeviction":
        raise EvictionPolicyError(
            f"Redis at {where} has maxmemory-policy {policy or '?'}, which evicts keys and would "
            "silently drop the worker's state: set it to noeviction "
            "(redis-server --maxmemory-policy noeviction)")
    return policy


def _cond(op: SlotAdd | TotalAdd) -> list[Any]:
    flat = [x for fv in op.fields for x in fv]
    if op.__class__ is SlotAdd:
        return ["S", op.key, op.epoch, op.slots, op.ttl_s, flat]  # type: ignore[union-attr]
    return ["T", op.key, flat]


def _encode_call(batch: Sequence[EventOps], dedupe_ttl_s: int) -> bytes:
    """The script's JSON argument: dedupe keys, then the batch's operations summed per bucket."""
    slots: dict[tuple[str, int], list[Any]] = {}  # (key, epoch) → [slots, ttl, {pos: delta}]
    totals: dict[str, dict[int, int]] = {}
    ordered: list[ZTouch] = []  # touches with conditional adds: kept in event order
    merged: dict[tuple[str, str], ZTouch] = {}  # the others: one touch per member, latest score
    for ev in batch:
        for op in ev.ops:
            cls = op.__class__
            if cls is SlotAdd:
                g = slots.get((op.key, op.epoch))  # type: ignore[union-attr]
                if g is None:
                    g = slots[(op.key, op.epoch)] = [op.slots, op.ttl_s, {}]  # type: ignore[union-attr]
                acc = g[2]
                for f, v in op.fields:
                    acc[f] = acc.get(f, 0) + v
            elif cls is TotalAdd:
                acc = totals.setdefault(op.key, {})
                for f, v in op.fields:
                    acc[f] = acc.get(f, 0) + v
            elif op.then:  # type: ignore[union-attr]
                ordered.append(op)  # type: ignore[arg-type]
            else:
                k = (op.key, op.member)  # type: ignore[union-attr]
                prev = merged.get(k)
                if prev is None or op.score > prev.score:  # type: ignore[union-attr]
                    merged[k] = op  # type: ignore[assignment]
    doc = {
        "n": len(batch), "ttl": dedupe_ttl_s,
        "d": [ev.dedupe_key for ev in batch], "src": [ev.source for ev in batch],
        "z": [[z.key, z.member, z.score, z.horizon_ms, z.ttl_s, z.cap,
               [_cond(t) for t in z.then]] for z in (*ordered, *merged.values())],
        "s": [[key, epoch, nslots, ttl, [x for fv in acc.items() for x in fv]]
              for (key, epoch), (nslots, ttl, acc) in slots.items()],
        "t": [[key, [x for fv in acc.items() for x in fv]] for key, acc in totals.items()],
    }
    return orjson.dumps(doc)


def _chunks(batch: Sequence[EventOps], max_ops: int) -> list[Sequence[EventOps]]:
    """Split a batch at event boundaries so one script call stays bounded (Redis latency)."""
    out: list[Sequence[EventOps]] = []
    start = n = 0
    for i, ev in enumerate(batch):
        n += len(ev.ops) + 1
        if n > max_ops and i > start:
            out.append(batch[start:i])
            start, n = i, len(ev.ops) + 1
    if start < len(batch):
        out.append(batch[start:])
    return out


def apply_steps(batch: Sequence[EventOps], dedupe_ttl_s: int, max_ops: int = 2_000
                ) -> Generator[list[Any], Any, tuple[list[Outcome], int]]:
    """The protocol of applying a batch, as a generator: it yields each script call's ARGV and
    is sent the reply; it returns (outcomes, expired writes). Sync and asyncio callers drive it.

    A call that meets an event already seen applies nothing and is repeated with the events
    that are new (so at most twice per chunk while each partition has one writer)."""
    outcomes: list[Outcome] = []
    expired = 0
    for chunk in _chunks(batch, max_ops):
        result: list[Outcome | None] = [None] * len(chunk)
        todo = list(range(len(chunk)))
        while todo:
            reply = yield [_encode_call([chunk[j] for j in todo], dedupe_ttl_s)]
            if int(reply[-1]) >= 0:
                for j in todo:
                    result[j] = NEW
                expired += int(reply[-1])
                break
            keep = []
            for j, o in zip(todo, reply[:-1], strict=True):
                if int(o) == NEW:
                    keep.append(j)
                else:
                    result[j] = int(o)  # type: ignore[assignment]
            todo = keep
        outcomes += result  # type: ignore[arg-type]
    return outcomes, expired


class AsyncRedisWriter:
    """The write side of `RedisStore` for asyncio (the faust agents)."""

    def __init__(self, url: Settings | str, dedupe_ttl_s: int = 14 * 86400,
                 max_ops: int = 2_000):
        # A script call that times out may still have run: calling it again is safe, since the
        # dedupe keys make the second run a no-op (its events come back as redelivered).
        self.r = aconnect(url)
        self.dedupe_ttl_s = dedupe_ttl_s
        self.max_ops = max_ops
        self._apply = self.r.register_script(APPLY_LUA)
        self.expired = 0

    async def apply(self, batch: Sequence[EventOps]) -> list[Outcome]:
        steps = apply_steps(batch, self.dedupe_ttl_s, self.max_ops)
        try:
            argv = next(steps)
            while True:
                argv = steps.send(await self._apply(args=argv))
        except StopIteration as done:
            outcomes, expired = done.value
        self.expired += expired
        return outcomes

    async def close(self) -> None:
        await self.r.aclose()


class RedisStore(FeatureStore):
    def __init__(self, url: Settings | str, dedupe_ttl_s: int = 14 * 86400, max_ops: int = 2_000):
        self.r = connect(url)
        self._raw = connect(url, decode=False)  # counter arrays are binary
        self.dedupe_ttl_s = dedupe_ttl_s
        self.max_ops = max_ops  # bound one script call (Redis latency)
        self._apply = self.r.register_script(APPLY_LUA)
        self.expired = 0

    def apply(self, batch: Sequence[EventOps]) -> list[Outcome]:
        steps = apply_steps(batch, self.dedupe_ttl_s, self.max_ops)
        try:
            argv = next(steps)
            while True:
                argv = steps.send(self._apply(args=argv))
        except StopIteration as done:
            outcomes, expired = done.value
        self.expired += expired
        return outcomes

    # ------------------------------------------------------------------ reading

    def counters_many(self, keys: Sequence[str], width: int) -> np.ndarray:
        out = np.zeros((len(keys), width), dtype=np.int64)
        for i, raw in enumerate(self._mget_raw(keys)):
            if raw:
                row = np.frombuffer(raw[: 8 * width], dtype=">i8")
                out[i, : len(row)] = row
        return out

    def _mget_raw(self, keys: Sequence[str]) -> list[bytes | None]:
        return self._raw.mget(keys) if keys else []

    def zcount_since(self, key: str, lo: int) -> int:
        return int(self.r.zcount(key, lo, "+inf"))

    def zmembers_since(self, key: str, lo: int) -> list[str]:
        return sorted(self.r.zrangebyscore(key, lo, "+inf"))

    def dump(self, prefix: str, horizon_of=None) -> dict[str, object]:
        """Canonical feature state under ``prefix`` (sellers, accounts, identities; not dedupe
        keys, views or snapshots), comparable to `MemoryStore.dump`."""
        out: dict[str, object] = {}
        feature_keys = tuple(f"{prefix}:{kind}:" for kind in ("s", "a", "i"))
        keys = [k for k in self.r.scan_iter(match=f"{prefix}:*", count=1000)
                if k.startswith(feature_keys)]
        # Pipelined in chunks: one round trip per key and command made a 9,000-key dump take
        # 8 s (each fault scenario compares one).
        for i in range(0, len(keys), 1000):
            chunk = keys[i:i + 1000]
            pipe = self.r.pipeline(transaction=False)
            for k in chunk:
                pipe.type(k)
            types = pipe.execute()
            strings = [k for k, t in zip(chunk, types, strict=True) if t == "string"]
            zsets = [k for k, t in zip(chunk, types, strict=True) if t == "zset"]
            for k, raw in zip(strings, self._mget_raw(strings), strict=True):
                row = np.frombuffer(raw or b"", dtype=">i8")
                out[k] = tuple(int(x) for x in np.trim_zeros(row.astype(np.int64), "b"))
            pipe = self.r.pipeline(transaction=False)
            for k in zsets:
                pipe.zrange(k, 0, -1, withscores=True)
            for k, pairs in zip(zsets, pipe.execute(), strict=True):
                z = {m: int(sc) for m, sc in pairs}
                if z and horizon_of is not None:
                    lo = max(z.values()) - horizon_of(k)
                    z = {m: sc for m, sc in z.items() if sc >= lo}
                out[k] = dict(sorted(z.items()))
        return dict(sorted(out.items()))
