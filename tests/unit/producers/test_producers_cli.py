"""`credence simulate` and `credence produce` through `credence.cli.main` (no broker needed:
the publisher is replaced by a recorder)."""

from __future__ import annotations

import io

import orjson
import pytest

from credence.cli import main
from producers import publisher
from producers.publisher import PublishStats


class Recorder:
    """Stands in for `producers.publisher.Publisher`; remembers what would be sent."""

    sent: list[tuple[str, str | None, bytes]] = []

    def __init__(self, settings, **kw):
        Recorder.sent = []

    def send(self, topic, key, value, ts_ms=None):
        Recorder.sent.append((topic, key, value))

    def close(self):
        per: dict[str, int] = {}
        for t, _, _ in Recorder.sent:
            per[t] = per.get(t, 0) + 1
        return PublishStats(sent=per, seconds=0.01)


@pytest.fixture
def recorder(monkeypatch):
    monkeypatch.setattr(publisher, "Publisher", Recorder)
    Recorder.sent = []
    return Recorder


def run(argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    return e.value.code


GOOD_ORDER = {"type": "order", "order_id": "o1", "seller_id": "s1", "buyer_id": "u1",
              "amount": 10.5, "ts": "2026-10-01T00:00:00Z"}
GOOD_REVIEW = {"type": "review", "review_id": "r1", "seller_id": "s1", "reviewer_id": "u1",
               "rating": 5, "ts": 1790000000000}
DECISION = {"type": "decision", "entity_id": "u9", "entity_type": "account",
            "action": "confirm", "inspector": "ann", "ts": "2026-10-02T00:00:00+08:00"}


def _file(tmp_path):
    lines = [orjson.dumps(GOOD_ORDER), b"{not json", b"",
             orjson.dumps({**GOOD_REVIEW, "rating": 7}), orjson.dumps(DECISION),
             orjson.dumps({"type": "teleport", "seller_id": "s1"}), b"[1, 2]",
             orjson.dumps(GOOD_REVIEW)]
    f = tmp_path / "in.jsonl"
    f.write_bytes(b"\n".join(lines) + b"\n")
    return f


def test_produce_reports_bad_lines_with_numbers_and_counts(tmp_path, recorder, capsys):
    f = _file(tmp_path)
    assert run(["produce", str(f), "--no-progress"]) == 0
    out, err = capsys.readouterr()
    bad = [line.split(": ", 1)[0] for line in err.splitlines()]
    assert bad == [f"{f}:2", f"{f}:4", f"{f}:6", f"{f}:7"]
    assert "rating" in err.splitlines()[1]
    assert "sent 3 events" in out and "skipped 4 lines" in out
    assert [(t, k) for t, k, _ in recorder.sent] == [("orders", "s1"), ("decisions", "u9"),
                                                     ("reviews", "s1")]
    # The bytes of the line are sent as they are.
    assert recorder.sent[0][2] == orjson.dumps(GOOD_ORDER)


def test_produce_without_validation_sends_routable_objects_verbatim(tmp_path, recorder,
                                                                    capsys):
    f = _file(tmp_path)
    assert run(["produce", str(f), "--no-validate", "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert [line.split(": ", 1)[0] for line in err.splitlines()] == [
        f"{f}:2", f"{f}:6", f"{f}:7"]
    assert "sent 4 events" in out and "skipped 3 lines" in out
    assert orjson.loads(recorder.sent[1][2])["rating"] == 7


def test_produce_reads_stdin(monkeypatch, recorder, capsys):
    data = orjson.dumps(GOOD_ORDER) + b"\n" + orjson.dumps(GOOD_REVIEW) + b"\n"

    class In:
        buffer = io.BytesIO(data)

    monkeypatch.setattr("sys.stdin", In)
    assert run(["produce", "-", "--no-progress"]) == 0
    assert len(recorder.sent) == 2


def test_produce_missing_file_is_a_one_line_error(tmp_path, recorder, capsys):
    f = _file(tmp_path)
    assert run(["produce", str(f), str(tmp_path / "missing.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"credence: error: no such file: {tmp_path / 'missing.jsonl'}"
    assert recorder.sent == []


def test_simulate_writes_files(tmp_path, capsys):
    assert run(["simulate", "--out", str(tmp_path / "o"), "--scale", "0.03", "--world",
                "classic", "--set", "wash_ring.count=40", "--no-progress"]) == 0
    assert "wrote" in capsys.readouterr().out
    truth = orjson.loads((tmp_path / "o" / "truth.json").read_bytes())
    assert sum(p["pattern"] == "wash_ring" for p in truth["patterns"]) == 1


@pytest.mark.parametrize("argv, msg", [
    (["--rate", "5", "--speedup", "2"], "not both"),
    (["--out", "X", "--rate", "5"], "drop them with --out"),
    (["--out", "X", "--set", "bogus=1"], "unknown scenario setting"),
    (["--out", "X", "--background", "bitcoin-alpha", "--dataset", "/nonexistent"],
     "no such file"),
    (["--out", "X", "--set", "start=garbage"], "start: Value error, not an ISO 8601 time"),
    (["--out", "X", "--set", "inject_start=2013-06-01"], "inject_start: Value error, ISO 8601 "
     "time without a zone"),
    # Valid settings that cannot be built: found while simulating, still a one-line error.
    (["--out", "X", "--scale", "0.03", "--set", "sellers=30", "--set",
      "digital_goods.count=1000"], "no free seller left"),
    (["--out", "X", "--scale", "0.03", "--set", "wash_ring.count=1000"],
     "no free seller left for camouflage"),
    # --live moves the synthetic period only; Bitcoin-Alpha's times come from the data.
    (["--live", "--background", "bitcoin-alpha"], "--live does not apply"),
    (["--live", "--set", "background=bitcoin-alpha"], "--live does not apply"),
])
def test_simulate_user_errors_exit_2(tmp_path, capsys, argv, msg):
    argv = [str(tmp_path / "o") if a == "X" else a for a in argv]
    assert run(["simulate", *argv]) == 2
    err = capsys.readouterr().err
    assert msg in err and len(err.strip().splitlines()) == 1
