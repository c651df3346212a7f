"""Who may use the workbench and the lender API, and how a login is carried between requests.

* **Users** (inspectors and supervisors) live in ``$CREDENCE_HOME/workbench/users.json`` (mode
  600), each with a scrypt hash (``hashlib.scrypt``, n=2^14, r=8, p=1, a 16-byte salt): a stolen
  file does not give the passwords away cheaply.
* **Sessions** are server-side, in Redis under the read model's prefix, with a TTL: logging out
  (or removing a user) ends them at once, which a self-contained cookie could not do. The cookie
  holds only the session id, signed with HMAC-SHA-256 (key `CREDENCE_INSPECT_KEY`, else
  ``$CREDENCE_HOME/inspect.key``, mode 600), and is HttpOnly and SameSite=Strict.
* **CSRF**: each session has a random token that every POST must carry (a form field or the
  ``X-CSRF-Token`` header); the login form, which has no session yet, uses a signed token in a
  cookie of its own (double submit).
* **Lender tokens** are random 256-bit bearer tokens, stored as SHA-256 digests (a token is
  random, so a plain digest is as strong as a slow hash, and checking stays cheap per request).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from config import credentials

__all__ = ["ROLES", "Role", "User", "AuthError", "hash_password", "verify_password",
           "UserStore", "LenderTokens", "Signer", "Session", "SessionStore"]

Role = Literal["inspector", "supervisor"]
ROLES: tuple[Role, ...] = ("inspector", "supervisor")
MIN_PASSWORD = 10
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


class AuthError(ValueError):
    """A bad user name, role or password given to a user or token command; one line."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role

    @property
    def supervisor(self) -> bool:
        return self.role == "supervisor"


def hash_password(password: str, salt: bytes | None = None) -> dict[str, Any]:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return {"scheme": "scrypt", **_SCRYPT, "salt": salt.hex(), "hash": digest.hex()}


def verify_password(password: str, record: dict[str, Any]) -> bool:
    if record.get("scheme") != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(record["salt"]), dklen=32,
                            n=int(record["n"]), r=int(record["r"]), p=int(record["p"]))
    return hmac.compare_digest(digest.hex(), record["hash"])


def _write_private(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` atomically with mode 600 (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def workbench_dir(home: Path) -> Path:
    return Path(home).expanduser() / "workbench"


class UserStore:
    """The workbench's users: ``{name: {role, scheme, n, r, p, salt, hash}}``."""

    def __init__(self, home: Path):
        self.path = workbench_dir(home) / "users.json"
        # Checked for unknown names too, so a login's timing does not tell which names exist.
        self._dummy = hash_password("not a password", b"\0" * 16)

    def add(self, name: str, role: str, password: str) -> None:
        if not credentials.NAME.fullmatch(name):
            raise AuthError(f"a user name is 1-32 lower-case letters, digits, '_' or '-' "
                            f"starting with a letter, not {name!r}")
        if role not in ROLES:
            raise AuthError(f"--role is inspector or supervisor, not {role!r}")
        if len(password) < MIN_PASSWORD:
            raise AuthError(f"a password has at least {MIN_PASSWORD} characters")
        users = _read(self.path)
        users[name] = {"role": role, **hash_password(password)}
        _write_private(self.path, users)

    def remove(self, name: str) -> None:
        users = _read(self.path)
        if name not in users:
            raise AuthError(f"no workbench user {name!r}")
        del users[name]
        _write_private(self.path, users)

    def list(self) -> list[User]:
        return [User(n, u["role"]) for n, u in sorted(_read(self.path).items())]

    def get(self, name: str) -> User | None:
        u = _read(self.path).get(name)
        return User(name, u["role"]) if u else None

    def authenticate(self, name: str, password: str) -> User | None:
        rec = _read(self.path).get(name)
        ok = verify_password(password, rec or self._dummy)
        return User(name, rec["role"]) if rec and ok else None


class LenderTokens:
    """Bearer tokens of the lender API: ``{lender: sha256(token)}``."""

    def __init__(self, home: Path):
        self.path = workbench_dir(home) / "lenders.json"

    @staticmethod
    def _digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def add(self, name: str) -> str:
        """Make (or replace) the lender's token; it is shown once and only its digest is kept."""
        if not credentials.NAME.fullmatch(name):
            raise AuthError(f"a lender name is 1-32 lower-case letters, digits, '_' or '-' "
                            f"starting with a letter, not {name!r}")
        token = "cl_" + secrets.token_urlsafe(32)
        data = _read(self.path)
        data[name] = self._digest(token)
        _write_private(self.path, data)
        return token

    def remove(self, name: str) -> None:
        data = _read(self.path)
        if name not in data:
            raise AuthError(f"no lender {name!r}")
        del data[name]
        _write_private(self.path, data)

    def names(self) -> list[str]:
        return sorted(_read(self.path))

    def lender_of(self, token: str) -> str | None:
        d = self._digest(token)
        found = None
        for name, digest in _read(self.path).items():
            if hmac.compare_digest(d, digest):
                found = name
        return found


class Signer:
    """``value.tag`` with an HMAC-SHA-256 tag (what itsdangerous does, with the stdlib)."""

    def __init__(self, key: bytes, purpose: str):
        # One key, separate purposes: a session cookie is never a valid login token.
        self.key = hmac.new(key, purpose.encode(), hashlib.sha256).digest()

    def _tag(self, value: str) -> str:
        mac = hmac.new(self.key, value.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def sign(self, value: str) -> str:
        return f"{value}.{self._tag(value)}"

    def unsign(self, signed: str | None) -> str | None:
        if not signed or "." not in signed:
            return None
        value, tag = signed.rsplit(".", 1)
        return value if hmac.compare_digest(tag, self._tag(value)) else None


@dataclass(frozen=True)
class Session:
    sid: str
    user: User
    csrf: str


class SessionStore:
    """Sessions in Redis: ``<prefix>:session:<sid>`` → user, role, CSRF token; with a TTL."""

    def __init__(self, redis: Any, prefix: str, ttl_seconds: int):
        self.r, self.prefix, self.ttl = redis, prefix, ttl_seconds

    def _key(self, sid: str) -> str:
        return f"{self.prefix}:session:{sid}"

    def create(self, user: User) -> Session:
        s = Session(secrets.token_urlsafe(24), user, secrets.token_urlsafe(24))
        self.r.set(self._key(s.sid), json.dumps({"user": user.name, "role": user.role,
                                                 "csrf": s.csrf, "at": int(time.time())}),
                   ex=self.ttl)
        return s

    def get(self, sid: str) -> Session | None:
        raw = self.r.get(self._key(sid))
        if not raw:
            return None
        d = json.loads(raw)
        return Session(sid, User(d["user"], d["role"]), d["csrf"])

    def delete(self, sid: str) -> None:
        self.r.delete(self._key(sid))
