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

from collections.abc import Sequence
from typing import Any

import numpy as np
import redis as redis_lib

from credence.features import EventOps, SlotAdd, TotalAdd, ZTouch
from credence.store.base import FeatureStore, Outcome

__all__ = ["RedisStore", "AsyncRedisWriter", "APPLY_LUA", "connect", "encode_batch"]

APPLY_LUA = r"""
-- ARGV: n, then per event: dedupe key, source, dedupe ttl, op count, ops...
-- Counter adds (S: ring slot, T: lifetime) commute, so they are summed per bucket over the whole
-- call and written with one BITFIELD each at the end; sorted-set touches (Z) run in event order,
-- because "was this buyer here before?" depends on it.
local argv = ARGV
local i = 1
local expired = 0
local slots = {}      -- "key\0epoch" -> {key, epoch, nslots, ttl, {pos -> delta}}
local slot_order = {}
local totals = {}     -- key -> {pos -> delta}
local total_order = {}

local function add_fields(acc, nf)
  for _ = 1, nf do
    local pos, v = argv[i], tonumber(argv[i + 1])
    i = i + 2
    acc[pos] = (acc[pos] or 0) + v
  end
end

local skip_op
skip_op = function()
  local kind = argv[i]
  if kind == 'S' then
    local nf = tonumber(argv[i + 5]); i = i + 6 + 2 * nf
  elseif kind == 'T' then
    local nf = tonumber(argv[i + 2]); i = i + 3 + 2 * nf
  else
    local nt = tonumber(argv[i + 7]); i = i + 8
    for _ = 1, nt do skip_op() end
  end
end

local apply_op
apply_op = function()
  local kind = argv[i]
  if kind == 'S' then
    local key, epoch, nslots, ttl = argv[i + 1], argv[i + 2], argv[i + 3], argv[i + 4]
    local nf = tonumber(argv[i + 5])
    i = i + 6
    local id = key .. '\0' .. epoch
    local s = slots[id]
    if not s then
      s = {key, epoch, nslots, ttl, {}}
      slots[id] = s
      slot_order[#slot_order + 1] = id
    end
    add_fields(s[5], nf)
  elseif kind == 'T' then
    local key, nf = argv[i + 1], tonumber(argv[i + 2])
    i = i + 3
    local t = totals[key]
    if not t then
      t = {}
      totals[key] = t
      total_order[#total_order + 1] = key
    end
    add_fields(t, nf)
  else -- 'Z'
    local key, member, score = argv[i + 1], argv[i + 2], argv[i + 3]
    local horizon, ttl, cap, nt = tonumber(argv[i + 4]), argv[i + 5], tonumber(argv[i + 6]),
      tonumber(argv[i + 7])
    i = i + 8
    local lo = tonumber(score) - horizon
    local prev = false
    if nt > 0 then prev = redis.call('ZSCORE', key, member) end
    if redis.call('ZADD', key, 'GT', score, member) == 1 then
      -- The set grew: evict what this event's horizon no longer covers, enforce the cap, and
      -- refresh the expiry (a set that only sees known members keeps its first expiry).
      redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. string.format('%d', lo))
      local n = redis.call('ZCARD', key)
      if n > cap then redis.call('ZREMRANGEBYRANK', key, 0, n - cap - 1) end
      redis.call('EXPIRE', key, ttl)
    end
    if prev and tonumber(prev) >= lo then
      for _ = 1, nt do apply_op() end
    else
      for _ = 1, nt do skip_op() end
    end
  end
end

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

local n = tonumber(argv[1])
i = 2
local out = {}
for e = 1, n do
  local dkey, src, dttl, nops = argv[i], argv[i + 1], argv[i + 2], tonumber(argv[i + 3])
  i = i + 4
  local outcome
  if redis.call('SET', dkey, src, 'NX', 'EX', dttl) then
    outcome = 1
  elseif redis.call('GET', dkey) == src then
    outcome = 2
  else
    outcome = 0
  end
  for _ = 1, nops do
    if outcome == 1 then apply_op() else skip_op() end
  end
  out[e] = outcome
end

-- Ring slots, in the order first touched. Epochs of one slot are applied oldest first, which
-- gives the same final slot as any other order (the newest epoch wins).
table.sort(slot_order, function(a, b)
  local sa, sb = slots[a], slots[b]
  if sa[1] ~= sb[1] then return sa[1] < sb[1] end
  return tonumber(sa[2]) < tonumber(sb[2])
end)
for _, id in ipairs(slot_order) do
  local s = slots[id]
  local ep = tonumber(s[2])
  local slot = s[1] .. ':' .. string.format('%d', ep % tonumber(s[3]))
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
      local fresh = incr_cmd(slot, s[5], 1)
      table.insert(fresh, 2, 'SET'); table.insert(fresh, 3, 'i64'); table.insert(fresh, 4, '0')
      table.insert(fresh, 5, s[2])
      redis.call('BITFIELD', unpack(fresh))
      redis.call('EXPIRE', slot, s[4])
    end
  end
end
for _, key in ipairs(total_order) do
  local cmd = incr_cmd(key, totals[key], 1)
  if #cmd > 1 then redis.call('BITFIELD', unpack(cmd)) end
end
out[n + 1] = expired
return out
"""


def connect(url: str, decode: bool = True) -> redis_lib.Redis:
    # RESP2 keeps replies plain lists and ints (redis-py 8 defaults to RESP3).
    return redis_lib.Redis.from_url(url, decode_responses=decode, protocol=2,
                                    socket_keepalive=True, health_check_interval=30,
                                    socket_timeout=60, socket_connect_timeout=10)


def _encode_op(op: SlotAdd | TotalAdd | ZTouch, out: list[Any]) -> None:
    cls = op.__class__
    if cls is SlotAdd:
        out += ("S", op.key, op.epoch, op.slots, op.ttl_s, len(op.fields))  # type: ignore[union-attr]
        for f, v in op.fields:  # type: ignore[union-attr]
            out += (f, v)
    elif cls is TotalAdd:
        out += ("T", op.key, len(op.fields))  # type: ignore[union-attr]
        for f, v in op.fields:  # type: ignore[union-attr]
            out += (f, v)
    else:
        out += ("Z", op.key, op.member, op.score, op.horizon_ms, op.ttl_s,  # type: ignore[union-attr]
                op.cap, len(op.then))  # type: ignore[union-attr]
        for t in op.then:  # type: ignore[union-attr]
            _encode_op(t, out)


def encode_batch(batch: Sequence[EventOps], dedupe_ttl_s: int,
                 max_args: int = 20_000) -> list[list[Any]]:
    """ARGV of the script for a batch, split into calls of at most ``max_args`` arguments."""
    calls: list[list[Any]] = []
    cur: list[Any] = []
    n = 0
    for ev in batch:
        part: list[Any] = [ev.dedupe_key, ev.source, dedupe_ttl_s, len(ev.ops)]
        for op in ev.ops:
            _encode_op(op, part)
        if cur and len(cur) + len(part) > max_args:
            calls.append([n, *cur])
            cur, n = [], 0
        cur += part
        n += 1
    if cur:
        calls.append([n, *cur])
    return calls


class AsyncRedisWriter:
    """The write side of `RedisStore` for asyncio (the faust agents)."""

    def __init__(self, url: str, dedupe_ttl_s: int = 14 * 86400, max_args: int = 20_000):
        import redis.asyncio as aredis

        # A script call that times out may still have run: calling it again is safe, since the
        # dedupe keys make the second run a no-op (its events come back as redelivered).
        self.r = aredis.Redis.from_url(url, decode_responses=True, protocol=2,
                                       socket_timeout=60, socket_connect_timeout=10)
        self.dedupe_ttl_s = dedupe_ttl_s
        self.max_args = max_args
        self._apply = self.r.register_script(APPLY_LUA)
        self.expired = 0

    async def apply(self, batch: Sequence[EventOps]) -> list[Outcome]:
        out: list[Outcome] = []
        for args in encode_batch(batch, self.dedupe_ttl_s, self.max_args):
            res = await self._apply(args=args)
            self.expired += int(res[-1])
            out += [int(x) for x in res[:-1]]  # type: ignore[misc]
        return out

    async def close(self) -> None:
        await self.r.aclose()


class RedisStore(FeatureStore):
    def __init__(self, url: str, dedupe_ttl_s: int = 14 * 86400, max_args: int = 20_000):
        self.r = connect(url)
        self._raw = connect(url, decode=False)  # counter arrays are binary
        self.dedupe_ttl_s = dedupe_ttl_s
        self.max_args = max_args  # bound one script call (Lua stack, Redis latency)
        self._apply = self.r.register_script(APPLY_LUA)
        self.expired = 0

    def apply(self, batch: Sequence[EventOps]) -> list[Outcome]:
        out: list[Outcome] = []
        for args in encode_batch(batch, self.dedupe_ttl_s, self.max_args):
            res = self._apply(args=args)
            self.expired += int(res[-1])
            out += [int(x) for x in res[:-1]]  # type: ignore[misc]
        return out

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
        for k in self.r.scan_iter(match=f"{prefix}:*", count=1000):
            if not k.startswith(feature_keys):
                continue
            t = self.r.type(k)
            if t == "string":
                row = np.frombuffer(self._mget_raw([k])[0] or b"", dtype=">i8")
                out[k] = tuple(int(x) for x in np.trim_zeros(row.astype(np.int64), "b"))
            elif t == "zset":
                z = {m: int(s) for m, s in self.r.zrange(k, 0, -1, withscores=True)}
                if z and horizon_of is not None:
                    lo = max(z.values()) - horizon_of(k)
                    z = {m: s for m, s in z.items() if s >= lo}
                out[k] = dict(sorted(z.items()))
        return dict(sorted(out.items()))
