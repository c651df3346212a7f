"""`credence stack up | status | down` on ports of its own (not the stack the tests run on)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.support import ROOT, free_port

pytestmark = pytest.mark.integration


def _free_pair() -> int:
    """A free port whose next two ports are free too (the controller listens on the broker port
    + 1, the proxied listener on + 2): no fixed port, so two checkouts running the suite on one
    machine never collide."""
    import socket

    for _ in range(50):
        port = free_port()
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port + 1))
                b.bind(("127.0.0.1", port + 2))
                return port
        except OSError:
            continue
    raise RuntimeError("no three consecutive free ports")


def _visited_first(names: list[str]) -> str:
    """A user name that a Java HashMap of 16 buckets holding ``names`` visits before them."""

    def bucket(text: str) -> int:
        h = 0
        for ch in text:
            h = (31 * h + ord(ch)) & 0xFFFFFFFF  # String.hashCode
        return (h ^ (h >> 16)) & 15  # HashMap.hash, table of 16
    first = min(map(bucket, names))
    return next(f"gone{i}" for i in range(10_000) if bucket(f"gone{i}") < first)


def _credence(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "credence.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.skipif(any(shutil.which(t) is None for t in ("java", "mvn", "redis-server")) and
                    os.environ.get("CI") != "true", reason="needs java, mvn and redis-server")
def test_up_twice_status_down(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDENCE_")}
    kport, rport = _free_pair(), free_port()
    env.update(CREDENCE_HOME=str(tmp_path / "home"), CREDENCE_KAFKA=f"127.0.0.1:{kport}",
               CREDENCE_REDIS=f"redis://127.0.0.1:{rport}/0")
    # Reuse the jars of the stack the tests run on, if any, instead of a second Maven fetch.
    libs = Path(os.environ.get("CREDENCE_HOME", "~/.credence")).expanduser() / "kafka" / "libs"
    if libs.is_dir():
        shutil.copytree(libs, tmp_path / "home" / "kafka" / "libs")
    try:
        up = _credence(["stack", "up"], env)
        assert up.returncode == 0, up.stderr
        assert f"kafka  started on 127.0.0.1:{kport}" in up.stdout and "answering after" in up.stdout
        assert "users  admin, agency, inspector, lender, platform, worker" in up.stdout
        again = _credence(["stack", "up"], env)
        assert again.returncode == 0 and again.stdout.count("already running") == 2, again.stdout
        # A removed user must not take the others with it when the broker replays its metadata
        # log from the start (no snapshot yet): Kafka 3.9 loses every SCRAM credential when it
        # meets first a deletion of a user name its hash map visits first (KAFKA-20774), so the
        # name is one that Java's HashMap puts before every principal.
        gone = _visited_first(["admin", "agency", "inspector", "lender", "platform", "worker"])
        assert _credence(["users", "add", gone, "--role", "lender"], env).returncode == 0
        removed = _credence(["users", "remove", gone], env)
        assert removed.returncode == 0, removed.stderr
        # Stopped and started again, the broker still knows the principals (their SCRAM
        # credentials are in its metadata) and Redis its users (ACL file).
        assert _credence(["stack", "down"], env).returncode == 0
        restarted = _credence(["stack", "up"], env)
        assert restarted.returncode == 0 and restarted.stdout.count("started on") == 2, \
            restarted.stderr
        listed = _credence(["users", "list"], env).stdout.splitlines()
        assert sum(" scram " in line and line.endswith(".env") for line in listed) == 6
        # The removed user's credential was retired, not deleted: listed, with no file.
        assert [line for line in listed if line.startswith(gone + " ")][0].endswith("(no file)")
        status = _credence(["stack", "status"], env)
        assert status.returncode == 0 and status.stdout.count("running (pid") == 2
        pids = [int(line.split("(pid ")[1].split(")")[0]) for line in status.stdout.splitlines()]
    finally:
        down = _credence(["stack", "down"], env)
    assert down.returncode == 0 and down.stdout.count("stopped (pid") == 2, down.stdout
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or \
            Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    after = _credence(["stack", "status"], env)
    assert after.returncode == 1 and after.stdout.count("stopped") == 2


def test_missing_tool_is_one_line_naming_the_fix(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDENCE_")}
    env.update(CREDENCE_HOME=str(tmp_path), CREDENCE_KAFKA="127.0.0.1:31192",
               CREDENCE_REDIS="redis://127.0.0.1:31479/0", PATH="/nonexistent")
    r = subprocess.run([sys.executable, "-m", "credence.cli", "stack", "up"], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip() == ("credence: error: java not found: install a JDK 17: "
                                "apt-get install openjdk-17-jre-headless")
