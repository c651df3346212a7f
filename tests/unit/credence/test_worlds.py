"""`credence.worlds`: drawn worlds evaluated on one or several processes, mean and worst."""

from __future__ import annotations

from dataclasses import replace

from credence.worlds import aggregate, run_world, run_worlds, table
from producers.scenario import Scenario


def test_worlds_agree_across_processes_and_the_table_gives_mean_and_worst():
    # A world run alone and the same world run in a pool's process (one each: a world's cost
    # is in its days more than its scale; seed 9 draws 18 days, 11 s, seed 3 drew 32 days, 30 s,
    # and every family). Each seed draws its own world.
    alone = run_world(9, scale=0.05)
    (in_pool,) = run_worlds([9], scale=0.05, jobs=2)
    assert replace(in_pool, seconds=0) == replace(alone, seconds=0)
    assert Scenario.drawn(9, scale=0.05) != Scenario.drawn(10, scale=0.05)
    # A second world for the aggregate: the first's figures, each F1 lower, one more listing.
    other = replace(alone, seed=10, events=alone.events + 7, families={
        fam: {**row, "seller_f1": None if row["seller_f1"] is None else row["seller_f1"] / 2}
        for fam, row in alone.families.items()},
        honest={**alone.honest, "sellers_listed": alone.honest["sellers_listed"] + 1})
    pooled = [in_pool, other]
    agg = aggregate(pooled)
    assert agg["worlds"] == 2 and agg["seeds"] == [9, 10]
    assert agg["events"] == sum(r.events for r in pooled)
    for fam, row in agg["families"].items():
        f1s = [r.families[fam]["seller_f1"] for r in pooled
               if fam in r.families and r.families[fam]["seller_f1"] is not None]
        if f1s:
            assert row["seller_f1_worst"] == min(f1s)
            assert row["seller_f1_worst"] <= row["seller_f1_mean"] <= max(f1s)
    assert agg["honest_sellers_listed"]["worst_world"] == max(
        r.honest["sellers_listed"] for r in pooled)
    text = table(agg, "synthetic")
    assert text.startswith("2 drawn worlds (synthetic background), seeds 9-10,")
    assert "| **wash_trading** |" in text
