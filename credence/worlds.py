"""`credence eval --worlds N`: detection measured over many drawn worlds, mean and worst.

One simulated market says little about the next one (issue 10: F1 1.000 on the project's own
simulator, 0.63 on a market from another generator). So each seed draws a whole world
(`producers.scenario.Scenario.drawn`: market shape, which fields the platform sends, counts of
patterns and hard negatives, and every instance's adversary knobs), simulates it, replays it
through the engine and scores it (`credence.evaluation.evaluate`). The table gives, per pattern,
per family and per hard-negative kind, the mean over the worlds and the *worst* world.

Seeds used while choosing thresholds must not be the seeds reported: the README names both.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import orjson

__all__ = ["WorldResult", "run_world", "run_worlds", "aggregate", "table"]


@dataclass
class WorldResult:
    seed: int
    background: str
    events: int
    seconds: float
    world: dict[str, Any]
    patterns: dict[str, dict[str, Any]] = field(default_factory=dict)
    families: dict[str, dict[str, Any]] = field(default_factory=dict)
    negatives: dict[str, dict[str, Any]] = field(default_factory=dict)
    victims: dict[str, Any] = field(default_factory=dict)
    honest: dict[str, Any] = field(default_factory=dict)
    missed: list[str] = field(default_factory=list)  # culprit sellers not listed at the end


def _keep(m: dict[str, Any]) -> dict[str, Any]:
    keys = ("instances", "sellers", "accounts", "seller_precision", "seller_recall", "seller_f1",
            "account_ap", "account_auc")
    return {k: m.get(k) for k in keys}


def run_world(seed: int, scale: float = 1.0, background: str = "synthetic",
              keep: Path | None = None, dataset: Path | None = None) -> WorldResult:
    """Draw, simulate, replay and score one world."""
    from config.settings import load
    from credence.evaluation import evaluate
    from producers.scenario import Scenario
    from producers.simulator import simulate, write

    t0 = time.perf_counter()
    scenario = Scenario.drawn(seed, scale=scale, background=background)  # type: ignore[arg-type]
    sim = simulate(scenario, dataset=dataset)
    with tempfile.TemporaryDirectory(prefix="credence-world-") as tmp:
        where = keep / f"{background}-{seed}" if keep is not None else Path(tmp)
        events, truth = write(sim, where / "input")
        rep = evaluate(load(), events, truth, scenario=f"{background} world {seed}",
                       out_dir=where / "replay" if keep is not None else None)
    world, market = sim.truth.world, sim.truth.world.get("market", {})
    missed = [row["id"] for row in rep.patterns if row["seller_tp"] < row["sellers"]]
    o = rep.overall
    return WorldResult(
        seed=seed, background=background, events=rep.events,
        seconds=round(time.perf_counter() - t0, 1),
        world={"sellers": world.get("sellers"), "days": world.get("days"),
               **{k: market.get(k) for k in ("identifiers", "registration", "texts",
                                             "popularity_alpha")}},
        patterns={k: _keep(v) for k, v in rep.by_pattern.items()},
        families={k: _keep(v) for k, v in rep.by_family.items()},
        negatives={k: {"entities": v["entities"], "listed": v["listed"],
                       "examples": v["blacklisted"][:5]}
                   for k, v in rep.hard_negatives["by_kind"].items()},
        victims={"count": rep.victims["count"], "listed": len(rep.victims["blacklisted"])},
        honest={"sellers_listed": o["honest_sellers_blacklisted"],
                "accounts_listed": o["honest_accounts_blacklisted"],
                "examples": o["false_positive_examples"][:10]},
        missed=missed)


def _one(args: tuple[int, float, str, Path | None, Path | None]) -> WorldResult:
    return run_world(*args)


def run_worlds(seeds: Iterable[int], scale: float = 1.0, background: str = "synthetic",
               jobs: int = 2, keep: Path | None = None, dataset: Path | None = None,
               echo: Callable[[str], None] | None = None) -> list[WorldResult]:
    """Run the worlds of ``seeds`` on ``jobs`` processes, in seed order."""
    todo = [(s, scale, background, keep, dataset) for s in seeds]
    out: list[WorldResult] = []

    def collect(results: Iterable[WorldResult]) -> list[WorldResult]:
        for r in results:
            out.append(r)
            if echo:
                echo(_progress(r))
        return out

    if jobs <= 1:
        return collect(map(_one, todo))
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("fork")) as pool:
        return collect(pool.map(_one, todo))


def _progress(r: WorldResult) -> str:
    fams = " ".join(f"{k}={_f(v['seller_f1'])}" for k, v in sorted(r.families.items()))
    neg = sum(v["listed"] for v in r.negatives.values())
    return (f"world {r.seed}: {r.events:,} events, {r.seconds:.0f} s; F1 {fams}; honest "
            f"sellers listed {r.honest['sellers_listed']}, hard negatives {neg}, victims "
            f"{r.victims['listed']}" + (f"; missed {', '.join(r.missed)}" if r.missed else ""))


def _f(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def _stats(xs: list[float | None], worst: Callable[[list[float]], float] = min
           ) -> tuple[float | None, float | None, int]:
    ys = [x for x in xs if x is not None]
    if not ys:
        return None, None, 0
    return round(statistics.fmean(ys), 4), round(worst(ys), 4), len(ys)


def aggregate(results: list[WorldResult]) -> dict[str, Any]:
    """Mean and worst world of every figure (worst: lowest F1/AP, most entities listed)."""
    def rows(attr: str) -> dict[str, dict[str, Any]]:
        names = sorted({k for r in results for k in getattr(r, attr)})
        out = {}
        for n in names:
            ms = [getattr(r, attr)[n] for r in results if n in getattr(r, attr)]
            f1 = _stats([m["seller_f1"] for m in ms])
            ap = _stats([m["account_ap"] for m in ms])
            out[n] = {"worlds": len(ms), "instances": sum(m["instances"] for m in ms),
                      "seller_f1_mean": f1[0], "seller_f1_worst": f1[1],
                      "account_ap_mean": ap[0], "account_ap_worst": ap[1]}
        return out

    def listed(counts: list[int]) -> tuple[int, int]:
        """(in all worlds, in the worst world)."""
        return sum(counts), max(counts, default=0)

    negatives: dict[str, dict[str, int]] = {}
    for k in sorted({k for r in results for k in r.negatives}):
        per = [r.negatives[k] for r in results if k in r.negatives]
        total, worst = listed([x["listed"] for x in per])
        negatives[k] = {"worlds": len(per), "entities": sum(x["entities"] for x in per),
                        "listed": total, "worst_world": worst}
    victims = listed([r.victims["listed"] for r in results])
    sellers = listed([r.honest["sellers_listed"] for r in results])
    accounts = listed([r.honest["accounts_listed"] for r in results])
    return {
        "worlds": len(results), "seeds": [r.seed for r in results],
        "events": sum(r.events for r in results),
        "patterns": rows("patterns"), "families": rows("families"), "negatives": negatives,
        "victims": {"count": sum(r.victims["count"] for r in results),
                    "listed": victims[0], "worst_world": victims[1]},
        "honest_sellers_listed": {"total": sellers[0], "worst_world": sellers[1]},
        "honest_accounts_listed": {"total": accounts[0], "worst_world": accounts[1]},
    }


def table(agg: dict[str, Any], background: str) -> str:
    """The Markdown tables of an aggregate."""
    seeds = agg["seeds"]
    span = f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) \
        else ", ".join(map(str, seeds))
    lines = [f"{agg['worlds']} drawn worlds ({background} background), seeds {span}, "
             f"{agg['events']:,} events.", "",
             "| family / pattern | worlds | instances | seller F1 mean | seller F1 worst | "
             "account AP mean | account AP worst |", "|---|---|---|---|---|---|---|"]
    for group in ("families", "patterns"):
        for n, m in agg[group].items():
            name = f"**{n}**" if group == "families" else n
            lines.append(f"| {name} | {m['worlds']} | {m['instances']} | "
                         f"{_f(m['seller_f1_mean'])} | {_f(m['seller_f1_worst'])} | "
                         f"{_f(m['account_ap_mean'])} | {_f(m['account_ap_worst'])} |")
    lines += ["", "| listed (ever, automatically) | entities | listed | worst world |",
              "|---|---|---|---|"]
    v = agg["victims"]
    lines.append(f"| victims of review bombing | {v['count']} | {v['listed']} | "
                 f"{v['worst_world']} |")
    for k, m in agg["negatives"].items():
        lines.append(f"| hard negative: {k} | {m['entities']} | {m['listed']} | "
                     f"{m['worst_world']} |")
    hs, ha = agg["honest_sellers_listed"], agg["honest_accounts_listed"]
    lines.append(f"| honest sellers (any) | — | {hs['total']} | {hs['worst_world']} |")
    lines.append(f"| honest accounts (any) | — | {ha['total']} | {ha['worst_world']} |")
    return "\n".join(lines)


def dump(results: list[WorldResult], agg: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps({"aggregate": agg, "worlds": [vars(r) for r in results]},
                                  option=orjson.OPT_INDENT_2))
