from __future__ import annotations

from credence.contract import Decision
from credence.policy import BlacklistPolicy


def _d(action: str, entity: str = "s1", ts: int = 10) -> Decision:
    return Decision(entity_id=entity, entity_type="seller", action=action, inspector="ann", ts=ts)


DAY = 86_400_000


def test_an_automatic_listing_is_kept_when_suspicion_decays():
    """Issue 10, class 5: decay never removes a listing; only an inspector (or, when set, the
    expiry) does, and the entry says so."""
    p = BlacklistPolicy(threshold=0.8, release=0.3)
    assert p.update("s1", "seller", 0.79, 1) is None
    add = p.update("s1", "seller", 0.85, 2)
    assert add is not None and add.action == "add" and add.by == "auto"
    assert "kept until an inspector" in add.reason
    for t, level in ((3, 0.5), (4, 0.2), (900 * DAY, 0.0)):
        assert p.update("s1", "seller", level, t, evidence=False) is None
    assert p.listed_level("s1") == 0.85


def test_a_listing_expires_only_after_the_set_days_without_new_evidence():
    p = BlacklistPolicy(threshold=0.8, expiry_ms=90 * DAY)
    add = p.update("s1", "seller", 0.9, 0)
    assert add is not None and "90 days pass without new evidence" in add.reason
    assert p.update("s1", "seller", 0.6, 80 * DAY) is None  # new evidence at day 80
    assert p.update("s1", "seller", 0.1, 169 * DAY, evidence=False) is None
    p.note_alert("s1", "a1", 170 * DAY, "cohort")  # an alert naming it is new evidence too
    assert p.update("s1", "seller", 0.1, 259 * DAY, evidence=False) is None
    rm = p.update("s1", "seller", 0.1, 260 * DAY, evidence=False)
    assert rm is not None and rm.action == "remove" and rm.by == "auto"
    assert rm.reason.startswith("expired: no new evidence in 90 days")


def test_repeated_alerts_from_two_detectors_list_an_entity_below_the_threshold():
    p = BlacklistPolicy(threshold=0.8, release=0.3, repeat_alerts=3, repeat_min=0.7)
    for i in range(3):
        p.note_alert("s1", f"a{i}", i, "dense_block")
    assert p.update("s1", "seller", 0.75, 5) is None  # one detector re-alerting one episode
    p.note_alert("s1", "a3", 6, "sock_puppets")
    assert p.update("s1", "seller", 0.6, 6) is None  # corroborated, but too weak
    entry = p.update("s1", "seller", 0.75, 7)
    assert entry is not None and entry.alert_ids == ["a0", "a1", "a2", "a3"]


def test_victims_are_never_listed_automatically():
    p = BlacklistPolicy()
    assert p.update("s1", "seller", 0.99, 1, victim=True) is None


def test_confirm_sticks_and_dismiss_needs_new_evidence():
    p = BlacklistPolicy(threshold=0.8, release=0.3)
    p.note_alert("s1", "a1", 1, "x")
    p.update("s1", "seller", 0.9, 1)
    dismissed = p.decide(_d("dismiss"), 0.9)
    assert dismissed is not None and dismissed.action == "remove" and dismissed.by == "inspector:ann"
    assert p.update("s1", "seller", 0.95, 20) is None  # same evidence
    p.note_alert("s1", "a2", 21, "x")
    assert p.update("s1", "seller", 0.95, 22) is None  # new alert but not clearly stronger
    p.note_alert("s1", "a3", 23, "y")
    again = p.update("s1", "seller", 0.99, 24)
    assert again is not None and again.action == "add"
    confirmed = p.decide(_d("confirm", ts=30), 0.99)
    assert confirmed is not None and confirmed.by == "inspector:ann"
    assert p.update("s1", "seller", 0.0, 40) is None  # an inspector's listing is not released
    lifted = p.decide(_d("lift", ts=50), 0.0)
    assert lifted is not None and lifted.action == "remove"


def test_an_entry_cites_the_most_recent_alerts():
    p = BlacklistPolicy(threshold=0.8, release=0.3)
    ids = [f"{(7 * i) % 25:02d}-{i}" for i in range(25)]  # ids do not sort by time
    for i, a in enumerate(ids):
        p.note_alert("s1", a, i, "dense_block")
    entry = p.update("s1", "seller", 0.9, 30)
    assert entry is not None and entry.alert_ids == ids[-20:]
    confirm = p.decide(Decision(entity_id="s1", entity_type="seller", action="confirm",
                                inspector="ann", ts=31, alert_id="new"), 0.9)
    assert confirm is not None and confirm.alert_ids == [*ids[-19:], "new"]
