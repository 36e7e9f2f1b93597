"""Same scenario and seed, same game: alone, in any batch, at any position in it."""
import numpy as np
import pytest

from sim.engine.rules import Rules
from sim.engine.stepping import Engine
from sim.format.scenario import open_scenario
from sim.play.narrative import game_record


@pytest.fixture(scope="module", params=["korea-2017", "korea-2019", "korea-2022"])
def korea(request):
    """Each crisis: between them they use every part of the situational model (goals, rules,
    the record, the calendar, chance, drafting, several moves a turn)."""
    loaded = open_scenario(request.param)
    return Rules(loaded.scenario, loaded.name)


def events(engine, world=0):
    return game_record(engine, "x", world)["events"]


def test_the_same_seed_gives_an_identical_event_log(korea):
    a = Engine(korea, seed=11).run()
    b = Engine(korea, seed=11).run()
    assert events(a) == events(b)
    assert len(events(a)) > 20


def test_different_seeds_differ(korea):
    logs = [events(Engine(korea, seed=s).run()) for s in range(5)]
    assert len({repr(log) for log in logs}) == 5


def test_run_i_alone_equals_run_i_in_a_batch_of_1000(korea):
    batch = Engine(korea, seed=3, runs=1000).run()
    for i in (0, 1, 517, 999):
        alone = Engine(korea, seed=3, runs=[i]).run()
        assert events(alone) == events(batch, world=i)
        assert np.array_equal(alone.state.vars[0], batch.state.vars[i])
        assert alone.state.outcome[0] == batch.state.outcome[i]


def test_a_batch_split_in_chunks_equals_the_whole(korea):
    whole = Engine(korea, seed=8, runs=300, record=False).run()
    parts = [Engine(korea, seed=8, runs=np.arange(lo, lo + 100), record=False).run() for lo in (0, 100, 200)]
    assert np.array_equal(whole.state.outcome, np.concatenate([p.state.outcome for p in parts]))
    assert np.array_equal(whole.state.counts, np.concatenate([p.state.counts for p in parts]))
    assert np.allclose(whole.state.vars, np.concatenate([p.state.vars for p in parts]))


@pytest.mark.parametrize("name", ["korea-2017", "korea-2019", "korea-2022"])
def test_a_scenario_round_tripped_through_its_json_plays_the_same(name):
    """`ladder show --json` output, and a batch folder's scenario.json, are the same scenario."""
    from sim.format.model import Scenario

    loaded = open_scenario(name)
    again = Scenario.model_validate(loaded.scenario.model_dump(mode="json", by_alias=True))
    first = Engine(Rules(loaded.scenario, name), seed=4, runs=200).run()
    second = Engine(Rules(again, name), seed=4, runs=200).run()
    assert np.array_equal(first.state.counts, second.state.counts)
    assert events(first, world=7) == events(second, world=7)
