"""Real `credence worker` processes and plain Kafka clients: what the fault suite and the
integration tests drive (they share this, so a fault scenario and its test run the same code).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from config.settings import Settings

__all__ = ["scrape_metrics", "ROOT", "Worker", "produce", "consume_all", "wait_for", "settings_env",
           "free_port"]

ROOT = Path(__file__).resolve().parents[2]  # the checkout: workers run its code


# Ports handed out by this process (a child may not have bound its port yet).
_GIVEN: set[int] = set()
# Listener ports are drawn from here: below Linux's default ephemeral range (32768-60999) and
# clear of the stacks' own ports (26379, 29092-29094, 46379, 49092-49094).
_LISTEN_RANGE = (20000, 26000)


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free TCP port for a child process's listener (a worker's web port, a test stack).

    Not one from binding port 0: that is an *ephemeral* port, and between closing it here and
    the child binding it, any outgoing connection on the machine (a Kafka client's) may take it
    as its local port; CI saw a worker exit with EADDRINUSE that way. Ports below the ephemeral
    range are never handed out to outgoing connections, so a port free now stays free until a
    listener takes it; ports given before are not given again."""
    lo, hi = _LISTEN_RANGE[0], min(_LISTEN_RANGE[1], _ephemeral_low())
    tries = 500 if hi - lo > 100 else 0  # an unusual ephemeral range: the kernel's choice
    for port in (lo + secrets.randbelow(hi - lo) for _ in range(tries)):
        if port not in _GIVEN and _bindable(port):
            _GIVEN.add(port)
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def settings_env(s: Settings) -> dict[str, str]:
    """The environment that makes a child process see ``s``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDENCE_")}
    env.update(s.environ())
    return env


def scrape_metrics(port: int, timeout: float = 3.0) -> dict[str, float]:
    """A worker's Prometheus ``/metrics`` as ``{series: value}`` ({} when it does not answer)."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",  # noqa: S310
                                    timeout=timeout) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                pass
    return out


@dataclass
class Worker:
    settings: Settings
    log: Path
    proc: subprocess.Popen | None = None
    port: int = field(default_factory=free_port)
    role: str = "all"

    def start(self) -> Worker:
        s = self.settings.model_copy(update={"web_port": self.port})
        if s.kafka_username:
            # On the secured stack a worker is the `worker` principal, as in production: the
            # tests then also prove that its ACLs and Redis commands suffice.
            from config.credentials import as_principal

            s = as_principal(s, "worker")  # same hosts, topics and keys; other credentials
        self._fh = open(self.log, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "credence.cli", "worker", "--role",  # noqa: S603
                                      self.role],
                                     env=settings_env(s), stdout=self._fh,
                                     stderr=subprocess.STDOUT, cwd=ROOT,
                                     start_new_session=True)
        return self

    def metrics(self) -> dict[str, float]:
        return scrape_metrics(self.port, timeout=2)

    def health(self) -> tuple[int, dict[str, Any]]:
        """``(HTTP status, body)`` of /health; ``(0, {})`` while it does not answer."""
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health",  # noqa: S310
                                        timeout=2) as r:
                return r.status, orjson.loads(r.read())
        except urllib.error.HTTPError as e:
            try:
                return e.code, orjson.loads(e.read())
            except ValueError:
                return e.code, {}
        except (OSError, ValueError):
            return 0, {}

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


def produce(s: Settings, lines: Iterable[bytes | dict]) -> int:
    """Publish contract events (dicts or raw bytes) by type, keyed per the contract; what cannot
    be routed (bad JSON, unknown type: dead-letter material) goes to ``orders``."""
    from config.kafka import producer
    from producers.publisher import RouteError, route

    p = producer(s, **{"message.max.bytes": 4 * 1024 * 1024})
    n = 0
    for item in lines:
        value = orjson.dumps(item) if isinstance(item, dict) else item
        try:
            topic, key, _ = route(value, validate=False)
        except RouteError:
            topic, key = "orders", None
        p.produce(s.topic(topic), value=value, key=key.encode() if key is not None else None)
        p.poll(0)
        n += 1
    left = p.flush(30)
    if left:
        raise RuntimeError(f"{left} messages not delivered within 30 s")
    return n


def consume_all(s: Settings, topic: str | Sequence[str], idle: float = 3.0,
                timeout: float = 120.0, until: Callable[[list], bool] | None = None) -> list:
    """Read a topic (or several) from the beginning with a plain confluent-kafka consumer until
    ``until`` holds (or, without it, until nothing arrived for ``idle`` seconds)."""
    import uuid

    from config.kafka import consumer

    c = consumer(s, group="reader-" + uuid.uuid4().hex[:8])
    c.subscribe([s.topic(t) for t in ([topic] if isinstance(topic, str) else topic)])
    out: list = []
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    try:
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                if until is None and out and time.monotonic() - last > idle:
                    break
                if until is not None and until(out):
                    break
                continue
            if m.error():
                continue
            out.append(m)
            last = time.monotonic()
            if until is not None and until(out):
                break
    finally:
        c.close()
    return out


def wait_for(cond: Callable[[], bool], timeout: float = 120.0, what: str = "condition",
             worker: Worker | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        if worker is not None and worker.proc is not None and worker.proc.poll() is not None:
            raise AssertionError(f"worker exited with {worker.proc.returncode}:\n{worker.tail()}")
        time.sleep(0.5)
    tail = f"\n{worker.tail()}" if worker else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{tail}")
