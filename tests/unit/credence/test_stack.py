"""The local stack's pure helpers (the stack itself: tests/integration/test_stack.py)."""

from __future__ import annotations

from pathlib import Path

from credence.stack import _last_error, _log_since, _startup_wait


def test_the_broker_error_of_this_start_is_named(tmp_path: Path):
    log = tmp_path / "server.log"
    log.write_text("[2026-12-01 10:00:00,000] ERROR an old start's failure (kafka.X)\n")
    start = log.stat().st_size
    assert _last_error(_log_since(log, start)) is None  # nothing since this start
    with open(log, "a") as f:
        f.write("[2026-12-01 10:01:00,000] WARN slow (kafka.Y)\n"
                "[2026-12-01 10:01:01,000] ERROR Error publishing broker metadata (kafka.Z)\n"
                "java.lang.IllegalStateException: boom\n"
                "[2026-12-01 10:01:02,000] INFO Transition (kafka.server.BrokerServer)\n")
    assert _last_error(_log_since(log, start)) == \
        "[2026-12-01 10:01:01,000] ERROR Error publishing broker metadata (kafka.Z)"
    assert len(_last_error(_log_since(log, start), limit=20)) == 20
    log.write_text("[2026-12-01 10:02:00,000] FATAL rolled over (kafka.W)\n")  # smaller now
    assert "FATAL rolled over" in _last_error(_log_since(log, start))
    assert _last_error(_log_since(tmp_path / "missing.log", 0)) is None


def test_what_a_stuck_startup_waits_for_is_named(tmp_path: Path):
    log = tmp_path / "server.log"
    log.write_text("")
    b = "(kafka.server.BrokerServer)"
    with open(log, "a") as f:
        f.write(f"[t] INFO [BrokerServer id=1] Waiting for the broker metadata publishers to be "
                f"installed {b}\n"
                f"[t] INFO [BrokerServer id=1] Finished waiting for the broker metadata publishers "
                f"to be installed {b}\n"
                f"[t] INFO [BrokerServer id=1] Waiting for the controller to acknowledge that we "
                f"are caught up {b}\n")
    assert _startup_wait(_log_since(log, 0)) == \
        "the controller to acknowledge that we are caught up"
    with open(log, "a") as f:
        f.write(f"[t] INFO [BrokerServer id=1] Finished waiting for the controller to acknowledge "
                f"that we are caught up {b}\n"
                f"[t] INFO [BrokerServer id=1] Transition from STARTING to STARTED {b}\n")
    assert _startup_wait(_log_since(log, 0)) is None
    assert _startup_wait(_log_since(tmp_path / "missing.log", 0)) is None
