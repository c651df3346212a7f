"""Workbench users, lender tokens and signed values (no Redis, no Kafka)."""

from __future__ import annotations

import stat

import pytest

from credence.workbench.auth import (
    AuthError,
    LenderTokens,
    Signer,
    UserStore,
    hash_password,
    verify_password,
)
from credence.workbench.plots import line_chart

PW = "correct horse battery"


def test_passwords_are_scrypt_hashed_and_checked():
    rec = hash_password(PW)
    assert rec["scheme"] == "scrypt" and rec["n"] == 2 ** 14 and len(bytes.fromhex(rec["salt"])) == 16
    assert PW not in str(rec)
    assert verify_password(PW, rec) and not verify_password(PW + "!", rec)
    assert hash_password(PW)["hash"] != rec["hash"]  # salted
    assert not verify_password(PW, {**rec, "scheme": "md5"})


def test_user_store_file_is_private_and_authenticates(tmp_path):
    users = UserStore(tmp_path)
    users.add("ann", "inspector", PW)
    users.add("sue", "supervisor", PW)
    assert stat.S_IMODE(users.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(users.path.parent.stat().st_mode) == 0o700
    assert PW not in users.path.read_text()
    assert users.authenticate("ann", PW).role == "inspector"
    assert users.authenticate("sue", PW).supervisor
    assert users.authenticate("ann", "wrong password") is None
    assert users.authenticate("nobody", PW) is None
    assert [u.name for u in users.list()] == ["ann", "sue"]
    for name, role, pw, msg in (("Ann", "inspector", PW, "user name"),
                                ("ann", "admin", PW, "inspector or supervisor"),
                                ("ann", "inspector", "short", "at least")):
        with pytest.raises(AuthError, match=msg):
            users.add(name, role, pw)
    users.remove("ann")
    assert users.get("ann") is None
    with pytest.raises(AuthError, match="no workbench user"):
        users.remove("ann")


def test_lender_tokens_are_kept_as_digests(tmp_path):
    t = LenderTokens(tmp_path)
    token = t.add("bank-a")
    assert token.startswith("cl_") and token not in t.path.read_text()
    assert t.lender_of(token) == "bank-a" and t.lender_of(token + "x") is None
    again = t.add("bank-a")  # a new token replaces the old one
    assert t.lender_of(token) is None and t.lender_of(again) == "bank-a"
    t.remove("bank-a")
    assert t.names() == [] and t.lender_of(again) is None


def test_signed_values_reject_tampering_and_other_purposes():
    s = Signer(b"k" * 32, "session")
    v = s.sign("abc")
    assert s.unsign(v) == "abc"
    assert s.unsign(v[:-1] + ("A" if v[-1] != "A" else "B")) is None
    assert s.unsign("abc") is None and s.unsign(None) is None
    assert Signer(b"k" * 32, "login").unsign(v) is None
    assert Signer(b"x" * 32, "session").unsign(v) is None


def test_line_chart_escapes_names_and_handles_no_data():
    svg = str(line_chart({"<script>": [(0, 0.2), (3_600_000, 0.9)]}, y_min=0, y_max=1,
                         title="t & u", threshold=0.8))
    assert svg.startswith("<svg") and "<script>" not in svg and "&lt;script&gt;" in svg
    assert "t &amp; u" in svg and "stroke-dasharray" in svg
    assert "nothing yet" in str(line_chart({}, y_min=0, y_max=1, title="x"))
