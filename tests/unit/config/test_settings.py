from __future__ import annotations

import pytest
from pydantic import ValidationError

from config.settings import Settings, SettingsError, load


def test_environment_prefix_and_defaults(monkeypatch):
    monkeypatch.setenv("CREDENCE_TOPIC_PREFIX", "stage.")
    monkeypatch.setenv("CREDENCE_PARTITIONS", "3")
    monkeypatch.delenv("CREDENCE_KAFKA", raising=False)  # `make test` sets it
    s = load()
    assert s.topic("alerts") == "stage.alerts" and s.partitions == 3
    assert s.kafka == "127.0.0.1:9092"


def test_frozen():
    s = Settings()
    with pytest.raises(ValidationError) as e:
        s.kafka = "x:1"  # type: ignore[misc]
    assert e.value.errors()[0]["type"] == "frozen_instance"


@pytest.mark.parametrize("name,value,needle", [
    ("CREDENCE_KAFKA", "nonsense", "CREDENCE_KAFKA"),
    ("CREDENCE_REDIS", "http://x", "CREDENCE_REDIS"),
    ("CREDENCE_PARTITIONS", "zero", "CREDENCE_PARTITIONS"),
    ("CREDENCE_TOPIC_PREFIX", "a b", "CREDENCE_TOPIC_PREFIX"),
])
def test_bad_settings_give_one_line(monkeypatch, name, value, needle):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as e:
        load()
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_kafka_url_for_faust():
    assert load(kafka="a:1,b:2").kafka_url == "kafka://a:1;kafka://b:2"
