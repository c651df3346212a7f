"""The detection stage without Kafka: any interleaving of input partitions, with snapshots and
restores in between, publishes exactly what `credence replay` publishes for the same events."""

from __future__ import annotations

import random
import zlib
from pathlib import Path

import orjson
import pytest

from config.settings import load
from credence.contract import TOPIC_OF_TYPE, parse_event
from credence.engine import Outputs
from credence.pseudonyms import Pseudonyms
from credence.replay import Replay
from streams.detect import DetectionStage, output_id
from streams.ingest import decode_forward, encode_forward

P = 3
TPS = sorted(f"{t}/{p}" for t in ("orders", "reviews", "records", "decisions") for p in range(P))


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> Path:
    from producers.scenario import Scenario
    from producers.simulator import simulate, write

    sim = simulate(Scenario(seed=3, scale=0.02, days=3))
    ev, _ = write(sim, tmp_path_factory.mktemp("sim"))
    return ev


def _canon(items) -> list[bytes]:
    out = []
    for x in items:
        d = orjson.loads(x.to_json())
        d.pop("detected_at", None)
        out.append(orjson.dumps(d, option=orjson.OPT_SORT_KEYS))
    return sorted(out)


def _stream(path: Path, seed: int, snapshot_every: float) -> tuple[Outputs, DetectionStage]:
    s = load(idle_seconds=1.0)
    parts: dict[str, list[tuple[int, bytes]]] = {}
    ps = Pseudonyms.from_settings(s)
    for raw in path.read_bytes().splitlines():
        e, raw = ps.apply_raw(parse_event(raw), raw)  # as stage A forwards them
        tp = f"{TOPIC_OF_TYPE[e.type]}/{zlib.crc32(e.key.encode()) % P}"
        parts.setdefault(tp, []).append((e.ts, raw))
    rng = random.Random(seed)
    stage = DetectionStage(s, TPS)
    pos = dict.fromkeys(TPS, 0)
    top: dict[str, int] = {}
    out, offset, wall = Outputs(), 0, 1000.0
    while any(pos[tp] < len(parts.get(tp, [])) for tp in TPS):
        tp = rng.choice([t for t in TPS if pos[t] < len(parts.get(t, []))])
        chunk = parts[tp][pos[tp]:pos[tp] + rng.randint(1, 200)]
        evs = [(tp, pos[tp] + i, raw.decode()) for i, (_, raw) in enumerate(chunk)]
        if rng.random() < 0.2:  # a redelivery of the previous forward of this partition
            evs = [(tp, o - len(chunk), r) for tp, o, r in evs if o - len(chunk) >= 0] + evs
        pos[tp] += len(chunk)
        top[tp] = max(top.get(tp, -1), max(ts for ts, _ in chunk))
        for m in encode_forward("w", {tp: [pos[tp], top[tp], False]}, evs, limit=20_000):
            out.extend(stage.handle([(offset, m)], wall))
            offset += 1
        if rng.random() < snapshot_every:
            fresh = DetectionStage(s, TPS)
            fresh.restore(stage.snapshot())
            stage = fresh
        wall += 0.01
    for _ in range(3):  # every partition caught up, then idle: the stage flushes
        for m in encode_forward("w", {tp: [pos[tp], top.get(tp), True] for tp in TPS}, []):
            out.extend(stage.handle([(offset, m)], wall))
            offset += 1
        wall += 0.6
    return out, stage


def test_any_interleaving_with_restores_matches_replay(events: Path):
    rep = Replay(load(), collect=True)
    rep.run([str(events)], None)
    assert rep.outputs is not None and rep.outputs.scores and rep.outputs.alerts
    # One interleaving, with restores (a run without them was a third replay's worth of time
    # and is the special case of no restore falling between two batches).
    out, stage = _stream(events, 2, 0.05)
    assert stage.seq.late == 0
    for name in ("alerts", "blacklist", "scores"):
        assert _canon(getattr(out, name)) == _canon(getattr(rep.outputs, name)), name


def test_forward_messages_round_trip_and_split_by_size():
    evs = [("orders/1", i, "x" * 300) for i in range(50)]
    msgs = encode_forward("w", {"orders/1": [50, 7, True]}, evs, limit=4000)
    assert len(msgs) > 1 and all(len(m) < 4000 + 400 for m in msgs)
    got, prog = [], {}
    for m in msgs:
        p, e = decode_forward(m)
        prog.update(p)
        got += [tuple(x) for x in e]
    assert got == evs and prog == {"orders/1": [50, 7, True]}
    assert decode_forward(msgs[0])[0] == {}  # progress only after the last event


def test_output_ids_are_deterministic():
    from credence.contract import BlacklistEntry

    b = BlacklistEntry(entity_id="s", entity_type="seller", action="add", reason="r",
                       alert_ids=[], ts="2026-01-01T00:00:00.000Z", by="auto")
    assert output_id(b) == output_id(b.model_copy()) and output_id(b).startswith("b:")


def test_a_snapshot_of_another_release_is_refused_untouched():
    import streams.detect as detect
    from config.keys import load_key
    from streams.snapshot import seal, unseal

    s = load()
    key = load_key(s, "snapshot")
    old = DetectionStage(s, TPS)
    old.seq_offset = 41
    state = unseal(old.snapshot(), s, key)
    state.version = detect.SNAPSHOT_VERSION - 1
    stage = DetectionStage(s, TPS)
    engine = stage.engine
    with pytest.raises(ValueError, match="snapshot version"):
        stage.restore(seal(state, key))
    assert stage.engine is engine and stage.seq_offset == -1
    stage.restore(old.snapshot())
    assert stage.seq_offset == 41
