"""`credence eval`: replay events with known truth and measure detection and scoring.

Per injected pattern and per pattern family (truth.json from `credence simulate`):

* seller and account precision, recall and F1 of the *final* blacklist (an entity counts as
  flagged if it is listed when the input ends, as the registry reading the compacted topic sees
  it). Precision is pattern-specific on the true side and global on the false side: FP are
  honest entities listed, whatever pattern they were mistaken for;
* ROC AUC and average precision of the accounts' final suspicion (``suspicion.jsonl``;
  positives: the pattern's culprit accounts; negatives: every honest account);
* time from the pattern's start to its first alert (an alert on a culprit seller or victim, or
  implicating a culprit account).

Across patterns, counting every entity *ever* listed automatically (stricter than the final
list): victims, hard-negative entities by kind, honest sellers and accounts; credit scores of
culprits before the pattern, at their peak and at the end; honest sellers' scores across their
own hard-negative events; with labels (Bitcoin-Alpha, Kumar et al. ICDM 2016 / WSDM 2018), the
ROC AUC of a low score against the "fraudulent" label.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from config.settings import Settings
from credence.contract import DAY_MS, HOUR_MS, parse_ts
from credence.engine import Engine, Outputs
from credence.replay import Replay

__all__ = ["evaluate", "Report", "write_report"]


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def _rank_metrics(pos: list[float], neg: list[float]) -> tuple[float | None, float | None]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    if not pos or not neg:
        return None, None
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    s = np.r_[pos, neg]
    return float(roc_auc_score(y, s)), float(average_precision_score(y, s))


@dataclass
class Report:
    scenario: str
    events: int
    seconds: float
    patterns: list[dict[str, Any]] = field(default_factory=list)
    by_pattern: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_family: dict[str, dict[str, Any]] = field(default_factory=dict)
    victims: dict[str, Any] = field(default_factory=dict)
    hard_negatives: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    overall: dict[str, Any] = field(default_factory=dict)
    curves: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = dict(vars(self))
        d.pop("curves")
        return d


def evaluate(settings: Settings, events: Path, truth_path: Path, scenario: str = "files",
             out_dir: Path | None = None) -> Report:
    truth = json.loads(truth_path.read_text())
    engine = Engine(settings)
    rep = Replay(settings, engine, collect=True)
    stats = rep.run([str(events)], out_dir)
    outs = rep.outputs or Outputs()
    report = Report(scenario, stats.events, round(stats.seconds, 2))

    ever: dict[str, int] = {}  # entity → first auto add (event time)
    listed: dict[str, bool] = {}  # entity → listed after the last entry
    for b in outs.blacklist:
        if b.action == "add" and b.by == "auto":
            ever.setdefault(b.entity_id, parse_ts(b.ts))
        listed[b.entity_id] = b.action == "add"
    flagged = {e: ever.get(e, 0) for e, on in listed.items() if on}
    etype = engine.entity_type
    # The accounts' suspicion as `suspicion.jsonl` gives it when the input ends.
    peak = {r.entity_id: r.score for r in engine.suspicion_rows()}
    culprit_s = set(truth["culprit_sellers"])
    culprit_a = set(truth["culprit_accounts"])
    victims = set(truth["victims"])
    culprits = culprit_s | culprit_a
    honest_sellers = {e for e, t in etype.items() if t == "seller"} - culprits
    honest_accounts = {e for e, t in etype.items() if t == "account"} - culprits
    fp_s = sorted(e for e in flagged if e in honest_sellers)
    fp_a = sorted(e for e in flagged if e in honest_accounts)
    ever_s = sorted(e for e in ever if e in honest_sellers)
    ever_a = sorted(e for e in ever if e in honest_accounts)
    neg_scores = [peak.get(a, 0.0) for a in sorted(honest_accounts)]

    def detection(cs: set[str], ca: set[str]) -> dict[str, Any]:
        """Seller and account precision/recall/F1 and the ranking of the culprit accounts."""
        tp_s, tp_a = len(cs & flagged.keys()), len(ca & flagged.keys())
        ps, rs, fs = _prf(tp_s, len(fp_s), len(cs) - tp_s)
        pa, ra, fa = _prf(tp_a, len(fp_a), len(ca) - tp_a)
        auc, ap = _rank_metrics([peak.get(a, 0.0) for a in sorted(ca)], neg_scores)
        return {"seller_tp": tp_s, "account_tp": tp_a,
                "seller_precision": round(ps, 4), "seller_recall": round(rs, 4),
                "seller_f1": round(fs, 4) if cs else None,
                "account_precision": round(pa, 4), "account_recall": round(ra, 4),
                "account_f1": round(fa, 4) if ca else None,
                "account_auc": None if auc is None else round(auc, 4),
                "account_ap": None if ap is None else round(ap, 4)}

    alerts_by_time = sorted(((parse_ts(a.ts), a) for a in outs.alerts), key=lambda x: x[0])
    for p in truth["patterns"]:
        cs, ca = set(p["culprit_sellers"]), set(p["culprit_accounts"])
        start, end = parse_ts(p["start"]), parse_ts(p["end"])
        targets = cs | set(p.get("victims", []))
        first = next(((t, a) for t, a in alerts_by_time if t >= start and (
            a.seller_id in targets or ca & set(a.accounts))), None)
        ttd = (first[0] - start) / HOUR_MS if first else None
        report.patterns.append({
            "id": p["id"], "pattern": p["pattern"], "sellers": len(cs), "accounts": len(ca),
            **detection(cs, ca),
            "hours_to_first_alert": None if ttd is None else round(ttd, 2),
            "first_alert": None if first is None else first[1].detector,
            "start": p["start"], "end": p["end"], "duration_h": round((end - start) / 3.6e6, 1),
        })
    # Per pattern type: pooled over instances.
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    culprits_of: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    for p, row in zip(truth["patterns"], report.patterns, strict=True):
        groups[p["pattern"]].append(row)
        culprits_of[p["pattern"]][0].update(p["culprit_sellers"])
        culprits_of[p["pattern"]][1].update(p["culprit_accounts"])
    for name, rows in sorted(groups.items()):
        cs, ca = culprits_of[name]
        ttds = [r["hours_to_first_alert"] for r in rows if r["hours_to_first_alert"] is not None]
        row = detection(cs, ca)
        del row["seller_tp"], row["account_tp"]
        report.by_pattern[name] = {
            "instances": len(rows), "sellers": len(cs), "accounts": len(ca), **row,
            "median_hours_to_first_alert": _median(ttds),
            "detected_instances": len(ttds),
        }
        if ca:
            report.curves[name] = _pr_curve([peak.get(a, 0.0) for a in sorted(ca)], neg_scores)
    family_of = {p["pattern"]: p.get("family", p["pattern"]) for p in truth["patterns"]}
    fam: dict[str, tuple[set[str], set[str], int]] = {}
    for name, (cs, ca) in sorted(culprits_of.items()):
        f = family_of[name]
        s0, a0, n0 = fam.get(f, (set(), set(), 0))
        fam[f] = (s0 | cs, a0 | ca, n0 + len(groups[name]))
    for f, (cs, ca, n) in sorted(fam.items()):
        row = detection(cs, ca)
        del row["seller_tp"], row["account_tp"]
        report.by_family[f] = {"instances": n, "sellers": len(cs), "accounts": len(ca), **row}
    report.victims = {"count": len(victims), "blacklisted": sorted(victims & ever.keys())}
    hn_entities: dict[str, set[str]] = defaultdict(set)
    for h in truth["hard_negatives"]:
        hn_entities[h["kind"]] |= (set(h.get("sellers", [])) | set(h.get("accounts", []))) \
            - culprits
    all_hn = set().union(*hn_entities.values()) if hn_entities else set()
    report.hard_negatives = {
        "entities": len(all_hn),
        "blacklisted": len(all_hn & ever.keys()),
        "share": round(len(all_hn & ever.keys()) / len(all_hn), 4) if all_hn else 0.0,
        "by_kind": {k: {"entities": len(v), "blacklisted": sorted(v & ever.keys())[:20],
                        "listed": len(v & ever.keys())}
                    for k, v in sorted(hn_entities.items())},
    }
    report.overall = {
        "honest_sellers_blacklisted": len(ever_s), "honest_accounts_blacklisted": len(ever_a),
        "honest_sellers_listed_at_end": len(fp_s), "honest_accounts_listed_at_end": len(fp_a),
        "false_positive_examples": (ever_s + ever_a)[:20],
        "alerts": len(outs.alerts), "blacklist_entries": len(outs.blacklist),
        "scores": len(outs.scores), "events_per_s": round(stats.events_per_s),
        "median_hours_to_first_alert": _median([r["hours_to_first_alert"]
                                                for r in report.patterns]),
        "alerts_by_detector": _count(a.detector for a in outs.alerts),
    }
    report.scores = _score_report(outs.scores, truth, flagged)
    if truth.get("labels"):
        report.labels = _label_report(outs.scores, truth["labels"])
    return report


def _median(xs: list[float | None]) -> float | None:
    ys = [x for x in xs if x is not None]
    return round(statistics.median(ys), 2) if ys else None


def _count(xs: Any) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for x in xs:
        out[x] += 1
    return dict(sorted(out.items()))


def _pr_curve(pos: list[float], neg: list[float]) -> tuple[list[float], list[float]]:
    from sklearn.metrics import precision_recall_curve

    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    p, r, _ = precision_recall_curve(y, np.r_[pos, neg])
    return [float(x) for x in r], [float(x) for x in p]


def _drivers(parts: dict[tuple[str, int], dict[str, float]], seller: str,
             pts: list[tuple[int, int]], start: int, low_i: int | None) -> dict[str, float]:
    """The components that fell most from the last score before ``start`` to the lowest one:
    tells a drop caused by the event itself (sales, records) from one its customers' ratings
    caused meanwhile (reviews, complaints)."""
    before_i = max((i for i, (ts, _) in enumerate(pts) if ts < start), default=None)
    if before_i is None or low_i is None:
        return {}
    a, b = parts.get((seller, before_i), {}), parts.get((seller, low_i), {})
    fell = {k: round(b.get(k, 0.0) - a.get(k, 0.0), 1) for k in a.keys() | b.keys()}
    return dict(sorted(((k, v) for k, v in fell.items() if v <= -1), key=lambda kv: kv[1])[:3])


def _score_report(scores: list[Any], truth: dict[str, Any], flagged: dict[str, int]
                  ) -> dict[str, Any]:
    series: dict[str, list[tuple[int, int]]] = defaultdict(list)
    parts: dict[tuple[str, int], dict[str, float]] = {}
    for s in scores:
        series[s.seller_id].append((parse_ts(s.ts), s.score))
        parts[s.seller_id, len(series[s.seller_id]) - 1] = s.components

    def at(seller: str, t: int) -> int | None:
        prev = [sc for ts, sc in series.get(seller, []) if ts <= t]
        return prev[-1] if prev else None

    culprits = []
    for p in truth["patterns"]:
        start = parse_ts(p["start"])
        for seller in p["culprit_sellers"]:
            pts = series.get(seller, [])
            if not pts:
                continue
            culprits.append({"seller": seller, "pattern": p["pattern"],
                             "before": at(seller, start - 1),
                             "peak": max(sc for ts, sc in pts if ts >= start) if any(
                                 ts >= start for ts, _ in pts) else None,
                             "final": pts[-1][1], "flagged": seller in flagged})
    honest = []
    for h in truth["hard_negatives"]:
        start, end = parse_ts(h["start"]), parse_ts(h["end"])
        for seller in h.get("sellers", []):
            before, after = at(seller, start - 1), at(seller, end + 7 * DAY_MS)
            pts = series.get(seller, [])
            during = [i for i, (ts, _) in enumerate(pts) if start <= ts <= end + 7 * DAY_MS]
            low_i = min(during, key=lambda i: pts[i][1], default=None)
            low = None if low_i is None else pts[low_i][1]
            honest.append({"seller": seller, "kind": h["kind"], "before": before,
                           "lowest_during": low, "after": after,
                           "drop": None if before is None or low is None else before - low,
                           "drivers": _drivers(parts, seller, pts, start, low_i)})
    drops = [h["drop"] for h in honest if h["drop"] is not None]
    worst = max((h for h in honest if h["drop"] is not None), key=lambda h: h["drop"], default=None)
    gains = [c["peak"] - c["before"] for c in culprits
             if c["peak"] is not None and c["before"] is not None]
    return {"culprits": culprits, "hard_negative_sellers": honest,
            "max_hard_negative_drop": max(drops) if drops else None,
            "max_hard_negative_drop_seller": worst,
            "median_culprit_gain_before_detection": _median(gains),
            "culprits_final_median": _median([c["final"] for c in culprits])}


def _label_report(scores: list[Any], labels: dict[str, str]) -> dict[str, Any]:
    final: dict[str, int] = {}
    for s in scores:
        final[s.seller_id] = s.score
    pos = [-final[u] for u, lab in labels.items() if lab == "fraudulent" and u in final]
    neg = [-final[u] for u, lab in labels.items() if lab == "benign" and u in final]
    auc, ap = _rank_metrics(pos, neg)
    return {"scored_fraudulent": len(pos), "scored_benign": len(neg),
            "low_score_auc": None if auc is None else round(auc, 4),
            "low_score_ap": None if ap is None else round(ap, 4),
            "citation": "Bitcoin-Alpha (Kumar et al., ICDM 2016); labels from REV2 "
                        "(Kumar et al., WSDM 2018)"}


# --------------------------------------------------------------------------- report files


def _worst(scores: dict[str, Any]) -> str:
    w = scores.get("max_hard_negative_drop_seller")
    if not w or w["drop"] <= 0:
        return ""
    drivers = ", ".join(f"{k} {v:+g}" for k, v in w.get("drivers", {}).items())
    return f" ({w['seller']}, {w['kind']}: {w['before']} → {w['lowest_during']}" + (
        f"; fell most: {drivers})" if drivers else ")")


def _fmt(x: Any) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.3f}"
    return str(x)


def write_report(report: Report, out: Path) -> Path:
    """Markdown + JSON + PNG plots into ``out``; returns the Markdown path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report.to_json(), indent=2))
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, (r, p) in sorted(report.curves.items()):
        ax.plot(r, p, label=f"{name} (AP {_fmt(report.by_pattern[name]['account_ap'])})")
    ax.set_xlabel("recall (culprit accounts)")
    ax.set_ylabel("precision (vs honest accounts)")
    ax.set_title(f"Account suspicion PR curves: {report.scenario}")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(out / "pr_curves.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    rows = [r for r in report.patterns if r["hours_to_first_alert"] is not None]
    ax.barh([r["id"] for r in rows], [r["hours_to_first_alert"] for r in rows])
    ax.axvline(1.0, color="red", linestyle="--", linewidth=1, label="1 h target")
    ax.set_xlabel("hours of event time from pattern start to first alert")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "time_to_detect.png", dpi=110)
    plt.close(fig)

    lines = [f"# Credence evaluation: {report.scenario}", "",
             f"{report.events:,} events replayed in {report.seconds:.1f} s "
             f"({report.overall['events_per_s']:,} events/s). Generated "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
             "## Per pattern", "",
             "| pattern | n | seller P | seller R | seller F1 | account P | account R | "
             "account AP | account AUC | median h to alert |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, m in report.by_pattern.items():
        lines.append(f"| {name} | {m['instances']} | {_fmt(m['seller_precision'])} | "
                     f"{_fmt(m['seller_recall'])} | {_fmt(m['seller_f1'])} | "
                     f"{_fmt(m['account_precision'])} | {_fmt(m['account_recall'])} | "
                     f"{_fmt(m['account_ap'])} | {_fmt(m['account_auc'])} | "
                     f"{_fmt(m['median_hours_to_first_alert'])} |")
    hn = report.hard_negatives
    lines += ["", "## Victims and hard negatives", "",
              f"- victims blacklisted: {len(report.victims['blacklisted'])} of "
              f"{report.victims['count']} {report.victims['blacklisted'] or ''}",
              f"- hard-negative entities blacklisted: {hn['blacklisted']} of {hn['entities']} "
              f"({100 * hn['share']:.2f}%)"]
    for kind, v in hn["by_kind"].items():
        lines.append(f"  - {kind}: {len(v['blacklisted'])} of {v['entities']}")
    o = report.overall
    lines += [f"- honest sellers blacklisted: {o['honest_sellers_blacklisted']}; honest accounts "
              f"blacklisted: {o['honest_accounts_blacklisted']}",
              f"- alerts by detector: {o['alerts_by_detector']}", "",
              "## Credit scores", "",
              f"- median culprit score change from before the pattern to its peak: "
              f"{_fmt(report.scores.get('median_culprit_gain_before_detection'))}",
              f"- median culprit final score: {_fmt(report.scores.get('culprits_final_median'))}",
              f"- largest drop of an honest seller through its own hard-negative event: "
              f"{_fmt(report.scores.get('max_hard_negative_drop'))}{_worst(report.scores)}"]
    if report.labels:
        lines += [f"- ROC AUC of a low score against the fraudulent label: "
                  f"{_fmt(report.labels['low_score_auc'])} ({report.labels['scored_fraudulent']} "
                  f"fraudulent, {report.labels['scored_benign']} benign scored; "
                  f"{report.labels['citation']})"]
    lines += ["", "![PR curves](pr_curves.png)", "", "![time to detect](time_to_detect.png)", ""]
    md = out / "report.md"
    md.write_text("\n".join(lines))
    return md
