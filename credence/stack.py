"""A local stack without Docker: a real Apache Kafka 3.9.2 broker (KRaft, from Maven Central jars)
and a Redis server (Debian's ``redis-server``), both on loopback, under ``CREDENCE_HOME``.

Both require a login (CONTRACT.md section 5, credence/security.py): the broker SASL/SCRAM-SHA-512
with ACLs, Redis ACL users with ``default`` off. ``up`` makes the principals' passwords once,
writes them to ``CREDENCE_HOME/credentials/<principal>.env`` (mode 600), and (re)applies their
SCRAM credentials and ACLs. Redis keeps an append-only file, fsynced every second.

Ports come from ``CREDENCE_KAFKA`` and ``CREDENCE_REDIS`` (the KRaft controller listens on the
broker port + 1), so the stack is always where the rest of Credence looks. ``up`` is idempotent;
``down`` stops exactly the processes ``up`` started, by the pids it recorded (and only if those pids
still run the command it started, so a recycled pid is never killed).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import urlparse

from config import credentials
from config.settings import Settings

__all__ = ["Stack", "StackError", "ServiceStatus", "SERVICES", "proxied_ports"]

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SERVICES = ("kafka", "redis")


def proxied_ports(kafka_port: int) -> tuple[int, int]:
    """(listener, advertised) ports of the broker's PROXIED listener: the broker listens on the
    first and tells clients to connect to the second, where a TCP proxy (`credence.chaos.proxy`)
    forwards to the first. A client that bootstraps through the proxy then reconnects through it
    too, so cutting the proxy cuts it off the broker (the fault suite's "Kafka unreachable").
    Without a proxy on the second port the listener is simply unused."""
    return kafka_port + 2, kafka_port + 3


class StackError(RuntimeError):
    """The stack cannot start or stop; the message is one line and names the fix."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    pid: int | None
    address: str
    detail: str = ""

    def line(self) -> str:
        state = f"running (pid {self.pid})" if self.running else "stopped"
        return f"{self.name:<6} {state:<22} {self.address}  {self.detail}".rstrip()


def _port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _pid_alive(pid: int, marker: str) -> bool:
    """True if ``pid`` runs and its command line contains ``marker`` (guards pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:  # gone between the two reads, too
        return False
    return stat[0] != "Z" and marker in cmdline


def _log_since(log: Path, start: int) -> list[str]:
    """The lines a log gained after byte ``start`` (all of it if it rolled over meanwhile)."""
    try:
        with open(log, "rb") as f:
            f.seek(start if log.stat().st_size >= start else 0)
            return f.read().decode(errors="replace").splitlines()
    except OSError:
        return []


def _last_error(lines: list[str], limit: int = 400) -> str | None:
    """The last ERROR or FATAL line of a broker's log lines (shortened), if any."""
    found = [ln for ln in lines if re.match(r"\[[^\]]*\] (ERROR|FATAL) ", ln)]
    return found[-1][:limit] if found else None


def _startup_wait(lines: list[str]) -> str | None:
    """What the broker's startup still waits for, from its log lines (its "Waiting for X" with
    no "Finished waiting for X" after it), if anything."""
    waiting = None
    for ln in lines:
        m = re.search(r"\] (Waiting|Finished waiting) for (.+?) \(kafka\.", ln)
        if m:
            waiting = m.group(2) if m.group(1) == "Waiting" else None
        elif "Transition from STARTING to STARTED" in ln:
            waiting = None
    return waiting


def _write_secret(path: Path, text: str) -> None:
    """Write a file that holds a password: created mode 600, never readable by others."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)


class Stack:
    def __init__(self, settings: Settings):
        self.s = settings
        self.home = settings.home.expanduser().resolve()
        first = settings.kafka.split(",")[0]
        host, _, port = first.rpartition(":")
        self.kafka_host, self.kafka_port = host.strip("[]"), int(port)
        u = urlparse(settings.redis)
        self.redis_host, self.redis_port = u.hostname or "127.0.0.1", u.port or 6379
        self.kdir = self.home / "kafka"
        self._answer = ""  # the broker's last answer to admin's login while starting
        self.rdir = self.home / "redis"

    # ------------------------------------------------------------------ public

    def up(self, timeout: float = 90.0, echo=print) -> None:
        self._check_local()
        self.home.mkdir(parents=True, exist_ok=True)
        self._passwords()
        k = self._kafka_status()
        if k.running:
            echo(f"kafka  already running (pid {k.pid}) on {self.s.kafka}")
        else:
            t = self._start_kafka(timeout)
            echo(f"kafka  started on {self.s.kafka}, answering after {t:.1f} s "
                 f"(logs: {self.kdir / 'logs'})")
        r = self._redis_status()
        if r.running:
            echo(f"redis  already running (pid {r.pid}) on {self.redis_host}:{self.redis_port}")
        else:
            t = self._start_redis(timeout)
            echo(f"redis  started on {self.redis_host}:{self.redis_port}, answering after "
                 f"{t:.1f} s")
        self._principals()
        echo(f"users  {', '.join(self._principal_names())} "
             f"(credentials: {credentials.credentials_dir(self.home)})")

    def down(self, echo=print) -> None:
        for name in SERVICES:
            self.stop(name, echo=echo)

    def stop(self, name: str, kill: bool = False, echo=print) -> None:
        """Stop one service (SIGTERM, SIGKILL after 30 s; at once with ``kill``, as a crash
        would). Idempotent: a service that does not run is left alone."""
        pidfile, marker = self._service(name)
        pid = self._read_pid(pidfile)
        if pid is None or not _pid_alive(pid, marker):
            echo(f"{name:<6} not running")
            pidfile.unlink(missing_ok=True)
            return
        os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + 30
        while _pid_alive(pid, marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid, marker):
            os.kill(pid, signal.SIGKILL)
            while _pid_alive(pid, marker):
                time.sleep(0.05)
        # Until the kernel has closed its sockets the port still looks taken to `start`.
        host, port = self._address(name)
        deadline = time.monotonic() + 10
        while _port_open(host, port) and time.monotonic() < deadline:
            time.sleep(0.05)
        pidfile.unlink(missing_ok=True)
        echo(f"{name:<6} {'killed' if kill else 'stopped'} (pid {pid})")

    def start(self, name: str, timeout: float = 90.0, echo=print) -> float:
        """Start one service if it does not run (idempotent); seconds until it answered."""
        self._check_local()
        st = self._kafka_status() if name == "kafka" else self._redis_status()
        if st.running:
            echo(f"{name:<6} already running (pid {st.pid})")
            return 0.0
        t = self._start_kafka(timeout) if name == "kafka" else self._start_redis(timeout)
        echo(f"{name:<6} started, answering after {t:.1f} s")
        return t

    def restart(self, name: str, kill: bool = False, timeout: float = 90.0,
                echo=print) -> float:
        """Stop (or SIGKILL) one service and start it again; its data stays (Kafka's log
        directory, Redis's append-only file). Seconds from the start until it answered."""
        self._service(name)  # an unknown name fails before anything stops
        self.stop(name, kill=kill, echo=echo)
        return self.start(name, timeout, echo=echo)

    def status(self) -> list[ServiceStatus]:
        return [self._kafka_status(), self._redis_status()]

    def admin_settings(self) -> Settings:
        """The settings with admin's credentials (the stack's own operations)."""
        from config.credentials import as_principal

        return as_principal(self.s.model_copy(update={"home": self.home}), "admin")

    # ------------------------------------------------------------------ principals

    def _principal_names(self) -> list[str]:
        from credence.security import PRINCIPALS

        return sorted(set(PRINCIPALS) | set(credentials.names(self.home)))

    def _passwords(self) -> None:
        """Make the credential files of the stack's principals that do not exist yet."""
        from credence.security import PRINCIPALS, REDIS_USER, new_password, redis_passwords

        rpw = redis_passwords(self.home)
        data = self.kdir / "data"
        if credentials.read(self.home, "admin") is None and (data / "meta.properties").exists():
            # The broker's storage holds admin's SCRAM credential: a new password would lock out.
            raise StackError(f"{data} was formatted with credentials that are gone from "
                             f"{credentials.credentials_dir(self.home)}: stop the stack and remove "
                             f"{data} (its topics are lost), then `credence stack up` again")
        for name in PRINCIPALS:
            found = credentials.read(self.home, name)
            if found is None:
                ruser = REDIS_USER[name]
                url = credentials.redis_url_with_user(self.s.redis, ruser, rpw[ruser])
                credentials.write(self.home, name, name, new_password(), url)

    def _principals(self) -> None:
        """SCRAM credentials and ACLs of the stack's principals (idempotent)."""
        from credence.security import PRINCIPALS, SecurityError, add_user

        admin = self.admin_settings()
        scope = self.s.model_copy(update={"home": self.home})
        try:
            for name in PRINCIPALS:
                if name != "admin":  # added when the storage was formatted
                    add_user(admin, name, name, scope)
        except SecurityError as e:
            raise StackError(str(e)) from None

    # ------------------------------------------------------------------ checks

    def _check_local(self) -> None:
        if self.kafka_host not in LOOPBACK:
            raise StackError(f"CREDENCE_KAFKA={self.s.kafka} is not on loopback; the local stack "
                             "only runs on 127.0.0.1 (unset it, or run Kafka yourself)")
        if self.redis_host not in LOOPBACK:
            raise StackError(f"CREDENCE_REDIS={self.s.redis} is not on loopback; the local stack "
                             "only runs on 127.0.0.1")
        for tool, fix in (("java", "install a JDK 17: apt-get install openjdk-17-jre-headless"),
                          ("mvn", "install Maven: apt-get install maven"),
                          ("redis-server", "install Redis: apt-get install redis-server")):
            if shutil.which(tool) is None:
                raise StackError(f"{tool} not found: {fix}")

    def _service(self, name: str) -> tuple[Path, str]:
        """The pid file and command-line marker of a service."""
        if name == "kafka":
            return self.kdir / "kafka.pid", "kafka.Kafka"
        if name == "redis":
            return self.rdir / "redis.pid", "redis-server"
        raise StackError(f"unknown service {name!r} (kafka or redis)")

    def _address(self, name: str) -> tuple[str, int]:
        if name == "kafka":
            return self.kafka_host, self.kafka_port
        return self.redis_host, self.redis_port

    @staticmethod
    def _read_pid(path: Path) -> int | None:
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return None

    def _kafka_status(self) -> ServiceStatus:
        pid = self._read_pid(self.kdir / "kafka.pid")
        alive = pid is not None and _pid_alive(pid, "kafka.Kafka")
        answering = alive and _port_open(self.kafka_host, self.kafka_port)
        detail = "" if not alive or answering else "(not answering yet)"
        return ServiceStatus("kafka", alive, pid if alive else None, self.s.kafka, detail)

    def _redis_status(self) -> ServiceStatus:
        pid = self._read_pid(self.rdir / "redis.pid")
        alive = pid is not None and _pid_alive(pid, "redis-server")
        return ServiceStatus("redis", alive, pid if alive else None,
                             f"{self.redis_host}:{self.redis_port}")

    # ------------------------------------------------------------------ kafka

    def _libs(self) -> Path:
        """The broker's jars, fetched once by Maven from the pom under config/kafka."""
        pom = resources.files("config") / "kafka" / "pom.xml"
        digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:16]
        libs = self.kdir / "libs"
        stamp = libs / f".pom-{digest}"
        if stamp.exists():
            return libs
        if libs.exists():
            shutil.rmtree(libs)
        libs.mkdir(parents=True)
        with resources.as_file(pom) as pom_path:
            proc = subprocess.run(  # noqa: S603
                ["mvn", "-q", "-B", "-f", str(pom_path), "dependency:copy-dependencies",  # noqa: S607
                 f"-DoutputDirectory={libs}"],
                capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            last = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["(no output)"]
            raise StackError(f"mvn could not fetch the Kafka jars from Maven Central: {last[0]}")
        stamp.touch()
        return libs

    def _start_kafka(self, timeout: float) -> float:
        if _port_open(self.kafka_host, self.kafka_port):
            raise StackError(f"port {self.kafka_port} is taken by a process this stack did not "
                             "start; stop it or set CREDENCE_KAFKA to a free port")
        libs = self._libs()
        (self.kdir / "logs").mkdir(parents=True, exist_ok=True)
        data = self.kdir / "data"
        props = (resources.files("config") / "kafka" / "server.properties").read_text()
        admin_pw = self.admin_settings().kafka_password.get_secret_value()
        for name, value in (("port", self.kafka_port), ("controller_port", self.kafka_port + 1),
                            ("log_dir", data), ("admin_password", admin_pw)):
            props = props.replace("{" + name + "}", str(value))
        listen, advertised = proxied_ports(self.kafka_port)
        # Later keys win: the listeners again, plus PROXIED (see `proxied_ports`), same SASL.
        props += (
            "\n# credence stack: a second client listener for the fault suite's TCP proxy.\n"
            f"listeners=SASL_PLAINTEXT://127.0.0.1:{self.kafka_port},"
            f"PROXIED://127.0.0.1:{listen},CONTROLLER://127.0.0.1:{self.kafka_port + 1}\n"
            f"advertised.listeners=SASL_PLAINTEXT://127.0.0.1:{self.kafka_port},"
            f"PROXIED://127.0.0.1:{advertised}\n"
            "listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,"
            "PROXIED:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT\n"
            "listener.name.proxied.scram-sha-512.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;\n")
        conf = self.kdir / "server.properties"
        _write_secret(conf, props)
        log4j = resources.files("config") / "kafka" / "log4j.properties"
        (self.kdir / "log4j.properties").write_bytes(log4j.read_bytes())
        java = ["java", f"-Xmx{self.s.kafka_heap}", f"-Xms{self.s.kafka_heap}",
                "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
                f"-Dkafka.logs.dir={self.kdir / 'logs'}",
                f"-Dlog4j.configuration=file:{self.kdir / 'log4j.properties'}",
                "-cp", f"{libs}/*"]
        cid_file = self.kdir / "cluster.id"
        if not cid_file.exists():
            cid_file.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
        # admin's SCRAM credential goes into the metadata at format time (the broker logs in with
        # it); the arguments travel in a java @argfile, mode 600, so the password is in no argv.
        args = self.kdir / "format.args"
        _write_secret(args, "\n".join([
            # "=" form: a base64url id starts with "-" one time in 64, and argparse then reads
            # it as an option ("--cluster-id/-t: expected one argument", seen in make test).
            "kafka.tools.StorageTool", "format", f"--cluster-id={cid_file.read_text().strip()}",
            "-c", str(conf), "--ignore-formatted",
            "--add-scram", f"SCRAM-SHA-512=[name=admin,password={admin_pw}]"]) + "\n")
        try:
            fmt = subprocess.run([*java, f"@{args}"],  # noqa: S603
                                 capture_output=True, text=True, timeout=120)
        finally:
            args.unlink(missing_ok=True)
        if fmt.returncode != 0:
            raise StackError(f"formatting Kafka storage failed: {fmt.stderr.strip()[-200:]}")
        t0 = time.monotonic()
        server_log = self.kdir / "logs" / "server.log"
        log_start = server_log.stat().st_size if server_log.exists() else 0
        out = open(self.kdir / "logs" / "stdout.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen([*java, "kafka.Kafka", str(conf)], stdout=out,  # noqa: S603
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        (self.kdir / "kafka.pid").write_text(str(proc.pid))
        try:
            self._wait(lambda: self._kafka_answers(), proc, timeout, "kafka",
                       self.kdir / "logs" / "stdout.log")
        except StackError as e:
            # The broker's own last error of this start says why (a CI run once saw a broker
            # restarted after SIGKILL refuse every login until the run ended, with no more
            # than "did not accept admin's login" to go on).
            lines = _log_since(server_log, log_start)
            said, waits = _last_error(lines), _startup_wait(lines)
            why = (f"; its startup still waits for {waits}" if waits else "") + (
                f"; admin's last login: {self._answer}" if self._answer else "") + (
                f"; the broker's last error: {said}" if said else "")
            if proc.poll() is None and _port_open(self.kafka_host, self.kafka_port):
                # Listening but refusing the login: say so, not "did not answer".
                raise StackError(
                    f"kafka listens on {self.s.kafka} but did not accept admin's login from "
                    f"{credentials.credentials_dir(self.home) / 'admin.env'} within "
                    f"{timeout:.0f} s (see {server_log}; "
                    f"`credence stack down` stops it){why}") from None
            raise StackError(f"{e}{why}") from None
        return time.monotonic() - t0

    def _kafka_answers(self) -> bool:
        from confluent_kafka import KafkaException

        from config.kafka import admin

        if not _port_open(self.kafka_host, self.kafka_port):
            return False
        errors: list[str] = []
        client = admin(self.admin_settings(), **{"socket.timeout.ms": 2000,
                                                 "error_cb": lambda e: errors.append(e.str())})
        try:
            md = client.list_topics(timeout=2)
            return bool(md.brokers)
        except KafkaException as e:
            client.poll(0)  # serves error_cb
            # Why, for the error of a start that never answers: the client's own errors (a
            # refused login says so there) before the metadata timeout.
            self._answer = (errors[-1] if errors else e.args[0].str())[:300]
            return False

    # ------------------------------------------------------------------ redis

    def _start_redis(self, timeout: float) -> float:
        if _port_open(self.redis_host, self.redis_port):
            raise StackError(f"port {self.redis_port} is taken by a process this stack did not "
                             "start (another Redis?); stop it or set CREDENCE_REDIS to a free port")
        from credence.security import redis_acl_lines, redis_passwords

        self.rdir.mkdir(parents=True, exist_ok=True)
        acl = self.rdir / "users.acl"
        _write_secret(acl, "\n".join(redis_acl_lines(redis_passwords(self.home),
                                                      self.s.key_prefix)) + "\n")
        t0 = time.monotonic()
        out = open(self.rdir / "redis.log", "ab")  # noqa: SIM115
        # AOF, fsynced once a second: a crash of Redis loses at most the last second of writes,
        # which the worker redoes from Kafka (its offsets are committed after Redis applied the
        # batch, and every write is idempotent). No RDB snapshots: the AOF is the persistence.
        # noeviction: a full Redis refuses writes (the worker retries) instead of dropping state.
        proc = subprocess.Popen(  # noqa: S603
            ["redis-server", "--port", str(self.redis_port), "--bind", self.redis_host,  # noqa: S607
             "--dir", str(self.rdir), "--daemonize", "no", "--save", "",
             "--appendonly", "yes", "--appendfsync", "everysec",
             "--maxmemory-policy", "noeviction", "--aclfile", str(acl),
             "--protected-mode", "yes", "--databases", "64"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        (self.rdir / "redis.pid").write_text(str(proc.pid))
        self._wait(self._redis_answers, proc, timeout, "redis", self.rdir / "redis.log")
        return time.monotonic() - t0

    def _redis_answers(self) -> bool:
        import redis

        from credence.security import redis_passwords

        try:
            return bool(redis.Redis(host=self.redis_host, port=self.redis_port, socket_timeout=1,
                                    username="admin",
                                    password=redis_passwords(self.home)["admin"]).ping())
        except redis.RedisError:
            return False

    @staticmethod
    def _wait(ready, proc: subprocess.Popen, timeout: float, name: str, log: Path) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["?"]
                raise StackError(f"{name} exited with {proc.returncode}: {tail[0][:200]} "
                                 f"(see {log})")
            if ready():
                return
            time.sleep(0.2)
        raise StackError(f"{name} did not answer within {timeout:.0f} s (see {log})")
