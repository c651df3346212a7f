"""`credence.worlds`: drawn worlds evaluated on one or several processes, mean and worst."""

from __future__ import annotations

from dataclasses import replace

from credence.worlds import aggregate, run_world, run_worlds, table


def test_worlds_agree_across_processes_and_the_table_gives_mean_and_worst():
    # One world alone against the same world in a pool of two processes (a world takes ~20 s
    # at the smallest scale; the pool's other world shows each seed draws its own world).
    alone = run_world(3, scale=0.05)
    pooled = run_worlds([3, 4], scale=0.05, jobs=2)
    assert replace(pooled[0], seconds=0) == replace(alone, seconds=0)
    assert pooled[0].world != pooled[1].world
    agg = aggregate(pooled)
    assert agg["worlds"] == 2 and agg["seeds"] == [3, 4]
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
    assert text.startswith("2 drawn worlds (synthetic background), seeds 3-4,")
    assert "| **wash_trading** |" in text
