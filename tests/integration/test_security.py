"""Authentication and authorisation on the real local broker and Redis (CONTRACT.md section 5).

The principals are the stack's own (their credential files under ``$CREDENCE_HOME/credentials``);
each test gives them their role's ACLs on its own topic prefix (the same `grants` that
`credence stack up` applies to ``CREDENCE_TOPIC_PREFIX``) and takes them back afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from confluent_kafka import KafkaError, KafkaException
from pydantic import SecretStr

from config import credentials
from config.credentials import as_principal
from config.kafka import admin, consumer, producer
from config.settings import Settings
from credence.security import apply_acls, grant_redis_prefix, revoke_acls
from credence.store.keys import snapshot_key
from credence.store.redis import APPLY_LUA, connect
from tests.integration.support import ROOT, settings_env

pytestmark = pytest.mark.integration

DENIED = (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED)


@pytest.fixture
def secure(infra) -> None:
    if not infra.secure:
        pytest.skip("the testcontainers broker runs without authentication")


@pytest.fixture
def principal(topic_factory, redis_factory, secure) -> Iterator[Callable[[str], Settings]]:
    """``principal(name)``: settings of the stack's principal ``name`` (role = name) on one
    fresh topic prefix and key prefix shared by the test, with its role's ACLs there."""
    scope = topic_factory(partitions=1)
    scope = scope.model_copy(update={"key_prefix": redis_factory().key_prefix,
                                     "worker_id": "credence-" + uuid.uuid4().hex[:8]})
    granted: list[str] = []

    def make(name: str) -> Settings:
        if name not in granted:
            apply_acls(scope, name, name, scope)
            granted.append(name)
        return as_principal(scope, name)

    make.scope = scope  # type: ignore[attr-defined]
    yield make
    for name in granted:
        revoke_acls(scope, name, name, scope)


def _produce(s: Settings, topic: str, idempotent: bool = True, timeout_s: float = 15.0
             ) -> KafkaError | None:
    """Send one message; the delivery error, or None when it was written."""
    errors: list[KafkaError | None] = []
    extra = {} if idempotent else {"enable.idempotence": False, "acks": "1"}
    p = producer(s, **{"message.timeout.ms": int(timeout_s * 1000), **extra})
    p.produce(s.topic(topic), key=b"k", value=b'{"x":1}',
              on_delivery=lambda err, msg: errors.append(err))
    p.flush(timeout_s + 5)
    return errors[0] if errors else KafkaError(KafkaError._MSG_TIMED_OUT)


def _read(s: Settings, topic: str, want: int = 1, timeout: float = 30.0
          ) -> tuple[int, KafkaError | None]:
    """Read ``topic`` from its start in a group named after the principal: (messages, error)."""
    c = consumer(s, group=f"{s.kafka_username}-{uuid.uuid4().hex[:8]}")
    c.subscribe([s.topic(topic)])
    n, deadline = 0, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and n < want:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() in (*DENIED, KafkaError.GROUP_AUTHORIZATION_FAILED):
                    return n, m.error()
                continue
            n += 1
    finally:
        c.close()
    return n, None


# ------------------------------------------------------------------------------ Kafka


def test_anonymous_and_wrong_password_clients_are_refused(base_settings, secure):
    anonymous = base_settings.model_copy(update={"kafka_security_protocol": "PLAINTEXT"})
    with pytest.raises(KafkaException):
        admin(anonymous, **{"socket.timeout.ms": 3000}).list_topics(timeout=5)
    wrong = as_principal(base_settings, "lender").model_copy(
        update={"kafka_password": SecretStr("not-the-password")})
    with pytest.raises(KafkaException) as e:
        admin(wrong, **{"socket.timeout.ms": 3000}).list_topics(timeout=5)
    assert e.value.args[0].code() in (KafkaError._AUTHENTICATION, KafkaError._TRANSPORT,
                                      KafkaError._TIMED_OUT)
    assert _produce(anonymous, "orders", timeout_s=3) is not None  # nothing gets through


def test_lender_reads_credit_scores_only_and_writes_nothing(principal):
    adm = principal.scope  # the test process is admin
    assert _produce(adm, "credit-scores") is None and _produce(adm, "alerts") is None
    lender = principal("lender")
    assert _read(lender, "credit-scores") == (1, None)
    n, err = _read(lender, "alerts", timeout=20)
    assert n == 0 and err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    for topic in ("credit-scores", "decisions", "orders", "alerts"):
        err = _produce(lender, topic, idempotent=False)
        assert err is not None and err.code() in DENIED, (topic, err)
    # Its topic listing shows only what it may read.
    md = admin(lender).list_topics(timeout=10)
    assert {t for t in md.topics if t.startswith(adm.topic_prefix)} == {adm.topic("credit-scores")}


def test_only_the_inspector_writes_decisions(principal):
    worker, inspector = principal("worker"), principal("inspector")
    err = _produce(worker, "decisions", idempotent=False)
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    err = _produce(worker, "decisions")  # the idempotent producer every client uses: refused too
    assert err is not None and err.code() in DENIED
    assert _produce(worker, "alerts") is None  # its outputs it writes
    assert _produce(inspector, "decisions") is None
    for topic in ("alerts", "blacklist", "credit-scores"):
        err = _produce(inspector, topic, idempotent=False)
        assert err is not None and err.code() in DENIED, topic
    platform, agency = principal("platform"), principal("agency")
    assert _produce(platform, "orders") is None and _produce(agency, "records") is None
    for p, topic in ((platform, "decisions"), (platform, "records"), (agency, "orders")):
        err = _produce(p, topic, idempotent=False)
        assert err is not None and err.code() in DENIED, (p.kafka_username, topic)


# ------------------------------------------------------------------------------ Redis


def test_redis_refuses_a_connection_without_a_user(base_settings, secure):
    anon = redis.Redis.from_url(base_settings.redis.replace("admin@", ""), socket_timeout=5)
    with pytest.raises(redis.AuthenticationError):
        anon.get("credence:anything")
    with pytest.raises(redis.AuthenticationError):  # the `default` user is off
        redis.Redis.from_url(base_settings.redis.replace("admin@", ""), username="default",
                             password="", socket_timeout=5).ping()


def test_redis_reader_cannot_write_and_worker_stays_in_its_prefix(principal, base_settings):
    scope = principal.scope
    grant_redis_prefix(base_settings, scope.key_prefix)  # what env_factory does for workers
    key = f"{scope.key_prefix}:view:score"
    connect(scope).hset(key, "s1", "1")  # admin
    reader = connect(as_principal(scope, "lender"))
    assert urlparse_user(as_principal(scope, "lender").redis) == "reader"
    assert reader.hget(key, "s1") == "1"
    with pytest.raises(redis.exceptions.NoPermissionError):
        reader.hset(key, "s1", "2")
    with pytest.raises(redis.exceptions.NoPermissionError):
        reader.delete(key)
    with pytest.raises(redis.exceptions.NoPermissionError):
        reader.get("elsewhere:x")
    w = connect(as_principal(scope, "worker"))
    assert urlparse_user(as_principal(scope, "worker").redis) == "worker"
    w.set(snapshot_key(scope.key_prefix), b"x")
    w.hset(key, "s1", "3")
    for call in (lambda: w.set("elsewhere:x", 1), lambda: w.get("elsewhere:x"),
                 lambda: w.flushdb(), lambda: w.config_get("maxmemory-policy"),
                 lambda: w.keys("*")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            call()
    # The feature script runs as the worker: its keys (in ARGV) are checked against the ACL too.
    script = w.register_script(APPLY_LUA)
    doc = ('{"n":1,"ttl":60,"d":["elsewhere:dedupe"],"src":["x"],"z":[],"s":[],"t":[]}')
    with pytest.raises(redis.exceptions.ResponseError, match="can.t access"):
        script(args=[doc])
    ok = doc.replace("elsewhere:", f"{scope.key_prefix}:")
    assert script(args=[ok])[0] == 1
    assert connect(scope).get("elsewhere:dedupe") is None


def urlparse_user(url: str) -> str | None:
    from urllib.parse import urlparse

    return urlparse(url).username


# ------------------------------------------------------------------------------ eviction


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("redis-server") is None and os.environ.get("CI") != "true",
                    reason="needs redis-server")
def test_worker_refuses_a_redis_that_evicts(base_settings, tmp_path: Path, secure):
    port, password = _free_port(), uuid.uuid4().hex
    conf = tmp_path / "redis.conf"  # the password in a file, not on the command line
    conf.write_text(f"port {port}\nbind 127.0.0.1\nsave \"\"\nappendonly no\ndir {tmp_path}\n"
                    f"maxmemory 64mb\nmaxmemory-policy allkeys-lru\nrequirepass {password}\n")
    proc = subprocess.Popen(["redis-server", str(conf)],  # noqa: S607
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = redis.Redis(port=port, password=password)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        env = settings_env(base_settings.model_copy(update={
            "redis": f"redis://127.0.0.1:{port}/0", "redis_password": SecretStr(password)}))
        env.pop("CREDENCE_KAFKA_USERNAME")  # the worker's own principal, as in production
        env.pop("CREDENCE_KAFKA_PASSWORD")
        t0 = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "credence.cli", "worker"], env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr[-2000:]
        assert done.stderr.count("\n") == 1 and "maxmemory-policy allkeys-lru" in done.stderr
        assert "noeviction" in done.stderr and time.monotonic() - t0 < 30
    finally:
        proc.terminate()
        proc.wait(10)


# ------------------------------------------------------------------------------ files, CLI


def test_credential_files_are_private_and_follow_the_contract(base_settings, secure):
    home = base_settings.home
    d = credentials.credentials_dir(home)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    for name in ("admin", "worker", "platform", "agency", "inspector", "lender"):
        f = d / f"{name}.env"
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        vals = credentials.read(home, name)
        assert vals is not None and vals["CREDENCE_KAFKA_USERNAME"] == name
        assert len(vals["CREDENCE_KAFKA_PASSWORD"]) >= 24
        assert vals["CREDENCE_REDIS"].startswith("redis://") and "@127.0.0.1:" in \
            vals["CREDENCE_REDIS"]
    kafka_conf = home / "kafka" / "server.properties"
    assert stat.S_IMODE(kafka_conf.stat().st_mode) == 0o600


def test_users_add_list_remove(base_settings, secure):
    env = settings_env(base_settings)

    def credence(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "credence.cli", "users", *args], env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=60)

    name = "bank" + uuid.uuid4().hex[:6]
    added = credence("add", name, "--role", "lender")
    assert added.returncode == 0, added.stderr
    lender = as_principal(base_settings, name)
    assert lender.kafka_password.get_secret_value()
    admin(lender).list_topics(timeout=10)  # it logs in
    listed = credence("list")
    assert any(line.split()[:3] == [name, "lender", "scram"] for line in listed.stdout.splitlines())
    # The password never shows: not in the listing, not in the settings' text.
    assert lender.kafka_password.get_secret_value() not in listed.stdout + repr(lender)
    removed = credence("remove", name)
    assert removed.returncode == 0, removed.stderr
    with pytest.raises(KafkaException):
        admin(lender, **{"socket.timeout.ms": 3000}).list_topics(timeout=5)
    for bad, needle in ((["add", "Bad!", "--role", "lender"], "user name"), (["add", "x", "--role", "king"], "role"),
                        (["remove", "admin"], "super user"), (["remove", "nobody-here"], "no user")):
        r = credence(*bad)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and needle in r.stderr, r.stderr
