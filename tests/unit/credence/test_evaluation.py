"""The evaluation's score report: what it measures on hand-made score series."""

from __future__ import annotations

from credence.contract import CreditScore, iso
from credence.evaluation import _label_report, _score_report

DAY = 86_400_000


def _score(seller: str, day: float, score: int, **components: float) -> CreditScore:
    return CreditScore(seller_id=seller, score=score, previous=None, ts=iso(int(day * DAY)),
                       components=components, reasons=[])


def _truth(**extra):
    return {"patterns": [], "hard_negatives": [], **extra}


def test_honest_drop_names_the_components_that_fell():
    scores = [_score("s1", 1, 700, sales_scale=90, complaints=0, records=60),
              _score("s1", 10.5, 640, sales_scale=95, complaints=-60, records=60),
              _score("s1", 12, 690, sales_scale=95, complaints=-10, records=60),
              _score("s2", 1, 600, sales_scale=50, records=60),
              _score("s2", 11, 590, sales_scale=50, records=50)]
    truth = _truth(hard_negatives=[
        {"kind": "flash_sale", "start": iso(10 * DAY), "end": iso(11 * DAY), "sellers": ["s1"]},
        {"kind": "b2b_bulk", "start": iso(10 * DAY), "end": iso(11 * DAY), "sellers": ["s2"]}])
    r = _score_report(scores, truth, {})
    s1, s2 = r["hard_negative_sellers"]
    assert (s1["before"], s1["lowest_during"], s1["drop"]) == (700, 640, 60)
    assert s1["drivers"] == {"complaints": -60.0}
    assert s2["drop"] == 10 and s2["drivers"] == {"records": -10.0}
    assert r["max_hard_negative_drop"] == 60
    assert r["max_hard_negative_drop_seller"]["seller"] == "s1"


def test_culprit_gain_is_peak_after_start_minus_last_before():
    scores = [_score("c", 1, 600), _score("c", 3, 640), _score("c", 4, 420)]
    truth = _truth(patterns=[{"pattern": "wash_ring", "start": iso(2 * DAY),
                              "culprit_sellers": ["c"]}])
    r = _score_report(scores, truth, {"c": 1})
    assert r["culprits"] == [{"seller": "c", "pattern": "wash_ring", "before": 600, "peak": 640,
                              "final": 420, "flagged": True}]
    assert r["median_culprit_gain_before_detection"] == 40


def test_low_score_auc_uses_each_sellers_last_score():
    scores = [_score("f1", 1, 800), _score("f1", 2, 400), _score("f2", 1, 450),
              _score("b1", 1, 700), _score("b2", 1, 650)]
    labels = {"f1": "fraudulent", "f2": "fraudulent", "b1": "benign", "b2": "benign",
              "unscored": "benign"}
    r = _label_report(scores, labels)
    assert r["low_score_auc"] == 1.0
    assert (r["scored_fraudulent"], r["scored_benign"]) == (2, 2)
