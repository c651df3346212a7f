"""Scenario settings: defaults, scaling, `--set` overrides and their errors."""

from __future__ import annotations

import pytest

from producers.scenario import Scenario, ScenarioError
from producers.simulator import simulate


def test_counts_scale_but_never_vanish():
    s = Scenario(scale=0.05)
    assert s.count(s.patterns["wash_ring"]) == 1
    assert Scenario(scale=2).count(Scenario().patterns["wash_ring"]) == 8
    zero = s.with_settings(["wash_ring.count=0"])
    assert zero.count(zero.patterns["wash_ring"]) == 0
    assert Scenario(inject=False).count(Scenario().patterns["brushing"]) == 0


def test_settings_override_counts_intensities_and_fields():
    s = Scenario().with_settings(["wash_ring.count=3", "review_farm.intensity=2",
                                  "flash_sale.count=5", "days=14", "buyers=1234"])
    assert s.patterns["wash_ring"].count == 3
    assert s.patterns["review_farm"].intensity == 2.0
    assert s.negatives["flash_sale"].count == 5
    assert (s.days, s.buyers) == (14, 1234)


@pytest.mark.parametrize("bad, msg", [
    ("wash_ring", "NAME=VALUE"),
    ("nope.count=1", "unknown pattern"),
    ("wash_ring.size=3", "only .count and .intensity"),
    ("wash_ring.count=-1", "greater than or equal"),
    ("review_farm.intensity=x", "intensity"),
    ("colour=red", "unknown scenario setting"),
    ("days=1", "days"),
    ("start=garbage", "start: .*not an ISO 8601 time"),
    ("inject_start=2013-06-01", "inject_start: .*without a zone"),
])
def test_bad_settings_are_one_line_errors(bad, msg):
    with pytest.raises(ScenarioError, match=msg) as e:
        Scenario().with_settings([bad])
    assert "\n" not in str(e.value)


def test_no_inject_gives_background_only():
    sim = simulate(Scenario(scale=0.03, inject=False))
    t = sim.truth
    assert t.patterns == [] and t.hard_negatives == []
    assert t.culprit_sellers == [] and t.culprit_accounts == [] and t.victims == []
    assert len(t.honest_sellers) == t.counts["sellers"]


def test_counts_and_intensity_change_the_volume():
    base = simulate(Scenario(scale=0.03))
    # Counts are per scale 1.0: 100 at scale 0.03 is 3 instances.
    more = simulate(Scenario(scale=0.03).with_settings(["brushing.count=100",
                                                       "brushing.intensity=2"]))
    b = [p for p in base.truth.patterns if p.pattern == "brushing"]
    m = [p for p in more.truth.patterns if p.pattern == "brushing"]
    assert len(b) == 1 and len(m) == 3
    assert sum(len(p.order_ids) for p in m) > 3 * len(b[0].order_ids)
