"""The credential files of the principals (CONTRACT.md section 5).

`credence stack up` writes one file per principal, ``$CREDENCE_HOME/credentials/<name>.env``, mode
600 in a directory of mode 700, with the lines ``CREDENCE_KAFKA_USERNAME=…``,
``CREDENCE_KAFKA_PASSWORD=…`` and ``CREDENCE_REDIS=redis://user:password@host:port/db``: an
external client sources the file of its principal, and a ``credence`` command run on the stack's
machine completes missing credentials from it (`complete`). Passwords are URL-safe tokens, so the
same text is valid in an env file, a JAAS line and a URL without quoting.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlparse, urlunparse

from pydantic import SecretStr
from pydantic_settings import BaseSettings

# The settings import this module (to complete themselves from the credential files): it takes
# them as any pydantic settings object, so that nothing imports back up.
S = TypeVar("S", bound=BaseSettings)

__all__ = ["NAME", "credentials_dir", "read", "write", "remove", "names", "complete",
           "split_redis_url",
           "as_principal", "redis_url_with_user"]

# A principal's name: it becomes a file name, a Kafka principal and a Redis user.
NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def split_redis_url(url: str) -> tuple[str, str | None]:
    """``redis://user:password@host:port/db`` → (the URL without the password, the password).

    The password is kept apart so that the URL can be printed in messages and logs."""
    u = urlparse(url)
    if u.password is None:
        return url, None
    host = u.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = (f"{u.username}@" if u.username else "") + host + (f":{u.port}" if u.port else "")
    return urlunparse(u._replace(netloc=netloc)), unquote(u.password)


def credentials_dir(home: Path) -> Path:
    return home.expanduser() / "credentials"


def _path(home: Path, name: str) -> Path:
    if not NAME.fullmatch(name):
        raise ValueError(f"a principal's name is 1-32 lower-case letters, digits, '_' or '-' "
                         f"starting with a letter, not {name!r}")
    return credentials_dir(home) / f"{name}.env"


def read(home: Path, name: str) -> dict[str, str] | None:
    """The variables of a principal's file (``# `` lines are comments), or None without one."""
    try:
        text = _path(home, name).read_text()
    except (OSError, ValueError):
        return None
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            out[key.strip()] = value.strip()
    return out


def write(home: Path, name: str, role: str, kafka_password: str, redis_url: str) -> Path:
    """Write (or replace) a principal's file, readable by its owner only."""
    d = credentials_dir(home)
    d.mkdir(parents=True, exist_ok=True)
    d.chmod(0o700)
    path = _path(home, name)
    text = (f"# Credence principal {name!r}, role {role}: source this file (mode 600)\n"
            f"CREDENCE_KAFKA_USERNAME={name}\nCREDENCE_KAFKA_PASSWORD={kafka_password}\n"
            f"CREDENCE_REDIS={redis_url}\n")
    tmp = path.with_suffix(".tmp")
    # Created 600 from the start: the secret is never readable by others, not even briefly.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    path.chmod(0o600)
    return path


def remove(home: Path, name: str) -> bool:
    try:
        _path(home, name).unlink()
        return True
    except (OSError, ValueError):
        return False


def names(home: Path) -> list[str]:
    d = credentials_dir(home)
    return sorted(p.stem for p in d.glob("*.env")) if d.is_dir() else []


def role_of(home: Path, name: str) -> str | None:
    """The role written in the first line of a principal's file."""
    try:
        first = _path(home, name).read_text().splitlines()[0]
    except (OSError, ValueError, IndexError):
        return None
    m = re.search(r", role (\w+):", first)
    return m.group(1) if m else None


def redis_url_with_user(url: str, user: str | None, password: str | None = None) -> str:
    """``url`` with its user (and password, if given) replaced."""
    u = urlparse(url)
    host = u.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    auth = ""
    if user:
        auth = f"{user}:{password}@" if password else f"{user}@"
    return urlunparse(u._replace(netloc=auth + host + (f":{u.port}" if u.port else "")))


def complete(s: S, principal: str) -> S:
    """``s`` with missing credentials read from the file of ``CREDENCE_KAFKA_USERNAME`` (else of
    ``principal``). Credentials given in the environment are kept as they are."""
    need_kafka = not s.kafka_password.get_secret_value()
    need_redis = not s.redis_password.get_secret_value()
    if not (need_kafka or need_redis):
        return s
    name = s.kafka_username or principal
    found = read(s.home, name)
    if not found:
        return s
    update: dict[str, object] = {}
    if need_kafka and found.get("CREDENCE_KAFKA_PASSWORD"):
        update["kafka_username"] = name
        update["kafka_password"] = SecretStr(found["CREDENCE_KAFKA_PASSWORD"])
    if need_redis and found.get("CREDENCE_REDIS"):
        url, password = split_redis_url(found["CREDENCE_REDIS"])
        user = urlparse(url).username
        mine = urlparse(s.redis).username
        if password and (mine is None or mine == user):
            # The host, port and db stay those of the settings: only the user comes from the file.
            update["redis"] = redis_url_with_user(s.redis, user)
            update["redis_password"] = SecretStr(password)
    return s.model_copy(update=update) if update else s


def as_principal(s: S, principal: str) -> S:
    """``s`` with the credentials of ``principal`` from its file, replacing any others."""
    bare = s.model_copy(update={"kafka_username": principal, "kafka_password": SecretStr(""),
                                "redis": redis_url_with_user(s.redis, None),
                                "redis_password": SecretStr("")})
    return complete(bare, principal)
