"""The daily file for the central credit registry: a day's listing changes and score changes.

``OUT/<date>/listings.jsonl`` (blacklist entries with event time on that UTC day),
``scores.jsonl`` (credit scores published that day, reasons with their words) and
``manifest.json`` (date, counts, the SHA-256 of each file). Rows are sorted, the manifest has no
wall-clock field, so exporting a day twice gives the same bytes: a day already exported with the
same content is left alone ("unchanged"); one whose content differs (late events arrived since)
is replaced as a whole, files first and the manifest last, each by an atomic rename, so the
registry never reads a manifest that does not match its files.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from credence.workbench.readmodel import ReadModel

__all__ = ["write_day", "ExportError", "day_rows"]


class ExportError(RuntimeError):
    """The export directory cannot be written; one line."""


def _bounds(day: date) -> tuple[int, int]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return int(start.timestamp() * 1000), int((start + timedelta(days=1)).timestamp() * 1000)


def day_rows(model: ReadModel, day: date) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    lo, hi = _bounds(day)
    listings, scores = model.day(lo, hi)
    lrows = sorted(({"entity_id": x["entity_id"], "entity_type": x.get("entity_type"),
                     "action": x["action"], "by": x["by"], "reason": x.get("reason", ""),
                     "alert_ids": x.get("alert_ids", []), "ts": x["ts"]} for x in listings),
                   key=lambda r: (r["ts"], r["entity_id"], r["action"], r["by"]))
    srows = sorted(({"seller_id": x["seller_id"], "score": x["score"],
                     "previous": x["previous"], "reasons": x["reasons"], "ts": x["ts"]}
                    for x in scores), key=lambda r: (r["ts"], r["seller_id"], r["score"]))
    return lrows, srows


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) + b"\n" for r in rows)


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_day(model: ReadModel, day: date, out: Path) -> tuple[Path, str]:
    """Write the day's files; return the manifest's path and "written", "replaced" or
    "unchanged"."""
    lrows, srows = day_rows(model, day)
    files = {"listings.jsonl": _jsonl(lrows), "scores.jsonl": _jsonl(srows)}
    manifest = {"date": day.isoformat(), "format": "credence-registry-export/1",
                "files": {name: {"rows": len(lrows if name.startswith("listings") else srows),
                                 "sha256": hashlib.sha256(data).hexdigest(),
                                 "bytes": len(data)}
                          for name, data in files.items()},
                "counts": {"listing_changes": len(lrows),
                           "listed": sum(1 for r in lrows if r["action"] == "add"),
                           "unlisted": sum(1 for r in lrows if r["action"] == "remove"),
                           "score_changes": len(srows),
                           "sellers_scored": len({r["seller_id"] for r in srows})}}
    body = orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"
    d = out / day.isoformat()
    mpath = d / "manifest.json"
    try:
        if mpath.exists() and mpath.read_bytes() == body and all(
                (d / n).exists() and (d / n).read_bytes() == data for n, data in files.items()):
            return mpath, "unchanged"
        state = "replaced" if mpath.exists() else "written"
        d.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            _replace(d / name, data)
        _replace(mpath, body)
    except OSError as e:
        raise ExportError(f"cannot write {d}: {e.strerror or e}") from None
    return mpath, state
