"""What a streaming run published and stored, against `credence replay` of the same input.

Outputs are compared by their deterministic output id (`streams.detect.output_id`: the alert id;
for blacklist entries and scores a hash of what they say), each side parsed with the contract's
models so both go through the same code: an id replay has and the stream lacks is *lost*, an id
the stream published more than once is *duplicated*, an id only the stream has is *extra* (a
result that differs). Dead letters carry no id replay could know (the stream's is the source
topic, partition and offset), so they are compared as a multiset of (error, payload) and
duplicates counted by source position. Features are the per-seller and per-account state in
Redis against the same feature ops applied in memory, key by key.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from config.settings import Settings

__all__ = ["Expected", "Published", "Diff", "OUTPUT_TOPICS", "expected_from_replay", "diff",
           "marker_states", "score_history_diff", "redis_features", "memory_features",
           "features_diff"]

#: output topic → replay file
OUTPUT_TOPICS: dict[str, str] = {"alerts": "alerts.jsonl", "blacklist": "blacklist.jsonl",
                                 "credit-scores": "scores.jsonl"}


def _oid(topic: str, value: bytes) -> str:
    from credence.contract import Alert, BlacklistEntry, CreditScore
    from streams.detect import output_id

    model = {"alerts": Alert, "blacklist": BlacklistEntry, "credit-scores": CreditScore}[topic]
    return output_id(model.model_validate_json(value))


def _dead_key(value: bytes) -> tuple[str, str]:
    d = orjson.loads(value)
    return d["error"], d["payload"]


@dataclass
class Expected:
    """Replay's outputs: ids per output topic, and its dead letters."""

    ids: dict[str, Counter[str]]
    dead: Counter[tuple[str, str]]

    @property
    def outputs(self) -> int:
        return sum(sum(c.values()) for c in self.ids.values())


@dataclass
class Published:
    """What the stream published: raw values per topic, and the output ids as they arrive
    (parsed once each: a million-event run publishes tens of thousands)."""

    values: dict[str, list[bytes]] = field(default_factory=lambda: {t: [] for t in
                                                                    (*OUTPUT_TOPICS, "dead-letters")})
    _ids: dict[str, Counter[str]] = field(default_factory=lambda: {t: Counter() for t in
                                                                   OUTPUT_TOPICS})

    def add(self, topic: str, value: bytes) -> None:
        self.values[topic].append(value)
        if topic in self._ids:
            self._ids[topic][_oid(topic, value)] += 1

    def ids(self, topic: str) -> Counter[str]:
        return self._ids[topic]

    def missing(self, expected: Expected) -> int:
        """How many of replay's outputs have not been published (yet)."""
        return sum(1 for t, c in expected.ids.items() for i in c if i not in self._ids[t])


@dataclass
class Diff:
    lost: dict[str, int]
    duplicated: dict[str, int]
    extra: dict[str, int]
    examples: list[str]
    lost_ids: list[str] = field(default_factory=list)  # output ids, as their markers name them

    @property
    def ok(self) -> bool:
        return not (sum(self.lost.values()) or sum(self.duplicated.values())
                    or sum(self.extra.values()))


def expected_from_replay(settings: Settings, events_file: Path, out_dir: Path) -> Expected:
    """Run `credence replay`'s core on the file and read back what it would publish."""
    from credence.replay import Replay

    Replay(settings).run([str(events_file)], out_dir)
    ids = {t: Counter(_oid(t, line) for line in (out_dir / f).read_bytes().splitlines()
                      if line.strip())
           for t, f in OUTPUT_TOPICS.items()}
    dead = Counter(_dead_key(line) for line in
                   (out_dir / "dead-letters.jsonl").read_bytes().splitlines() if line.strip())
    return Expected(ids, dead)


def diff(expected: Expected, got: Published) -> Diff:
    lost: dict[str, int] = {}
    dup: dict[str, int] = {}
    extra: dict[str, int] = {}
    examples: list[str] = []
    lost_ids: list[str] = []
    for topic in OUTPUT_TOPICS:
        want, have = expected.ids[topic], got.ids(topic)
        # Replay's own ids are unique: the engine never says the same thing twice.
        missing = [i for i in want if i not in have]
        lost[topic] = len(missing)
        dup[topic] = sum(n - 1 for n in have.values() if n > 1)
        only = [i for i in have if i not in want]
        extra[topic] = len(only)
        examples += [f"{topic} lost {i}" for i in missing[:3]]
        lost_ids += missing
        examples += [f"{topic} extra {i}" for i in only[:3]]
        examples += [f"{topic} x{n} {i}" for i, n in list(have.items()) if n > 1][:3]
    raw = got.values["dead-letters"]
    by_source = Counter((d["source_topic"], d["partition"], d["offset"])
                        for d in (orjson.loads(v) for v in raw))
    dup["dead-letters"] = sum(n - 1 for n in by_source.values() if n > 1)
    examples += [f"dead letter x{n} {src}" for src, n in by_source.items() if n > 1][:3]
    have_dead = Counter()
    seen: set[tuple] = set()
    for v in raw:
        d = orjson.loads(v)
        src = (d["source_topic"], d["partition"], d["offset"])
        if src not in seen:
            seen.add(src)
            have_dead[(d["error"], d["payload"])] += 1
    lost["dead-letters"] = sum((expected.dead - have_dead).values())
    extra["dead-letters"] = sum((have_dead - expected.dead).values())
    if lost["dead-letters"] or extra["dead-letters"]:
        examples += [f"dead letter lost: {k[0]}" for k in list(expected.dead - have_dead)[:3]]
        examples += [f"dead letter extra: {k[0]}" for k in list(have_dead - expected.dead)[:3]]
    return Diff(lost, dup, extra, examples, lost_ids)


def marker_states(s: Settings, ids: Sequence[str]) -> Counter[str]:
    """What Redis says of outputs the stream did not publish: each id's marker (streams.app)
    ``published``, ``pending`` (a send claimed and never confirmed) or ``absent`` (never
    emitted) -- which tells a lost send from an output the stream never reached."""
    from credence.store.keys import PENDING, output_marker
    from credence.store.redis import connect

    r = connect(s, decode=False)
    got = r.mget([output_marker(s.key_prefix, i) for i in ids]) if ids else []
    return Counter("absent" if v is None else "pending" if v.startswith(PENDING) else "published"
                   for v in got)


def score_history_diff(s: Settings, published: Sequence[bytes]) -> list[str]:
    """Sellers whose score-history view (newest first) is not their published scores in order,
    each once: a score redone after a kill must not be appended again."""
    from credence.store.keys import SCORE_HISTORY_KEEP, score_history
    from credence.store.redis import connect

    by_seller: dict[str, dict[str, None]] = {}
    for value in published:
        d = orjson.loads(value)
        by_seller.setdefault(d["seller_id"], {})[_oid("credit-scores", value)] = None
    sellers = sorted(by_seller)
    pipe = connect(s, decode=False).pipeline(transaction=False)
    for seller in sellers:
        pipe.lrange(score_history(s.key_prefix, seller), 0, -1)
    bad = []
    for seller, hist in zip(sellers, pipe.execute(), strict=True):
        ids = by_seller[seller]
        got = [_oid("credit-scores", v) for v in hist]
        if got != list(ids)[::-1][:SCORE_HISTORY_KEEP]:
            bad.append(f"score history of {seller}: {len(got)} entries, "
                       f"{len(set(got))} distinct, {len(ids)} scores published")
    return bad


# ------------------------------------------------------------------------------ features


def redis_features(s: Settings) -> dict[str, object]:
    """The feature keys under the settings' prefix, decoded (views, markers, snapshot aside)."""
    from credence.features import FeatureModel
    from credence.store.redis import RedisStore

    store = RedisStore(s)
    model = FeatureModel(s.key_prefix)
    n = len(s.key_prefix) + 1
    return {k[n:]: v for k, v in store.dump(s.key_prefix, model.horizon_of).items()
            if ":detect:" not in k and ":out:" not in k and ":view:" not in k}


def memory_features(s: Settings, lines: Iterable[bytes]) -> dict[str, object]:
    """The same features from the events applied one by one in memory, pseudonymised as
    ingest does; lines that are not valid events are skipped (they are dead letters)."""
    from credence.contract import InvalidEvent, parse_event
    from credence.features import FeatureModel
    from credence.pseudonyms import Pseudonyms
    from credence.store.memory import MemoryStore

    model = FeatureModel(s.key_prefix)
    store = MemoryStore()
    ps = Pseudonyms.from_settings(s)
    for i, raw in enumerate(lines):
        try:
            e = ps.apply(parse_event(raw, max_bytes=s.max_event_bytes))
        except InvalidEvent:
            continue
        store.apply([model.ops(e, f"line/{i}")])
    n = len(s.key_prefix) + 1
    return {k[n:]: v for k, v in store.dump().items()}


def features_diff(got: dict[str, object], want: dict[str, object]) -> list[str]:
    """Keys that differ (at most 5 named), empty when identical."""
    keys = sorted(set(got) | set(want))
    bad = [k for k in keys if got.get(k) != want.get(k)]
    return [f"{k}: redis {str(got.get(k))[:80]} != replay {str(want.get(k))[:80]}"
            for k in bad[:5]] + ([f"... {len(bad) - 5} more"] if len(bad) > 5 else [])
