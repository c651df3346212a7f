"""Same seed and scale, same bytes; whatever the hash seed of the Python process."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from credence.contract import iso
from producers import bitcoin_alpha
from producers.ledger import _IsoFormatter
from producers.scenario import Scenario
from producers.simulator import simulate, write

SCALE = "0.04"


def _run(tmp_path, name, seed=7):
    d = tmp_path / name
    write(simulate(Scenario.drawn(seed, scale=float(SCALE))), d)
    return (d / "events.jsonl").read_bytes(), (d / "truth.json").read_bytes()


def test_same_seed_same_bytes(tmp_path):
    assert _run(tmp_path, "a") == _run(tmp_path, "b")


def test_different_seed_differs(tmp_path):
    a, b = _run(tmp_path, "a"), _run(tmp_path, "c", seed=8)
    assert a[0] != b[0] and a[1] != b[1]


def _subprocess_runs(tmp_path, *args: str) -> list[tuple[bytes, bytes]]:
    outs = []
    for hash_seed in ("1", "4242"):
        d = tmp_path / f"h{hash_seed}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        code = ("from credence.cli import main; import sys; "
                "main(['simulate', '--out', sys.argv[1], '--no-progress', *sys.argv[2:]])")
        r = subprocess.run([sys.executable, "-c", code, str(d), *args], env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        outs.append(((d / "events.jsonl").read_bytes(), (d / "truth.json").read_bytes()))
    return outs


def test_same_bytes_across_hash_seeds(tmp_path):
    """String hashing is randomised per process: set iteration order must never leak out."""
    outs = _subprocess_runs(tmp_path, "--scale", SCALE)
    assert outs[0] == outs[1]
    assert outs[0] == _run(tmp_path, "inproc")


@pytest.mark.skipif(not (bitcoin_alpha.dataset_dir() / "ratings.csv").is_file(),
                    reason="Bitcoin-Alpha not found")
def test_bitcoin_alpha_same_bytes_across_hash_seeds(tmp_path):
    outs = _subprocess_runs(tmp_path, "--background", "bitcoin-alpha", "--scale", "0.3")
    assert outs[0] == outs[1]


def test_fast_iso_formatter_equals_contract_iso():
    fmt = _IsoFormatter()
    rng = np.random.default_rng(1)
    for ms in rng.integers(0, 4_102_444_800_000, size=5000).tolist() + [0, 999, 86_399_999]:
        assert fmt(ms) == iso(ms)
