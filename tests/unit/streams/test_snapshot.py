"""`streams.snapshot`: sealed detection snapshots (issue 12, item 3): authenticated before they
are read, and unable to run code or to carry the worker's secrets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from config.keys import load_key
from config.settings import Settings, load
from streams.detect import DetectionStage
from streams.snapshot import SnapshotRejected, seal, unseal

KEY = b"k" * 32
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


class _Shell:
    """What an attacker who can write the Redis key would store: a pickle that runs a command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _stage_after(case: str) -> tuple[Settings, DetectionStage]:
    """A detection stage whose engine has taken a whole golden case (every detector holds
    state), as a worker's would."""
    from credence.replay import Replay

    s = load()
    rep = Replay(s)
    rep.run([str(FIXTURES / case / "events.jsonl")], None)
    stage = DetectionStage(s, ["orders/0"])
    stage.engine, stage.seq = rep.engine, rep.seq
    return s, stage


def test_a_whole_engine_round_trips_without_its_settings():
    s, stage = _stage_after("company_card_vs_puppets")
    blob = stage.snapshot()
    assert s.pseudonym_key is not None  # tests set one: it must not be in the snapshot
    assert s.pseudonym_key.get_secret_value().encode() not in blob
    fresh = DetectionStage(s, ["orders/0"])
    fresh.restore(blob)
    assert fresh.engine.settings is s  # the running worker's settings, not a copy
    assert fresh.engine.suspicion_rows() == stage.engine.suspicion_rows()


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


def test_a_pickle_that_would_run_code_does_not_run_even_with_the_key(tmp_path):
    marker = tmp_path / "ran"
    blob = seal(_Shell(marker), KEY)  # the key leaked: the tag is right
    with pytest.raises(SnapshotRejected, match="may not"):
        unseal(blob, load(), KEY)
    assert not marker.exists()


def test_garbage_and_other_formats_are_rejected():
    for blob in (b"", b"\x80\x05N.", b"CRDSNAP\x09" + b"\x00" * 40):
        with pytest.raises(SnapshotRejected):
            unseal(blob, load(), KEY)


def test_the_stage_key_is_the_snapshot_key_of_the_settings(tmp_path, monkeypatch):
    monkeypatch.delenv("CREDENCE_SNAPSHOT_KEY", raising=False)
    s = Settings(home=tmp_path)
    stage = DetectionStage(s, [])
    assert unseal(stage.snapshot(), s, load_key(s, "snapshot")).seq_offset == -1
