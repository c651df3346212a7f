"""docker-compose.yml, the Makefile and .ci/run: the files a user starts from."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]


def _compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _compose_available(), reason="no docker compose client here")
def test_docker_compose_config_is_valid():
    r = subprocess.run(["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config",
                        "-q"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_compose_services_have_healthchecks_and_ordered_starts():
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    svc = doc["services"]
    assert svc["kafka"]["image"] in ("apache/kafka:3.9.2",) or \
        svc["kafka"]["image"].startswith("confluentinc/cp-kafka:7.9")
    assert svc["redis"]["image"].startswith("redis:7.2")
    for name in ("kafka", "redis", "worker"):
        assert "healthcheck" in svc[name], name
    deps = svc["worker"]["depends_on"]
    assert deps["kafka"]["condition"] == "service_healthy"
    assert deps["redis"]["condition"] == "service_healthy"
    assert deps["topics"]["condition"] == "service_completed_successfully"
    assert svc["simulator"]["profiles"] == ["demo"]
    assert svc["simulator"]["depends_on"]["worker"]["condition"] == "service_healthy"
    env = svc["worker"]["environment"]
    assert env["CREDENCE_KAFKA"] == "kafka:9092" and env["CREDENCE_REDIS"].startswith("redis://")


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in ci and "make test" in readme and "make demo" in readme
    assert "CI=true" in ci


def test_compose_is_secured_like_the_local_stack():
    from credence.security import _WORKER_COMMANDS

    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    svc = doc["services"]
    worker = svc["worker"]["environment"]
    assert worker["CREDENCE_KAFKA_USERNAME"] == "worker"
    assert worker["CREDENCE_REDIS"].startswith("redis://worker@")
    assert svc["worker"]["depends_on"]["users"]["condition"] == "service_completed_successfully"
    # The broker renders the local stack's server.properties: SASL and ACLs are the same.
    assert "./config/kafka/server.properties:/credence/server.properties:ro" in \
        svc["kafka"]["volumes"]
    props = (ROOT / "config" / "kafka" / "server.properties").read_text()
    for line in ("allow.everyone.if.no.acl.found=false", "super.users=User:admin",
                 "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                 "sasl.enabled.mechanisms=SCRAM-SHA-512", "sasl.mechanism.controller.protocol=PLAIN"):
        assert line in props.splitlines(), line
    # Redis: the worker user of compose has exactly the commands of credence/security.py.
    script = svc["redis"]["command"][0]
    worker_line = next(x for x in script.splitlines() if x.startswith("user worker "))
    granted = {w[1:] for w in worker_line.split() if w.startswith("+")}
    assert granted == set(_WORKER_COMMANDS)
    assert "user default off" in script and "--appendfsync everysec" in script
    assert "--maxmemory-policy noeviction" in script
