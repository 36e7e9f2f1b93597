"""Per-world parameters: a world given a design point's values plays exactly the game a separate
batch of that point (made with `with_values`) plays, with the same seed and run."""
import numpy as np
import pytest

from sim.engine.params import is_per_world
from sim.engine.rules import Rules
from sim.engine.stepping import Engine
from sim.format.scenario import open_scenario
from sim.format.values import with_values

RUNS = 40
SEED = 7

# korea-2019's DPRK plays brinkmanship (six rules, goals), the US strategic-patience; the design
# moves every kind of number the engine varies per world, two points moving each to 0 somewhere
POINTS = [
    {"mechanics.hazard.midpoint": 80.0, "mechanics.hazard.steepness": 0.2, "mechanics.hazard.max": 0.06,
     "doctrines.brinkmanship.temperature": 0.7, "doctrines.brinkmanship.escalation": 1.5,
     "doctrines.brinkmanship.reciprocity": 0.3, "doctrines.brinkmanship.risk_aversion": 0.0,
     "doctrines.brinkmanship.values": 1.3, "doctrines.strategic-patience.pass": 2.5,
     "actors.US.values.US.credibility": 1.4, "variables.tension.initial": 70.0, "options.dprk_icbm.success": 0.4},
    {"mechanics.hazard.midpoint": 95.0, "mechanics.hazard.steepness": 0.1, "mechanics.hazard.max": 0.02,
     "doctrines.brinkmanship.temperature": 1.6, "doctrines.brinkmanship.escalation": -0.5,
     "doctrines.brinkmanship.reciprocity": 2.0, "doctrines.brinkmanship.risk_aversion": 1.0,
     "doctrines.brinkmanship.values": 0.0, "doctrines.strategic-patience.pass": 5.0,
     "actors.US.values.US.credibility": 0.0, "variables.tension.initial": 40.0, "options.dprk_icbm.success": 1.0},
    {"mechanics.hazard.midpoint": 88.0, "mechanics.hazard.steepness": 0.15, "mechanics.hazard.max": 0.04,
     "doctrines.brinkmanship.temperature": 1.0, "doctrines.brinkmanship.escalation": 0.5,
     "doctrines.brinkmanship.reciprocity": 0.0, "doctrines.brinkmanship.risk_aversion": 3.0,
     "doctrines.brinkmanship.values": 1.0, "doctrines.strategic-patience.pass": 4.0,
     "actors.US.values.US.credibility": 0.8, "variables.tension.initial": 55.0, "options.dprk_icbm.success": 0.8},
]


def _games(engine: Engine) -> dict:
    st = engine.state
    return {"outcome": st.outcome, "end_turn": st.end_turn, "cause": st.cause, "peak": st.peak, "vars": st.vars,
            "counts": st.counts, "tension": st.tension_history.T}


def _alone(model, values: dict) -> dict:
    rules = Rules(with_values(model, values), "alone")
    return _games(Engine(rules, seed=SEED, runs=RUNS, record=False).run())


def _check(played: dict, points: list[dict], model) -> None:
    for k, values in enumerate(points):
        alone = _alone(model, values)
        for name, array in played.items():
            mine = array[k * RUNS:(k + 1) * RUNS]
            assert mine.tobytes() == np.ascontiguousarray(alone[name]).tobytes(), (k, name)


@pytest.fixture(scope="module")
def korea():
    return open_scenario("korea-2019").scenario


def test_worlds_with_per_world_values_play_as_separate_batches(korea):
    paths = list(POINTS[0])
    data = korea.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert all(is_per_world(data, p) for p in paths)
    params = {p: np.repeat([pt[p] for pt in POINTS], RUNS) for p in paths}
    runs = np.tile(np.arange(RUNS), len(POINTS))
    engine = Engine(Rules(korea, "korea-2019"), seed=SEED, runs=runs, record=False, params=params).run()
    played = _games(engine)
    assert len(set(played["outcome"].tolist())) > 1  # the points play differently: the test can tell them apart
    _check(played, POINTS, korea)


def test_one_path_per_world_is_the_same_as_its_batch(korea):
    """Each kind on its own, the rest at the scenario's values (no other number masks a mistake)."""
    for path in POINTS[0]:
        points = [{path: pt[path]} for pt in POINTS[:2]]
        params = {path: np.repeat([pt[path] for pt in points], RUNS)}
        runs = np.tile(np.arange(RUNS), len(points))
        engine = Engine(Rules(korea, "korea-2019"), seed=SEED, runs=runs, record=False, params=params).run()
        _check(_games(engine), points, korea)


def test_what_shapes_the_rules_is_not_per_world(korea):
    data = korea.model_dump(mode="json", by_alias=True, exclude_none=True)
    for path in ("mechanics.sanctions.lag", "actors.DPRK.doctrine", "actors.DPRK.values.DPRK.capability.weight",
                 "doctrines.brinkmanship.tags.srbm", "variables.DPRK.economy.min"):
        assert not is_per_world(data, path), path
    with pytest.raises(ValueError, match="cannot vary it per world"):
        Engine(Rules(korea, "korea-2019"), runs=2, params={"mechanics.sanctions.lag": np.array([1.0, 2.0])})


def test_a_fork_keeps_its_worlds_values(korea):
    params = {"mechanics.hazard.max": np.array([0.02, 0.08])}
    engine = Engine(Rules(korea, "korea-2019"), seed=SEED, runs=2, record=False, params=params)
    engine.advance(until_turn=3)
    forked = engine.fork(3)
    assert forked.params.hazard["max"].tolist() == [0.02] * 3 + [0.08] * 3


def test_an_exploration_groups_what_the_engine_cannot_vary_per_world(tmp_path):
    """`ladder.cooling` shapes no array the engine varies per world: the points are grouped by
    it, each group one batch with the hazard per world, and every point still plays its batch."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    import sim

    pytest.importorskip("SALib")
    out = tmp_path / "x"
    result = sim.explore("tutorial", {"mechanics.hazard.max": (0.01, 0.06)}, method="lhs", points=4, runs_per_point=25,
                         seed=3, levers={"ladder.cooling": [0.5, 1.5]}, out=out, workers=1)
    manifest = (out / "manifest.json").read_text()
    assert '"per_world": [\n    "mechanics.hazard.max"\n  ]' in manifest and '"batches": 2' in manifest
    runs = pq.read_table(out / "runs.parquet")
    for k, row in enumerate(result.design.to_pylist(), 1):
        values = {"mechanics.hazard.max": row["mechanics_hazard_max"], "ladder.cooling": row["ladder_cooling"]}
        alone = sim.batch(sim.load("tutorial").with_values(values), runs=25, seed=3).runs
        played = runs.filter(pc.equal(runs.column("point"), k))
        assert played.drop_columns(["variant", "point"]).equals(alone.drop_columns(["variant"])), k
