"""The CLI's promises: one-line errors with exit status 2, settings in --help, replay's files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from credence.cli import main


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    full = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "credence.cli", *args], capture_output=True,
                          text=True, env=full, timeout=120)


@pytest.mark.parametrize("args,env,needle", [
    (["bogus"], None, "No such command 'bogus'"),
    (["topics", "create", "--partitions", "x"], None, "--partitions"),
    (["stack", "status"], {"CREDENCE_KAFKA": "nonsense"}, "CREDENCE_KAFKA"),
    (["replay", "/no/such/file", "--out", "/tmp/x"], None, "no such file: /no/such/file"),
    (["eval", "/no/such", "/nope"], None, "no such file"),
    (["worker", "--loglevel", "loud"], None, "--loglevel"),
    (["export", "--date", "30/11/2026"], None, "--date is YYYY-MM-DD"),
    (["inspect", "--port", "0"], None, "--port"),
    (["inspect", "users", "add", "Ann"], {"CREDENCE_INSPECT_PASSWORD": "long enough pw",
                                          "CREDENCE_HOME": "/tmp/credence-cli-test-home"},
     "a user name is"),
    (["inspect", "users", "add", "ann", "--role", "boss"],
     {"CREDENCE_INSPECT_PASSWORD": "long enough pw",
      "CREDENCE_HOME": "/tmp/credence-cli-test-home"}, "inspector or supervisor"),
    (["inspect", "lenders", "remove", "nobody"],
     {"CREDENCE_HOME": "/tmp/credence-cli-test-home"}, "no lender 'nobody'"),
])
def test_user_errors_are_one_line_with_status_2(args, env, needle):
    r = _run(args, env)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("credence: error:"), r.stderr
    assert needle in lines[0]
    assert "Traceback" not in r.stderr


def test_help_lists_every_setting_with_its_default():
    r = _run(["--help"])
    assert r.returncode == 0
    for name in ("CREDENCE_KAFKA=127.0.0.1:9092", "CREDENCE_REDIS=redis://127.0.0.1:6379/0",
                 "CREDENCE_TOPIC_PREFIX=", "CREDENCE_HOME=", "CREDENCE_TICK_SECONDS=60"):
        assert name in r.stdout


def test_replay_writes_the_contract_files(tmp_path: Path, capsys):
    events = tmp_path / "e.jsonl"
    rows = [{"type": "order", "order_id": f"o{i}", "seller_id": "s1", "buyer_id": f"b{i}",
             "amount": 10.0, "ts": 1_790_000_000_000 + i * 1000} for i in range(20)]
    events.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n{broken\n\n")
    with pytest.raises(SystemExit) as e:
        main(["replay", str(events), "--out", str(tmp_path / "out")])
    assert e.value.code == 0
    out = tmp_path / "out"
    for name in ("alerts.jsonl", "blacklist.jsonl", "scores.jsonl", "suspicion.jsonl",
                 "dead-letters.jsonl"):
        assert (out / name).exists(), name
    dls = [orjson.loads(x) for x in (out / "dead-letters.jsonl").read_bytes().splitlines()]
    assert len(dls) == 1 and dls[0]["offset"] == 21 and "bad JSON" in dls[0]["error"]
    susp = {orjson.loads(x)["entity_id"]: orjson.loads(x)
            for x in (out / "suspicion.jsonl").read_bytes().splitlines()}
    assert set(susp) == {"s1", *(f"b{i}" for i in range(20))}
    assert susp["s1"]["entity_type"] == "seller" and susp["b3"]["entity_type"] == "account"
    scores = [orjson.loads(x) for x in (out / "scores.jsonl").read_bytes().splitlines()]
    assert scores and all(350 <= s["score"] <= 950 for s in scores)


def test_replay_reads_stdin(tmp_path: Path):
    row = orjson.dumps({"type": "order", "order_id": "o", "seller_id": "s", "buyer_id": "b",
                        "amount": 1.0, "ts": 5})
    r = subprocess.run([sys.executable, "-m", "credence.cli", "replay", "-", "--out",
                        str(tmp_path), "-q"], input=row + b"\n", capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "scores.jsonl").read_bytes().count(b"\n") == 1
