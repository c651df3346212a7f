"""Producers against a real broker: a tiny scenario published, read back, counted and keyed."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest

from credence.cli import main
from credence.contract import INPUT_TOPICS, TOPIC_OF_TYPE
from producers.publisher import publish
from producers.scenario import Scenario
from producers.simulator import simulate, write
from tests.integration.support import consume_all

pytestmark = pytest.mark.integration


def _read_back(settings, timeout: float = 90.0) -> dict[str, list]:
    """Everything on the input topics, by topic; it stops once nothing came for 2 s, so anything
    beyond what was sent (a duplicate) would be there."""
    names = {settings.topic(t): t for t in INPUT_TOPICS}
    got: dict[str, list] = {t: [] for t in INPUT_TOPICS}
    for m in consume_all(settings, list(INPUT_TOPICS), idle=2.0, timeout=timeout):
        got[names[m.topic()]].append((m.key(), m.value()))
    return got


def test_simulated_scenario_round_trips_through_kafka(topic_factory):
    settings = topic_factory(partitions=3)
    sim = simulate(Scenario(scale=0.03, days=7))
    ev = sim.events
    stream = ((TOPIC_OF_TYPE[t], k, v, ts)
              for t, k, v, ts in zip(ev.types, ev.keys, ev.lines, ev.ts, strict=True))
    stats = publish(settings, stream, total=len(ev.lines), progress=False)  # type: ignore[arg-type]
    assert stats.failed == 0 and stats.total == len(ev.lines)
    expected = Counter(TOPIC_OF_TYPE[t] for t in ev.types)
    assert stats.sent == {t: expected.get(t, 0) for t in INPUT_TOPICS}
    got = _read_back(settings)
    assert {t: len(v) for t, v in got.items() if v} == dict(expected)
    for topic, msgs in got.items():
        for key, value in msgs:
            assert key.decode() == orjson.loads(value)["seller_id"], topic
    assert sorted(v for msgs in got.values() for _, v in msgs) == sorted(ev.lines)


def test_produce_command_publishes_a_file(topic_factory, monkeypatch, tmp_path, capsys):
    settings = topic_factory(partitions=2)
    monkeypatch.setenv("CREDENCE_KAFKA", settings.kafka)
    monkeypatch.setenv("CREDENCE_TOPIC_PREFIX", settings.topic_prefix)
    sim = simulate(Scenario(scale=0.03, days=3))
    write(sim, tmp_path)
    f = tmp_path / "events.jsonl"
    f.write_bytes(f.read_bytes() + b'{"type": "order"}\n' + b"oops\n")
    with pytest.raises(SystemExit) as e:
        main(["produce", str(f), "--no-progress"])
    assert e.value.code == 0
    out, err = capsys.readouterr()
    n = len(sim.events.lines)
    assert f"sent {n:,} events" in out and "skipped 2 lines" in out
    assert f"{f}:{n + 1}: order: missing field" in err and f"{f}:{n + 2}: bad JSON" in err
    got = _read_back(settings)
    assert sum(len(v) for v in got.values()) == n


def test_publishing_to_missing_topics_is_a_user_error(base_settings, monkeypatch, capsys):
    monkeypatch.setenv("CREDENCE_KAFKA", base_settings.kafka)
    monkeypatch.setenv("CREDENCE_TOPIC_PREFIX", "no-such-prefix-for-producers.")
    with pytest.raises(SystemExit) as e:
        main(["simulate", "--scale", "0.03", "--set", "days=3", "--no-progress"])
    assert e.value.code == 2
    assert "does not exist" in capsys.readouterr().err
