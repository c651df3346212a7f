"""Where the worker keeps its outputs' markers, score histories and detection snapshot in Redis:
each name made here only, for the worker that writes them and the commands that read them."""

from __future__ import annotations

__all__ = ["PENDING", "SCORE_HISTORY_KEEP", "output_id_of", "output_marker", "score_history",
           "snapshot_key", "view"]

# The prefix of a pending output marker's value; the rest is the send's wall clock in ms
# (streams.delivery: claimed before the send, ``1`` once the broker has it).
PENDING = b"p:"
SCORE_HISTORY_KEEP = 30  # latest scores kept per seller, newest first


def output_marker(key_prefix: str, oid: str) -> str:
    """The marker of output ``oid`` (streams.detect.output_id)."""
    return f"{key_prefix}:out:{oid}"


def output_id_of(key_prefix: str, marker: str) -> str:
    """The output id a marker of `output_marker` names."""
    return marker.removeprefix(output_marker(key_prefix, ""))


def score_history(key_prefix: str, seller_id: str) -> str:
    return f"{key_prefix}:view:score-history:{seller_id}"


def view(key_prefix: str, kind: str) -> str:
    """The hash of the platform's latest ``kind`` per entity (``score``, ``susp``, ``blacklist``:
    streams.detect.DetectionStage.view_writes), which the worker writes and readers read."""
    return f"{key_prefix}:view:{kind}"


def snapshot_key(key_prefix: str) -> str:
    """Where the detection stage of the workers under ``key_prefix`` keeps its snapshot."""
    return f"{key_prefix}:detect:snapshot"
