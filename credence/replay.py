"""Embedded replay (CONTRACT.md section 4): the streaming path's core, in-process, from files.

Lines are parsed with the contract models (bad ones become dead letters), sequenced into
event-time ticks with the same `Sequencer` the detection stage uses (watermark: largest ``ts`` so
far − lateness), and each closed tick goes through the same `Engine`. At the end of input every
open tick is flushed, as the streaming path does when all its inputs are idle.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

import orjson

from config.settings import Settings
from credence.contract import TOPIC_OF_TYPE, DeadLetter, InvalidEvent
from credence.engine import Engine, Outputs
from credence.pseudonyms import Pseudonyms
from credence.sequencer import Sequencer
from credence.tuning import POLICY_TOPIC, parse_input

__all__ = ["Replay", "ReplayStats", "iter_lines", "OUTPUT_FILES"]

OUTPUT_FILES = ("alerts.jsonl", "blacklist.jsonl", "scores.jsonl", "suspicion.jsonl",
                "dead-letters.jsonl")


def iter_lines(paths: list[str]) -> Iterator[tuple[str, int, bytes]]:
    """(name, 1-based line number, raw line without the newline) over files; ``-`` is stdin."""
    missing = [p for p in paths if p != "-" and not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(2, "No such file", missing[0])
    for p in paths:
        with ExitStack() as stack:
            f: BinaryIO = sys.stdin.buffer if p == "-" else stack.enter_context(open(p, "rb"))
            for n, line in enumerate(f, 1):
                yield ("<stdin>" if p == "-" else p), n, line.rstrip(b"\r\n")


def _guess_topic(raw: bytes) -> str:
    try:
        kind = orjson.loads(raw).get("type")
        if kind == "policy":
            return POLICY_TOPIC
        return TOPIC_OF_TYPE.get(kind, "-") if isinstance(kind, str) else "-"
    except Exception:
        return "-"


@dataclass
class ReplayStats:
    lines: int = 0
    events: int = 0
    dead_letters: int = 0
    late: int = 0
    ticks: int = 0
    alerts: int = 0
    blacklist: int = 0
    scores: int = 0
    seconds: float = 0.0

    @property
    def events_per_s(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0


class Replay:
    def __init__(self, settings: Settings, engine: Engine | None = None, collect: bool = False):
        self.settings = settings
        self.engine = engine or Engine(settings)
        self.seq = Sequencer(settings.tick_seconds * 1000, settings.lateness_seconds * 1000)
        self.pseudonyms = Pseudonyms.from_settings(settings)  # as at ingest: replay = streaming
        self.stats = ReplayStats()
        #: every output, in publication order, when ``collect`` (for evaluation and tests)
        self.outputs: Outputs | None = Outputs() if collect else None

    def run(self, paths: list[str], out_dir: Path | None) -> ReplayStats:
        t0 = time.perf_counter()
        files: dict[str, IO[bytes]] = {}
        lines = iter_lines(paths)  # raises FileNotFoundError before any output is created
        first = next(lines, None)
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            files = {name: open(out_dir / name, "wb") for name in OUTPUT_FILES}  # noqa: SIM115
        try:
            if first is not None:
                self._line(*first, files)
                for item in lines:
                    self._line(*item, files)
            for tick in self.seq.flush():
                self._emit(self.engine.process_tick(tick, _now_ms()), files)
                self.stats.ticks += 1
            if "suspicion.jsonl" in files:
                f = files["suspicion.jsonl"]
                for row in self.engine.suspicion_rows():
                    f.write(row.to_json() + b"\n")
        finally:
            for f in files.values():
                f.close()
        self.stats.late = self.seq.late
        self.stats.seconds = time.perf_counter() - t0
        return self.stats

    def _line(self, name: str, n: int, raw: bytes, files: dict[str, IO[bytes]]) -> None:
        if not raw.strip():
            return
        self.stats.lines += 1
        try:
            # Contract events, and run-time policy changes at their ts (credence.tuning).
            event = parse_input(raw, max_bytes=self.settings.max_event_bytes)
        except InvalidEvent as e:
            self.stats.dead_letters += 1
            if "dead-letters.jsonl" in files:
                dl = DeadLetter.of(raw, str(e), source_topic=_guess_topic(raw), partition=None,
                                   offset=n, now_ms=_now_ms())
                files["dead-letters.jsonl"].write(dl.to_json() + b"\n")
            return
        self.stats.events += 1
        event = self.pseudonyms.apply(event)
        self.seq.push(event, self.stats.lines, f"{name}:{n}")
        for tick in self.seq.release(self.seq.own_watermark()):
            self._emit(self.engine.process_tick(tick, _now_ms()), files)
            self.stats.ticks += 1

    def _emit(self, out: Outputs, files: dict[str, IO[bytes]]) -> None:
        self.stats.alerts += len(out.alerts)
        self.stats.blacklist += len(out.blacklist)
        self.stats.scores += len(out.scores)
        if self.outputs is not None:
            self.outputs.extend(out)
        if not files:
            return
        for name, items in (("alerts.jsonl", out.alerts), ("blacklist.jsonl", out.blacklist),
                            ("scores.jsonl", out.scores)):
            f = files[name]
            for item in items:
                f.write(item.to_json() + b"\n")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
