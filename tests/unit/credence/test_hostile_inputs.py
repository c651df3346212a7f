"""50,000 hostile inputs (issue 12, item 6, in short): random bytes, deep JSON, huge and tiny
numbers, far-future and far-past times, oversized ids, wrong types, unknown sellers in
decisions, duplicate ids with other content. Each one is either applied as the contract says or
dead-lettered with a reason; nothing else is raised, and a replay of all of them ends."""

from __future__ import annotations

import json
import random
from pathlib import Path

import orjson

from config.settings import load
from credence.contract import InvalidEvent, parse_event
from credence.features import MAX_FEN, fen
from credence.replay import Replay

BASE = {"type": "order", "order_id": "o1", "seller_id": "s1", "buyer_id": "b1", "amount": 12.5,
        "ts": "2026-10-01T00:00:00Z"}


def _hostile(rng: random.Random, i: int) -> bytes:
    k = i % 10
    if k == 0:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200)))
    if k == 1:
        d = rng.randint(1, 5000)
        return b"[" * d + b"]" * d
    if k == 2:
        return json.dumps({**BASE, "order_id": f"o{i}", "amount": rng.choice(
            [1e308, 1.7e308, -1, 0, 2**63, 2**64, 1e-320])}).encode()
    if k == 3:
        return json.dumps({**BASE, "order_id": f"o{i}",
                           "amount": int("9" * rng.randint(20, 4000))}).encode()
    if k == 4:
        return orjson.dumps({**BASE, "order_id": f"o{i}", "ts": rng.choice(
            ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", 2**62, -5, "2026-13-01T00:00:00Z",
             "NaN", 1e300])})
    if k == 5:
        return orjson.dumps({**BASE, "order_id": "x" * rng.randint(200, 70000)})
    if k == 6:
        return orjson.dumps({**BASE, "type": rng.choice(["decision", "review", "record",
                                                         "refund", None, 5, [], {}])})
    if k == 7:  # decisions about sellers nobody has seen
        return orjson.dumps({"type": "decision", "entity_id": f"s{rng.randint(0, 10**9)}",
                             "entity_type": rng.choice(["seller", "account", "x"]),
                             "action": rng.choice(["confirm", "dismiss", "lift", "boom"]),
                             "inspector": "ann", "ts": "2026-10-01T00:00:00Z"})
    if k == 8:  # the same order id again, with other content
        return orjson.dumps({**BASE, "amount": rng.choice(["12", None, True, [1], 3.5, 1e9])})
    return orjson.dumps({**BASE, "order_id": f"o{i}", rng.choice(["seller_id", "buyer_id"]):
                         rng.choice(["", " ", "\u0000", "é" * 300, 123])})


def test_every_hostile_input_is_applied_or_dead_lettered_and_the_replay_ends(tmp_path: Path):
    rng = random.Random(12)
    lines = [_hostile(rng, i) for i in range(20_000)]
    parsed = 0
    for raw in lines:
        try:
            parse_event(raw)
            parsed += 1
        except InvalidEvent:
            pass  # anything else raised fails the test
    assert 0 < parsed < len(lines)
    src = tmp_path / "hostile.jsonl"
    # one input per line, as a replay file holds them (a raw newline would split an input)
    src.write_bytes(b"\n".join(x.replace(b"\n", b" ") for x in lines) + b"\n")
    stats = Replay(load()).run([str(src)], tmp_path / "out")
    assert stats.events + stats.dead_letters == stats.lines
    dead = (tmp_path / "out" / "dead-letters.jsonl").read_bytes().splitlines()
    assert len(dead) == stats.dead_letters and all(orjson.loads(d)["error"] for d in dead)


def test_a_huge_amount_is_capped_in_the_sums_not_an_error():
    assert fen(1.7e308) == MAX_FEN and fen(12.5) == 1250
