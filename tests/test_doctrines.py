"""Doctrines behave as named, measured over many games (common random numbers: the same seeds)."""
import numpy as np
import pytest

from sim.engine.rules import Rules
from sim.engine.stepping import Engine
from sim.format.scenario import open_scenario

RUNS = 1000


@pytest.fixture(scope="module")
def korea():
    loaded = open_scenario("korea-2019")
    return Rules(loaded.scenario, loaded.name)


def mean_peak(rules, actor, doctrine):
    engine = Engine(rules, seed=7, runs=RUNS, record=False, doctrines={actor: doctrine}).run()
    return engine.state.peak[:, rules.actor_index[actor]].mean()


@pytest.mark.parametrize("actor", ["DPRK", "US"])
def test_a_hawk_climbs_higher_than_a_dove(korea, actor):
    # Over 1,000 games the standard error of this difference is about 0.05 rung; a model whose
    # doctrines did not matter would show no gap at all.
    assert mean_peak(korea, actor, "hawk") > mean_peak(korea, actor, "dove") + 1.0


def test_the_doctrine_in_the_file_is_the_default_and_can_be_overridden(korea):
    default = Engine(korea, seed=1, runs=300, record=False).run()
    named = Engine(korea, seed=1, runs=300, record=False, doctrines={"US": korea.scenario.actors["US"].doctrine}).run()
    other = Engine(korea, seed=1, runs=300, record=False, doctrines={"US": "hawk"}).run()
    assert np.array_equal(default.state.counts, named.state.counts)
    assert not np.array_equal(default.state.counts, other.state.counts)
