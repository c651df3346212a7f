"""Shared fixtures.

Integration tests need a real Kafka broker and a real Redis. They come from, in order:

1. the environment: ``CREDENCE_KAFKA`` / ``CREDENCE_REDIS`` set explicitly (``make test`` sets them
   for the stack it starts), or the local stack of ``CREDENCE_HOME`` running (``credence stack up``);
2. testcontainers, where a Docker engine answers;
3. otherwise they are skipped locally, and fail under ``CI=true``.

Every test gets its own topic prefix, Redis key prefix and consumer group (`topic_factory`,
`redis_factory`, `env_factory`), so tests run in any order and never touch data they did not make.

On the local stack Kafka and Redis require a login: the test process is ``admin`` (credentials from
``$CREDENCE_HOME/credentials``), and the workers it starts log in as ``worker``, whose ACLs and
Redis key pattern `env_factory` extends to the test's own topic and key prefixes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from config.settings import Settings, load

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# One pseudonym key for the whole run (workers started by tests inherit it): golden files hold
# pseudonyms, which must not depend on a key file in someone's CREDENCE_HOME.
os.environ.setdefault("CREDENCE_PSEUDONYM_KEY", "credence-tests-pseudonym-key-0001")


@dataclass(frozen=True)
class Infra:
    kafka: str
    redis: str
    source: str
    secure: bool = True  # SASL and Redis users (the local stack); testcontainers runs open


def _answers(settings: Settings) -> bool:
    from config.kafka import admin
    from credence.store.redis import connect

    try:
        if not connect(settings, socket_timeout=2).ping():
            return False
        return bool(admin(settings).list_topics(timeout=5).brokers)
    except Exception:
        return False


def _from_environment() -> Infra | None:
    s = load()
    explicit = "CREDENCE_KAFKA" in os.environ or "CREDENCE_REDIS" in os.environ
    if not explicit:
        from credence.stack import Stack

        if not all(st.running for st in Stack(s).status()):
            return None
    return Infra(s.kafka, s.redis, "environment") if _answers(s) else None


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    found = _from_environment()
    if found:
        yield found
        return
    if _docker_answers():
        from testcontainers.community.kafka import KafkaContainer
        from testcontainers.community.redis import RedisContainer

        with KafkaContainer("confluentinc/cp-kafka:7.9.2").with_kraft() as k, \
                RedisContainer("redis:7.2") as r:
            host, port = r.get_container_host_ip(), r.get_exposed_port(6379)
            yield Infra(k.get_bootstrap_server(), f"redis://{host}:{port}/0", "testcontainers",
                        secure=False)
        return
    msg = ("no Kafka/Redis: run `credence stack up` (or `make test`), or provide a Docker engine "
           "for testcontainers")
    if CI:
        pytest.fail(f"CI=true and {msg}")
    pytest.skip(msg)


@pytest.fixture
def unique() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def base_settings(infra: Infra) -> Settings:  # frozen: one for the session
    if not infra.secure:
        return load(None, kafka=infra.kafka, redis=infra.redis,
                    kafka_security_protocol="PLAINTEXT")
    return load("admin", kafka=infra.kafka, redis=infra.redis)


@pytest.fixture
def redis_factory(base_settings: Settings) -> Iterator[Callable[..., Settings]]:
    """Settings with a fresh Redis key prefix; every key under it is deleted afterwards."""
    from credence.store.redis import connect

    made: list[str] = []

    def make(**overrides: object) -> Settings:
        prefix = "test-" + uuid.uuid4().hex[:10]
        made.append(prefix)
        return base_settings.model_copy(update={"key_prefix": prefix, **overrides})

    yield make
    r = connect(base_settings, decode=False)
    for prefix in made:
        # The workbench's read model lives next to the prefix (Settings.inspect_prefix).
        batch = list(r.scan_iter(match=f"{prefix}:*", count=1000)) + \
            list(r.scan_iter(match=f"{prefix}-inspect:*", count=1000))
        for i in range(0, len(batch), 1000):
            r.unlink(*batch[i:i + 1000])


@pytest.fixture
def topic_factory(base_settings: Settings) -> Iterator[Callable[..., Settings]]:
    """Settings with a fresh topic prefix whose topics exist; they are deleted afterwards."""
    from config.kafka import admin
    from config.topics import create_topics

    made: list[Settings] = []

    def make(partitions: int = 3, **overrides: object) -> Settings:
        prefix = "test-" + uuid.uuid4().hex[:10] + "."
        s = base_settings.model_copy(update={"topic_prefix": prefix, "partitions": partitions,
                                             **overrides})
        create_topics(s)
        made.append(s)
        return s

    yield make
    a = admin(base_settings)
    for s in made:
        names = [t for t in a.list_topics(timeout=10).topics if t.startswith(s.topic_prefix)]
        if names:
            for fut in a.delete_topics(names, operation_timeout=10).values():
                try:
                    fut.result()
                except Exception:  # noqa: S110 - best-effort cleanup of a test's own topics
                    pass


@pytest.fixture
def env_factory(topic_factory, redis_factory, infra: Infra) -> Iterator[Callable[..., Settings]]:
    """Settings isolated on every axis: topic prefix, Redis key prefix, consumer group; on the
    secured stack the ``worker`` principal gets its ACLs on them (revoked afterwards)."""
    from credence.security import apply_acls, grant_redis_prefix, revoke_acls

    made: list[Settings] = []

    def make(partitions: int = 3, **overrides: object) -> Settings:
        s = topic_factory(partitions=partitions, **overrides)
        r = redis_factory()
        s = s.model_copy(update={"key_prefix": r.key_prefix,
                                 "worker_id": "credence-" + r.key_prefix})
        if infra.secure:
            apply_acls(s, "worker", "worker", s)
            grant_redis_prefix(s, s.key_prefix)
            made.append(s)
        return s

    yield make
    for s in made:
        revoke_acls(s, "worker", "worker", s)
