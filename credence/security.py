"""Principals, their Kafka ACLs and SCRAM credentials, and the Redis users (CONTRACT.md section 5).

Kafka authenticates clients with SASL/SCRAM-SHA-512 and authorises them with the
``StandardAuthorizer`` (``allow.everyone.if.no.acl.found=false``): a principal may do exactly what
its role's ACLs below say, on the topics of ``CREDENCE_TOPIC_PREFIX`` (LITERAL full names, so that
the worker's right to write ``alerts`` never extends to ``decisions``) and, for the worker, on the
faust app's own internal topics and consumer groups (PREFIXED by ``CREDENCE_WORKER_ID``). ``admin``
is the broker's super user and needs no ACL.

Redis has four users: ``admin`` (everything; operations and tests), ``worker`` (the commands the
worker sends, the feature script's included, on keys under ``CREDENCE_KEY_PREFIX`` only),
``reader`` (read commands on the same keys: the platform and lenders) and ``inspect`` (the
inspector workbench: reads and writes its read model under ``<CREDENCE_KEY_PREFIX>-inspect:*``,
reads the worker's keys and nothing more). The ``default`` user is off, so a connection without
a user can do nothing.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import credentials
from config.settings import Settings
from config.topics import CASEWORK, POLICY, SEQUENCED
from credence.contract import INPUT_TOPICS, OUTPUT_TOPICS

__all__ = ["ROLES", "PRINCIPALS", "REDIS_USER", "REDIS_USERS", "Grant", "grants", "SecurityError",
           "new_password", "redis_passwords", "redis_acl_lines", "grant_redis_prefix",
           "upsert_scram", "retire_scram", "scram_users", "apply_acls", "revoke_acls",
           "add_user", "remove_user"]

# Role → what it is for. admin is the super user (server.properties: super.users=User:admin).
ROLES: dict[str, str] = {
    "admin": "super user: topics, users, tests",
    "worker": "reads the inputs, writes (and reads back) the outputs and its internal topics",
    "platform": "writes orders and reviews, reads blacklist",
    "agency": "writes records",
    "inspector": "reads alerts, blacklist, credit-scores, decisions; the only writer of "
                 "decisions",
    "lender": "reads credit-scores",
}
# The principals `credence stack up` creates: one per role, named after it.
PRINCIPALS: tuple[str, ...] = tuple(ROLES)
# The Redis user of each role.
REDIS_USER: dict[str, str] = {"admin": "admin", "worker": "worker", "platform": "reader",
                              "agency": "reader", "inspector": "inspect", "lender": "reader"}
# The users of the stack's Redis.
REDIS_USERS: tuple[str, ...] = ("admin", "worker", "reader", "inspect")

# The commands the worker sends (streams/app.py, credence/store/redis.py's APPLY_LUA, and the
# client's connection set-up). A Lua script's redis.call is checked against the caller's ACL too,
# keys included, so the script's commands are listed here and its keys stay under the prefix.
_WORKER_COMMANDS = (
    "ping", "select", "info",  # connection, health check, eviction check
    "evalsha", "eval", "script|load",  # the feature script (redis-py: EVALSHA, else LOAD)
    "get", "set", "del", "exists", "expire",  # dedupe marks, snapshot, output markers
    "zscore", "zadd", "zremrangebyscore", "zcard", "zremrangebyrank", "bitfield",  # the script
    "hset", "lpush", "ltrim",  # views and score history
    "multi", "exec", "discard",
)


class SecurityError(RuntimeError):
    """Kafka refused a user or ACL change, or an argument is bad; the message is one line."""


def new_password() -> str:
    # URL-safe: valid unquoted in an env file, a JAAS line and a redis:// URL.
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class Grant:
    """One ACL: allow ``operation`` on a resource (topic or group) named or prefixed ``name``."""
    resource: str  # "topic" or "group"
    name: str
    operation: str  # READ, WRITE, CREATE, DESCRIBE_CONFIGS
    prefixed: bool = False


def grants(role: str, name: str, s: Settings) -> list[Grant]:
    """The ACLs of principal ``name`` in ``role`` for the topics and worker of ``s``."""
    t = s.topic
    # Readers other than the worker may use consumer groups named after themselves.
    own_groups = Grant("group", name, "READ", prefixed=True)
    if role == "admin":
        return []
    if role == "worker":
        out = [Grant("topic", t(x), "READ") for x in INPUT_TOPICS]
        # Reading its outputs back is how a worker learns which outputs of a send cut short by
        # a crash the broker already has (streams.delivery), instead of sending them again.
        out += [Grant("topic", t(x), op) for x in OUTPUT_TOPICS for op in ("WRITE", "READ")]
        out += [Grant("topic", t(SEQUENCED), op) for op in ("READ", "WRITE", "CREATE")]
        out += [Grant("topic", t(POLICY), "READ")]  # run-time policy, one more input
        # faust names its internal topics and consumer groups after the app id (the worker id,
        # with -ingest/-detect for split roles, -watermarks/-catchup for its helper consumers).
        out += [Grant("topic", s.worker_id, op, prefixed=True)
                for op in ("READ", "WRITE", "CREATE", "DESCRIBE_CONFIGS")]
        out += [Grant("group", s.worker_id, "READ", prefixed=True)]
        return out
    if role == "platform":
        return [Grant("topic", t("orders"), "WRITE"), Grant("topic", t("reviews"), "WRITE"),
                Grant("topic", t("blacklist"), "READ"), own_groups]
    if role == "agency":
        return [Grant("topic", t("records"), "WRITE")]
    if role == "inspector":
        # The workbench reads decisions back (earlier decisions, the audit trail, rebuilding its
        # read model); writing them stays the inspector's alone.
        return [*(Grant("topic", t(x), "READ")
                  for x in ("alerts", "blacklist", "credit-scores", "decisions")),
                Grant("topic", t("decisions"), "WRITE"),
                # Run-time policy: supervisors change it through the workbench.
                Grant("topic", t(POLICY), "READ"), Grant("topic", t(POLICY), "WRITE"),
                # Assignments and notes, the workbench's own record of its casework.
                Grant("topic", t(CASEWORK), "READ"), Grant("topic", t(CASEWORK), "WRITE"),
                own_groups]
    if role == "lender":
        return [Grant("topic", t("credit-scores"), "READ"), own_groups]
    raise SecurityError(f"unknown role {role!r} ({', '.join(ROLES)})")


# ------------------------------------------------------------------------------ Kafka


def _admin(admin_settings: Settings) -> Any:
    from config.kafka import admin

    return admin(admin_settings)


def _wait(futures: Any, what: str, timeout: float = 30.0) -> None:
    from confluent_kafka import KafkaException

    items = futures.items() if isinstance(futures, dict) else enumerate(futures)
    for key, fut in items:
        try:
            fut.result(timeout=timeout)
        except KafkaException as e:
            raise SecurityError(f"{what} ({key}): {e.args[0].str()}") from None
        except TimeoutError:
            raise SecurityError(f"{what} ({key}): Kafka did not answer within {timeout:.0f} s") from None


def upsert_scram(admin_settings: Settings, user: str, password: str) -> None:
    from confluent_kafka.admin import (
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
    up = UserScramCredentialUpsertion(user, info, password.encode())
    a = _admin(admin_settings)  # referenced until the futures are done (else librdkafka aborts)
    _wait(a.alter_user_scram_credentials([up]), f"SCRAM user {user}")


def retire_scram(admin_settings: Settings, user: str) -> None:
    """End a principal's logins: its SCRAM credential becomes one of a random password that is
    never written anywhere.

    Not a deletion, because Kafka 3.9's metadata image loses *every* credential of a mechanism
    when a broker replays, from the start of its metadata log (no snapshot yet: the first hour
    of a cluster), a deletion whose user name its hash map visits first (KAFKA-20774,
    `ScramDelta.apply` drops the mechanism's map as soon as it is empty, then fills the
    orphan): the broker came back from a restart refusing every login, admin's included
    (two CI runs of the fault suite, after `test_users_add_list_remove` removed a user)."""
    upsert_scram(admin_settings, user, new_password() + new_password())


def scram_users(admin_settings: Settings) -> list[str]:
    from confluent_kafka import KafkaException

    try:
        a = _admin(admin_settings)
        found = a.describe_user_scram_credentials().result(timeout=30)
    except KafkaException as e:
        raise SecurityError(f"cannot list SCRAM users: {e.args[0].str()}") from None
    except TimeoutError:
        raise SecurityError("cannot list SCRAM users: Kafka did not answer within 30 s") from None
    return sorted(found)


def _bindings(user: str, gs: list[Grant]) -> list[Any]:
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    return [AclBinding(ResourceType.TOPIC if g.resource == "topic" else ResourceType.GROUP,
                       g.name,
                       ResourcePatternType.PREFIXED if g.prefixed else ResourcePatternType.LITERAL,
                       f"User:{user}", "*", AclOperation[g.operation], AclPermissionType.ALLOW)
            for g in gs]


def apply_acls(admin_settings: Settings, user: str, role: str, scope: Settings) -> int:
    """Create the ACLs of ``user`` in ``role`` for ``scope``'s topics (idempotent)."""
    bindings = _bindings(user, grants(role, user, scope))
    if bindings:
        a = _admin(admin_settings)
        _wait(a.create_acls(bindings), f"ACLs of {user}")
    return len(bindings)


def revoke_acls(admin_settings: Settings, user: str, role: str | None = None,
                scope: Settings | None = None) -> None:
    """Delete the ACLs of ``user`` in ``role`` for ``scope``'s topics, or all of its ACLs."""
    from confluent_kafka.admin import (
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    if role is not None and scope is not None:
        filters = [AclBindingFilter(b.restype, b.name, b.resource_pattern_type, b.principal,
                                    b.host, b.operation, b.permission_type)
                   for b in _bindings(user, grants(role, user, scope))]
    else:
        filters = [AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY,
                                    f"User:{user}", None, AclOperation.ANY,
                                    AclPermissionType.ANY)]
    if filters:
        a = _admin(admin_settings)
        _wait(a.delete_acls(filters), f"ACLs of {user}")


# ------------------------------------------------------------------------------ Redis


def redis_passwords(home: Path) -> dict[str, str]:
    """The passwords of the Redis users (`REDIS_USERS`), made once, kept mode 600."""
    path = credentials.credentials_dir(home) / "redis-users.json"
    try:
        known: dict[str, str] = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    want = {u: known.get(u) or new_password() for u in REDIS_USERS}
    if want != known:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(want, f)
    return want


def redis_acl_lines(passwords: dict[str, str], key_prefix: str) -> list[str]:
    """The ACL file of the stack's Redis."""
    keys = f"{key_prefix}:*"
    worker = " ".join(f"+{c}" for c in _WORKER_COMMANDS)
    return [
        # default is off (no one can log in as it, and a connection that has not logged in may
        # run nothing) but holds every permission: Redis replays a MULTI/EXEC of the append-only
        # file (a Lua script's writes are logged as one) as the default user and re-checks its
        # ACL at EXEC, so a default user without permissions silently dropped every feature
        # write since the last AOF rewrite when Redis restarted (redis/redis#14541, fixed only
        # in releases after 7.2; the fault suite's Redis SIGKILL found it).
        "user default off resetpass ~* &* +@all",
        f"user admin on >{passwords['admin']} ~* &* +@all",
        f"user worker on >{passwords['worker']} resetchannels ~{keys} -@all {worker}",
        # %R~: read access to the keys only, on top of read commands only.
        f"user reader on >{passwords['reader']} resetchannels %R~{keys} -@all +@read "
        "-@dangerous +ping +select",
        _inspect_line(passwords["inspect"], key_prefix),
    ]


def _inspect_line(password: str, key_prefix: str) -> str:
    # Its read model (all of reads, writes and MULTI on its own keys), and read access to the
    # worker's views (suspicion) - no key of the worker can be changed by it.
    return (f"user inspect on >{password} resetchannels ~{key_prefix}-inspect:* "
            f"%R~{key_prefix}:* -@all +@read +@write +@transaction +ping +select -@dangerous")


def grant_redis_prefix(admin_settings: Settings, key_prefix: str) -> None:
    """Let the worker and reader users use keys under another prefix too (tests, a 2nd stack)."""
    from credence.store.redis import connect

    r = connect(admin_settings)
    r.execute_command("ACL", "SETUSER", "worker", f"~{key_prefix}:*")
    r.execute_command("ACL", "SETUSER", "reader", f"%R~{key_prefix}:*")
    r.execute_command("ACL", "SETUSER", "inspect", f"~{key_prefix}-inspect:*",
                      f"%R~{key_prefix}:*")


# ------------------------------------------------------------------------------ users


def add_user(admin_settings: Settings, name: str, role: str, scope: Settings,
             password: str | None = None) -> Path:
    """Create (or update) a principal: its SCRAM credential, its ACLs and its credential file."""
    if not credentials.NAME.fullmatch(name):
        raise SecurityError(f"a user name is 1-32 lower-case letters, digits, '_' or '-' "
                            f"starting with a letter, not {name!r}")
    if role not in ROLES:
        raise SecurityError(f"unknown role {role!r} ({', '.join(ROLES)})")
    if role == "admin" and name != "admin":
        raise SecurityError("the super user is `admin` (server.properties super.users); "
                            "give other users a narrower role")
    home = scope.home
    old = credentials.read(home, name) or {}
    pw = password or old.get("CREDENCE_KAFKA_PASSWORD") or new_password()
    upsert_scram(admin_settings, name, pw)
    apply_acls(admin_settings, name, role, scope)
    ruser = REDIS_USER[role]
    rpw = redis_passwords(home)[ruser]
    url = credentials.redis_url_with_user(scope.redis, ruser, rpw)
    return credentials.write(home, name, role, pw, url)


def remove_user(admin_settings: Settings, name: str, home: Path) -> None:
    if name == "admin":
        raise SecurityError("admin is the super user the broker itself logs in with; "
                            "it cannot be removed")
    if name not in scram_users(admin_settings) and credentials.read(home, name) is None:
        raise SecurityError(f"no user {name!r}")
    revoke_acls(admin_settings, name)
    if name in scram_users(admin_settings):
        retire_scram(admin_settings, name)
    credentials.remove(home, name)
