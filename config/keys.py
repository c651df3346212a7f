"""The worker's secret keys: from settings, else made once under ``CREDENCE_HOME``.

``pseudonym`` keys the pseudonyms of personal identifiers (`credence.pseudonyms`); ``snapshot``
authenticates the detection snapshots kept in Redis (`streams.snapshot`); ``inspect`` signs
the workbench's session cookies (`credence.workbench.auth`). Either may be set
(``CREDENCE_PSEUDONYM_KEY``, ``CREDENCE_SNAPSHOT_KEY``, from a secret store); when unset, a
random one is written once to ``$CREDENCE_HOME/<name>.key`` (mode 600) and reused. Workers on
several machines must share both.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from config.settings import Settings

__all__ = ["load_key", "KeyName"]

KeyName = Literal["pseudonym", "snapshot", "inspect"]


def load_key(settings: Settings, name: KeyName) -> bytes:
    """The key ``name``: the setting, else ``$CREDENCE_HOME/<name>.key``, made if missing."""
    configured = getattr(settings, f"{name}_key")
    if configured is not None:
        return configured.get_secret_value().encode()
    path = Path(settings.home) / f"{name}.key"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_hex(32).encode())
    return path.read_bytes().strip()
