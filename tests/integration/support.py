"""Integration helpers: real `credence worker` processes, plain Kafka producers and consumers.

They live in `credence.chaos.harness`, which the fault suite (`credence chaos`) drives too.
"""

from __future__ import annotations

from credence.chaos.harness import (
    ROOT,
    Worker,
    consume_all,
    free_port,
    produce,
    settings_env,
    wait_for,
)

__all__ = ["ROOT", "Worker", "produce", "consume_all", "wait_for", "settings_env", "free_port"]
