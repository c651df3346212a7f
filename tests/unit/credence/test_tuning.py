"""Run-time policy changes (credence.tuning): parsed only as policy, applied at their event time,
the same way by replay as by the streaming stage."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from config.settings import load
from credence.contract import InvalidEvent, parse_event
from credence.replay import Replay
from credence.tuning import parse_input, parse_policy

ROOT = Path(__file__).resolve().parents[3]
CASE = ROOT / "tests" / "fixtures" / "wash_ring_vs_households" / "events.jsonl"


def _change(setting: str, value: float, ts: str) -> dict:
    return {"type": "policy", "setting": setting, "value": value, "by": "sue",
            "reason": "test", "ts": ts}


def test_a_policy_change_parses_only_as_itself():
    ch = parse_policy(orjson.dumps(_change("alert_cooldown_seconds", 3600, "2026-09-01T00:00:00Z")))
    assert ch.value == 3600.0 and ch.key == "alert_cooldown_seconds"
    for bad, msg in ((_change("blacklist_threshold", 2, "2026-09-01T00:00:00Z"), "within"),
                     (_change("score_step", 1, "2026-09-01T00:00:00Z"), "setting"),
                     ({**_change("blacklist_threshold", 0.5, "x")}, "ts"),
                     ({"type": "order"}, "only policy changes")):
        with pytest.raises(InvalidEvent, match=msg):
            parse_policy(orjson.dumps(bad))
    # Not a contract event: on any contract topic it stays a dead letter.
    with pytest.raises(InvalidEvent, match="unknown type 'policy'"):
        parse_event(orjson.dumps(_change("blacklist_threshold", 0.5, "2026-09-01T00:00:00Z")))
    assert parse_input(orjson.dumps(_change("blacklist_threshold", 0.5,
                                            "2026-09-01T00:00:00Z"))).type == "policy"


def _replay(tmp_path: Path, name: str, before: list[dict] = (), after: list[dict] = ()
            ) -> list[dict]:
    """Replay the case with policy lines before and after its events (in time order)."""
    f = tmp_path / f"{name}.jsonl"
    f.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in before) + CASE.read_bytes()
                  + b"".join(orjson.dumps(e) + b"\n" for e in after))
    out = tmp_path / name
    Replay(load(None, pseudonym_key="k" * 32)).run([str(f)], out)
    return [orjson.loads(x) for x in (out / "blacklist.jsonl").read_bytes().splitlines()]


def test_replay_applies_a_change_at_its_time_and_deterministically(tmp_path):
    base = _replay(tmp_path, "base")
    assert base and all(">= 0.8" in b["reason"] for b in base if "suspicion" in b["reason"]
                        and ">=" in b["reason"])
    # From the start of the case on, a lower threshold lists at 0.5.
    early = [_change("blacklist_threshold", 0.5, "2026-09-01T00:00:00Z")]
    lowered = _replay(tmp_path, "lowered", before=early)
    assert lowered != base
    assert any(">= 0.5" in b["reason"] for b in lowered)
    assert not any(">= 0.8" in b["reason"] for b in lowered)
    assert len({b["entity_id"] for b in lowered}) >= len({b["entity_id"] for b in base})
    # The same input gives the same outputs (the order of lines of one ts does not matter).
    assert _replay(tmp_path, "again", before=early) == lowered
    # A change after the last event changes nothing that came before it.
    late = [_change("blacklist_threshold", 0.5, "2027-01-01T00:00:00Z")]
    assert _replay(tmp_path, "late", after=late) == base
