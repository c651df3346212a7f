"""`streams.snapshot` and `streams.codec`: sealed detection snapshots (issue 12, item 3):
authenticated before they are read, data rather than a program (nothing they name is run), free
of the worker's secrets, and faithful: an engine restored from one goes on exactly as the engine
that never stopped."""

from __future__ import annotations

import builtins
import hmac
import os
import pickle
import subprocess
from collections import deque
from pathlib import Path

import msgpack
import numpy as np
import orjson
import pytest

from config.keys import load_key
from config.settings import Settings, load
from credence.replay import Replay
from credence.sequencer import Sequencer
from credence.store.keys import snapshot_key
from detectors.identity import _Account
from streams import codec
from streams.codec import decode, encode
from streams.detect import DetectionStage
from streams.snapshot import FORMAT, MAGIC, SnapshotRejected, seal, unseal

KEY = b"k" * 32
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _forge(payload: bytes, fmt: int = FORMAT, key: bytes = KEY) -> bytes:
    """A snapshot with the right tag for ``payload``: what anyone holding the key could write."""
    head = MAGIC + bytes([fmt])
    return head + hmac.digest(key, head + payload, "sha256") + payload


def _payload(classes: list, shapes: list, root: object, sklearn: str | None = None) -> bytes:
    return msgpack.packb([root, sklearn, classes, shapes], use_bin_type=True)


class _Shell:
    """What an attacker who can write the Redis key would have stored in format 1 (pickle)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _stage_after(case: str) -> tuple[Settings, DetectionStage]:
    """A detection stage whose engine has taken a whole golden case (every detector holds
    state), as a worker's would."""
    s = load()
    rep = Replay(s)
    rep.run([str(FIXTURES / case / "events.jsonl")], None)
    stage = DetectionStage(s, ["orders/0"])
    stage.engine, stage.seq = rep.engine, rep.seq
    return s, stage


# --------------------------------------------------------------------------- faithful


def test_a_whole_engine_round_trips_without_its_settings():
    s, stage = _stage_after("company_card_vs_puppets")
    blob = stage.snapshot()
    assert s.pseudonym_key is not None  # tests set one: it must not be in the snapshot
    assert s.pseudonym_key.get_secret_value().encode() not in blob
    fresh = DetectionStage(s, ["orders/0"])
    fresh.restore(blob)
    assert fresh.engine.settings is s  # the running worker's settings, not a copy
    assert fresh.engine.suspicion_rows() == stage.engine.suspicion_rows()


def test_what_the_engine_shares_stays_shared():
    s, stage = _stage_after("company_card_vs_puppets")
    fresh = DetectionStage(s, ["orders/0"])
    fresh.restore(stage.snapshot())
    e = fresh.engine
    anomaly = next(d for d in e.detectors if d.name == "anomaly")
    assert anomaly._store is e.store and e.scorer.store is e.store
    assert anomaly._fmodel is e.model and e.scorer.model is e.model
    routed = {id(d) for ds in e._routes.values() for d in ds}
    assert routed <= {id(d) for d in e.detectors}
    # the ledger keeps each (account, seller) history once, under both of its maps
    shared = [(a, sid) for a, sellers in e.ledger.edges.items() for sid in sellers]
    assert shared
    for a, sid in shared:
        assert e.ledger.edges[a][sid] is e.ledger.by_seller[sid][a]


def test_shared_objects_and_cycles_keep_their_identity():
    row = [1, 2]
    ring: list = []
    ring.append((ring, row))
    dq: deque = deque([(1, "a")], maxlen=3)
    acct = _Account()
    acct.sellers.add("s1")
    state = {"a": row, "b": [row, row], ("t", 1): dq, "c": {"x": dq}, "ring": ring,
             "accts": [acct, acct], "arr": np.arange(6, dtype=np.int64).reshape(2, 3)}
    state["arr2"] = state["arr"]
    got = decode(encode(state), load())
    assert got["a"] is got["b"][0] is got["b"][1]
    assert got[("t", 1)] is got["c"]["x"] and got[("t", 1)].maxlen == 3
    assert got["ring"][0][0] is got["ring"] and got["ring"][0][1] is got["a"]
    assert got["accts"][0] is got["accts"][1] and got["accts"][0].sellers == {"s1"}
    assert got["arr"] is got["arr2"] and got["arr"].flags.writeable
    assert np.array_equal(got["arr"], state["arr"])


def test_every_kind_of_value_round_trips():
    big = 1 << 80
    state = [None, True, False, 0, -1, 2**63 - 1, -(2**63), 2**64 - 1, big, -big, 1.5,
             float("inf"), "ü", "\ud800", b"\x00\xff", (), (1, "a"), ((1, 2), (3,)), [], set(),
             {1, "a", (2, 3)}, frozenset({"x"}), frozenset(), {}, {1: "a", None: 2.0},
             {(1, "a"): [1], frozenset({1}): None}, deque(), deque([1], maxlen=None),
             np.float32(0.25), np.int64(-3), np.bool_(True), np.zeros((0, 17)),
             np.arange(4, dtype=np.uint64), np.array([1 + 2j]), np.ones((2, 2), order="F")]
    got = decode(encode(state), load())
    assert len(got) == len(state)
    for a, b in zip(state, got, strict=True):
        assert type(a) is type(b), (a, b)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
        elif isinstance(a, np.generic):
            assert a.dtype == b.dtype and a == b
        else:
            assert a == b
    assert list(got[24]) == [1, None] and list(got[25]) == [(1, "a"), frozenset({1})]  # order


def test_values_a_snapshot_cannot_hold_are_refused_when_written():
    for bad in (np.array([object()]), np.array([b"ab"]), np.zeros(2, dtype="i4,f8"), print,
                Sequencer, os, Path("/"), type("X", (), {})()):
        with pytest.raises(TypeError, match="does not write"):
            encode({"x": bad})


def test_objects_are_rebuilt_without_running_their_code(monkeypatch):
    seq = Sequencer(60_000, 1000)
    acct = _Account()
    acct.ids["d1"] = 5
    blob = seal((seq, acct), KEY)

    def boom(*_a, **_k):
        raise AssertionError("a snapshot ran a constructor")

    for cls, name in ((Sequencer, "__init__"), (Sequencer, "__post_init__"),
                      (_Account, "__init__"), (_Account, "__setstate__"),
                      (_Account, "__new__")):
        monkeypatch.setattr(cls, name, boom, raising=False)
    got_seq, got_acct = unseal(blob, load(), KEY)
    assert (got_seq.tick_ms, got_seq.pending) == (60_000, {}) and got_acct.ids == {"d1": 5}


def test_restored_engine_goes_on_exactly_as_the_one_that_never_stopped(tmp_path):
    """The test that matters: a world replayed to its middle, snapshotted and restored; both
    the original and the restored engine take the rest of the world and must publish the same
    alerts, blacklist entries and scores, and end with the same suspicion."""
    from producers.scenario import Scenario
    from producers.simulator import simulate, write

    ev, _ = write(simulate(Scenario(seed=5, scale=0.03, days=4)), tmp_path)
    lines = ev.read_bytes().splitlines(keepends=True)
    cut = len(lines) * 3 // 4
    (tmp_path / "a.jsonl").write_bytes(b"".join(lines[:cut]))
    (tmp_path / "b.jsonl").write_bytes(b"".join(lines[cut:]))

    s = load()
    first = Replay(s)
    anomaly = next(d for d in first.engine.detectors if d.name == "anomaly")
    anomaly.min_fit = 20  # a world this small has fewer active sellers than the default wants
    first.run([str(tmp_path / "a.jsonl")], None)
    assert anomaly._forest is not None  # the Isolation Forest is part of what is restored
    stage = DetectionStage(s, ["orders/0"])
    stage.engine, stage.seq = first.engine, first.seq
    restored = DetectionStage(s, ["orders/0"])
    restored.restore(stage.snapshot())

    r_anomaly = next(d for d in restored.engine.detectors if d.name == "anomaly")
    x = np.random.default_rng(0).normal(size=(50, len(anomaly._median)))
    assert np.array_equal(anomaly._forest.score_samples(x), r_anomaly._forest.score_samples(x))

    def rest(engine, seq) -> Replay:
        rep = Replay(s, engine=engine, collect=True)
        rep.seq = seq
        rep.run([str(tmp_path / "b.jsonl")], None)
        return rep

    never_stopped = rest(first.engine, first.seq)
    after_restore = rest(restored.engine, restored.seq)
    a, b = never_stopped.outputs, after_restore.outputs
    assert a is not None and b is not None and a.alerts and a.blacklist and a.scores

    def canon(items) -> list[bytes]:
        out = []
        for item in items:
            d = orjson.loads(item.to_json())
            d.pop("detected_at", None)  # the wall clock of the run
            out.append(orjson.dumps(d, option=orjson.OPT_SORT_KEYS))
        return out

    for name in ("alerts", "blacklist", "scores"):
        assert canon(getattr(a, name)) == canon(getattr(b, name)), name
    assert never_stopped.engine.suspicion_rows() == after_restore.engine.suspicion_rows()
    assert never_stopped.engine.peak == after_restore.engine.peak


# --------------------------------------------------------------------------- authenticated


def test_an_altered_snapshot_is_rejected_before_it_is_read(tmp_path):
    s, stage = _stage_after("company_card_vs_puppets")
    blob = bytearray(stage.snapshot())
    blob[len(blob) // 2] ^= 0x01
    fresh = DetectionStage(s, ["orders/0"])
    engine = fresh.engine
    with pytest.raises(SnapshotRejected, match="authentication failed"):
        fresh.restore(bytes(blob))
    assert fresh.engine is engine  # untouched: the stage rebuilds from the sequenced topic


def test_a_snapshot_sealed_with_another_key_is_rejected():
    state = {"x": 1}
    with pytest.raises(SnapshotRejected, match="authentication failed"):
        unseal(seal(state, KEY), load(), b"q" * 32)
    assert unseal(seal(state, KEY), load(), KEY) == state


def test_the_stage_key_is_the_snapshot_key_of_the_settings(tmp_path, monkeypatch):
    monkeypatch.delenv("CREDENCE_SNAPSHOT_KEY", raising=False)
    s = Settings(home=tmp_path)
    stage = DetectionStage(s, [])
    assert unseal(stage.snapshot(), s, load_key(s, "snapshot")).seq_offset == -1


# --------------------------------------------------------------------------- nothing executable


def test_a_pickle_snapshot_of_the_old_format_is_refused_unread(tmp_path):
    marker = tmp_path / "ran"
    blob = _forge(pickle.dumps(_Shell(marker)), fmt=1)  # the key leaked: the tag is right
    stage = DetectionStage(load(), ["orders/0"])
    engine = stage.engine
    with pytest.raises(SnapshotRejected, match=r"format 1 \(pickle"):
        stage.restore(blob)
    assert not marker.exists() and stage.engine is engine and stage.seq_offset == -1


async def test_the_worker_logs_a_refused_snapshot_and_rebuilds_from_the_topic(caplog, tmp_path):
    """`streams.app.Runtime._load_stage`, with Redis holding each kind of snapshot: a refused
    one is logged and the stage starts empty (it then re-reads the sequenced topic from its
    first offset, `_catch_up`); an accepted one resumes after its offset."""
    from streams.app import Runtime

    s = load()
    key = load_key(s, "snapshot")
    good = DetectionStage(s, ["orders/0"])
    good.seq_offset = 41
    valid = good.snapshot()
    tampered = valid[:-1] + bytes([valid[-1] ^ 1])
    marker = tmp_path / "ran"
    old = _forge(pickle.dumps(_Shell(marker)), fmt=1, key=key)

    class _Redis:
        def __init__(self, blob: bytes) -> None:
            self.blob = blob

        async def get(self, _key: str) -> bytes:
            return self.blob

    rt = object.__new__(Runtime)  # only what _load_stage uses: no Kafka, no Redis
    rt.s, rt.snapshot_key = s, snapshot_key("credence")
    rt.input_partitions = lambda: ["orders/0"]
    for blob, offset, logged in ((valid, 41, "restored from snapshot at sequenced offset 41"),
                                 (tampered, -1, "authentication failed"),
                                 (old, -1, "format 1 (pickle, no longer read)")):
        rt.redis = _Redis(blob)
        caplog.clear()
        with caplog.at_level("INFO", logger="credence.streams"):
            stage = await rt._load_stage()
        assert stage.seq_offset == offset
        assert logged in caplog.text
        if offset == -1:
            assert "rebuilding from the start" in caplog.text
    assert not marker.exists()


@pytest.mark.parametrize("target", [
    "os:system", "posix:system", "subprocess:Popen", "builtins:eval", "builtins:object",
    "collections:OrderedDict", "importlib:import_module",
    "credence.contract:parse_event",  # a function of Credence's own
    "streams.snapshot:seal",
    "credence.engine:Engine.process_tick",  # a method, by its qualified name
    "credence.engine:Settings",  # a class imported there, not defined there
    "credence.stack:subprocess",  # a module imported there
    "credence.errors:UserError",  # an exception class
    "credence.nowhere:Thing", "credence..x:Y", "credence.engine", 42,
])
def test_a_payload_naming_anything_but_the_engines_classes_runs_nothing(target, monkeypatch):
    calls: list = []

    def spy(*a, **k):
        calls.append(a)

    for mod, name in ((os, "system"), (subprocess, "Popen"), (builtins, "eval")):
        monkeypatch.setattr(mod, name, spy)
    monkeypatch.setattr("credence.contract.parse_event", spy)
    blob = _forge(_payload([target], [[0, []]], [codec.OBJ, 0]))  # with the right tag
    with pytest.raises(SnapshotRejected, match="may not|does not exist"):
        unseal(blob, load(), KEY)
    assert calls == []


@pytest.mark.parametrize("root", [
    [codec.NDARRAY, "|O8", [1], b"\x00" * 8],  # object arrays: pointers
    [codec.NDARRAY, "|V8", [1], b"\x00" * 8],
    [codec.NDARRAY, "<f8", [1 << 40], b"\x00" * 8],  # a shape its bytes do not fill
    [codec.NDARRAY, "<f8", [-1], b""],
    [codec.NPSCALAR, "|O8", b"\x00" * 8],
    [codec.REF, 0], [codec.REF, -1],  # a reference to nothing
    [codec.OBJ, 0],  # an object of no shape
    [codec.DEQUE, -1, codec.PLAIN, []],
    [codec.LIST, 7, []],  # an unknown item mode
    [99], [],
])
def test_malformed_payloads_are_refused(root):
    with pytest.raises(SnapshotRejected):
        unseal(_forge(_payload([], [], root)), load(), KEY)


def test_a_tree_that_would_make_the_forest_loop_or_read_out_of_bounds_is_refused():
    from sklearn.ensemble import IsolationForest
    from sklearn.tree._tree import NODE_DTYPE

    forest = IsolationForest(n_estimators=2, random_state=7).fit(
        np.random.default_rng(1).normal(size=(64, 3)))
    ok = encode(forest)
    x = np.random.default_rng(2).normal(size=(20, 3))
    assert np.array_equal(decode(ok, load()).score_samples(x), forest.score_samples(x))

    def tamper(v, field: str, value: int) -> None:
        if type(v) is list and v and v[0] == codec.TREE:
            nodes = np.frombuffer(v[6], dtype=NODE_DTYPE).copy()
            nodes[field][0] = value  # the root's
            v[6] = nodes.tobytes()
        elif type(v) is list:
            for x in v:
                tamper(x, field, value)

    for field, value in (("left_child", 0), ("right_child", 10**6), ("feature", 3)):
        root, sk, classes, shapes = msgpack.unpackb(ok, raw=False, strict_map_key=False)
        tamper(root, field, value)
        with pytest.raises(SnapshotRejected, match="bad tree"):
            unseal(_forge(_payload(classes, shapes, root, sk)), load(), KEY)
    root, sk, classes, shapes = msgpack.unpackb(ok, raw=False, strict_map_key=False)
    with pytest.raises(SnapshotRejected, match="scikit-learn"):
        unseal(_forge(_payload(classes, shapes, root, "0.1")), load(), KEY)


def test_garbage_and_other_formats_are_rejected():
    for blob in (b"", b"\x80\x05N.", b"CRDSNAP\x09" + b"\x00" * 40,
                 b"CRDSNAP\x01" + b"\x00" * 40, _forge(b"\xc1"), _forge(b"")):
        with pytest.raises(SnapshotRejected):
            unseal(blob, load(), KEY)


def test_nothing_read_from_storage_is_unpickled():
    """No module of Credence imports pickle, marshal or shelve, or calls eval on data."""
    root = Path(__file__).resolve().parents[3]
    for pkg in ("config", "credence", "detectors", "producers", "streams"):
        for path in (root / pkg).rglob("*.py"):
            text = path.read_text()
            for word in ("import pickle", "import marshal", "import shelve", "yaml.load(",
                         "eval(", "exec("):
                assert word not in text, (path, word)
