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


def test_redis_password_leaves_the_url_and_is_never_printed():
    s = load(None, redis="redis://worker:s3cret-pw@127.0.0.1:6390/2")
    assert s.redis == "redis://worker@127.0.0.1:6390/2"
    assert s.redis_password.get_secret_value() == "s3cret-pw"
    assert "s3cret-pw" not in repr(s) and "s3cret-pw" not in str(s.model_dump())
    env = s.environ()  # what a child process gets: the secret in clear, the URL without it
    assert env["CREDENCE_REDIS_PASSWORD"] == "s3cret-pw"  # noqa: S105 - a test value
    assert "s3cret" not in env["CREDENCE_REDIS"]


def test_credentials_come_from_the_principal_file(tmp_path, monkeypatch):
    from config import credentials
    from config.kafka import kafka_config

    for k in ("CREDENCE_KAFKA_USERNAME", "CREDENCE_KAFKA_PASSWORD", "CREDENCE_REDIS_PASSWORD"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("CREDENCE_HOME", str(tmp_path))
    monkeypatch.setenv("CREDENCE_REDIS", "redis://127.0.0.1:6390/0")
    credentials.write(tmp_path, "admin", "admin", "pw-admin", "redis://admin:r-admin@x:1/0")
    credentials.write(tmp_path, "worker", "worker", "pw-worker", "redis://worker:r-worker@x:1/0")
    assert oct((tmp_path / "credentials" / "worker.env").stat().st_mode & 0o777) == "0o600"
    a = load()  # admin by default
    assert (a.kafka_username, a.kafka_password.get_secret_value()) == ("admin", "pw-admin")
    assert a.redis == "redis://admin@127.0.0.1:6390/0"  # host and db stay the settings'
    assert a.redis_password.get_secret_value() == "r-admin"
    w = load("worker")
    assert w.kafka_username == "worker" and w.redis_password.get_secret_value() == "r-worker"
    cfg = kafka_config(w)
    assert cfg["security.protocol"] == "SASL_PLAINTEXT" and cfg["sasl.mechanism"] == "SCRAM-SHA-512"
    assert (cfg["sasl.username"], cfg["sasl.password"]) == ("worker", "pw-worker")
    monkeypatch.setenv("CREDENCE_KAFKA_USERNAME", "worker")  # the environment names the user
    assert load().kafka_password.get_secret_value() == "pw-worker"
    monkeypatch.setenv("CREDENCE_KAFKA_PASSWORD", "given")  # and a given password wins
    assert load().kafka_password.get_secret_value() == "given"


def test_missing_kafka_credentials_are_one_line(tmp_path):
    from config.kafka import kafka_config

    s = load(None, home=tmp_path, kafka_username="", kafka_password="")
    with pytest.raises(SettingsError) as e:
        kafka_config(s)
    assert "CREDENCE_KAFKA_USERNAME" in str(e.value) and "\n" not in str(e.value)
    assert kafka_config(s.model_copy(update={"kafka_security_protocol": "PLAINTEXT"}))[
        "security.protocol"] == "PLAINTEXT"
