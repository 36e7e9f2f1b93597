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
                 "doctrines.brinkmanship.tags.srbm", "variables.DPRK.economy.min", "options.dprk_icbm.effects.0.uncertainty",
                 "options.us_push_resolution.effects.0.over", "options.us_sanctions_relief.effects.0.lag"):
        assert not is_per_world(data, path), path
    with pytest.raises(ValueError, match="cannot vary it per world"):
        Engine(Rules(korea, "korea-2019"), runs=2, params={"mechanics.sanctions.lag": np.array([1.0, 2.0])})


def test_a_fork_keeps_its_worlds_values(korea):
    params = {"mechanics.hazard.max": np.array([0.02, 0.08]), "options.dprk_srbm.effects.0.delta": np.array([1.0, 3.0]),
              "doctrines.engagement.weights.talks.progress": np.array([0.5, 1.5]), "variables.tension.baseline": np.array([30.0, 50.0])}
    engine = Engine(Rules(korea, "korea-2019"), seed=SEED, runs=2, record=False, params=params)
    engine.advance(until_turn=3)
    forked = engine.fork(3)
    assert forked.params.hazard["max"].tolist() == [0.02] * 3 + [0.08] * 3
    assert [d.tolist() for d in forked.params.deltas.values()] == [[1.0] * 3 + [3.0] * 3]
    assert forked.params.weights[("engagement", None)]["talks.progress"].tolist() == [0.5] * 3 + [1.5] * 3
    assert forked.baselines[engine.rules.tension].tolist() == [30.0] * 3 + [50.0] * 3


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


# Effects of every kind, by position in their lists (korea-2019): immediate with uncertainty (a
# goal's variable, and tension: the hazard term), lagged and scaled (a sanction of one turn),
# spread over turns, a spread sanction with uncertainty, one that reverts, and those of an inject,
# a calendar window and an event of chance, and a proposal's (what those asked expect of it too)
EFFECTS = {
    "options.dprk_icbm.effects.0.delta": (9.5, 0.0, 3.25),  # DPRK.capability, DPRK's goal; uncertainty 0.5
    "options.dprk_icbm.effects.1.delta": (20.0, -3.0, 7.5),  # tension, uncertainty 0.2
    "options.dprk_srbm.effects.0.delta": (4.5, 0.0, 1.75),  # DPRK.capability, the table, often taken
    "options.unsc_panel_report.effects.1.delta": (-6.5, 0.0, -2.5),  # a sanction, lagged, over one turn
    "options.us_repair_alliances.effects.0.delta": (13.0, -2.0, 6.5),  # spread over 4 turns
    "options.us_push_resolution.effects.0.delta": (-19.0, 0.0, -4.5),  # a sanction over 12 turns, uncertain
    "options.us_deploy_assets.effects.0.delta": (11.0, -3.5, 0.0),  # reverts when its duration ends
    "options.us_offer_summit.effects.1.delta": (40.0, -10.0, 5.0),  # a proposal's, uncertain: when it passes
    "injects.party_plenum.effects.2.delta": (25.0, -5.0, 9.0),  # tension
    "calendar.spring_exercises.effects_start.0.delta": (15.0, -4.0, 6.0),  # tension
    "chance.west_sea_incident.effects.0.delta": (30.0, -7.0, 12.0),  # tension
}


@pytest.fixture(scope="module")
def provocative(korea):
    """korea-2019 with the moratorium lifted and a DPRK that likes ICBM tests: it takes them."""
    return with_values(korea, {"variables.DPRK.moratorium.initial": 0.0, "doctrines.brinkmanship.options": {"dprk_icbm": 6.0}})


def _each_path_is_its_batches(scenario, varied: dict) -> None:
    """Each path varied alone over its values, per world in one batch: each value's worlds play
    the games of a batch of that value (and the values tell the games apart)."""
    data = scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    for path, values in varied.items():
        assert is_per_world(data, path), path
        points = [{path: v} for v in values]
        params = {path: np.repeat(values, RUNS)}
        runs = np.tile(np.arange(RUNS), len(points))
        engine = Engine(Rules(scenario, "korea-2019"), seed=SEED, runs=runs, record=False, params=params).run()
        played = _games(engine)
        assert played["vars"][:RUNS].tobytes() != played["vars"][RUNS:2 * RUNS].tobytes(), path  # the test can tell them apart
        _check(played, points, scenario)


def test_effect_deltas_of_every_kind_per_world_are_their_batches(provocative):
    _each_path_is_its_batches(provocative, EFFECTS)


# A doctrine's plain weights (the preset's, a rule's) and where drifting variables drift to: a
# baseline, or the initial value of a variable without one (its baseline too)
WEIGHTS = {
    "doctrines.engagement.weights.talks.progress": (1.5, 0.0, -0.5),  # ROK's and China's doctrine
    "doctrines.brinkmanship.rules.3.weights.tension": (-1.0, 0.0, 0.8),  # after a launch (set below)
    "variables.tension.baseline": (20.0, 60.0, 45.0),
    "variables.talks.trust.initial": (10.0, 60.0, 35.0),  # drifts, to it (its baseline removed below)
}


@pytest.fixture(scope="module")
def weighed(provocative):
    return with_values(provocative, {"variables.talks.trust.baseline": None, "doctrines.brinkmanship.rules.3.weights": {"tension": -0.3}})


def test_weights_and_baselines_per_world_are_their_batches(weighed):
    _each_path_is_its_batches(weighed, WEIGHTS)


def test_effect_deltas_with_everything_else_per_world(weighed):
    more = {**EFFECTS, **WEIGHTS}
    paths = [*POINTS[0], *more]
    points = [{**pt, **{p: v[k] for p, v in more.items()}} for k, pt in enumerate(POINTS)]
    params = {p: np.repeat([pt[p] for pt in points], RUNS) for p in paths}
    runs = np.tile(np.arange(RUNS), len(points))
    engine = Engine(Rules(weighed, "korea-2019"), seed=SEED, runs=runs, record=False, params=params).run()
    played = _games(engine)
    assert len(set(played["outcome"].tolist())) > 1
    _check(played, points, weighed)


def test_a_goal_change_equal_to_another_in_some_worlds_scores_as_in_its_batch(provocative):
    """A batch finds the gain of equal changes of a goal's variable once, their probabilities
    summed: an ICBM test's +6 capability set to +2 is its failure's +2 and an engine test's.
    The DPRK's scores, not only its games, are its batch's bit for bit."""
    path = "options.dprk_icbm.effects.0.delta"
    values = (2.0, 6.0, 1.0)
    params = {path: np.repeat(values, RUNS)}
    runs = np.tile(np.arange(RUNS), len(values))
    engine = Engine(Rules(provocative, "korea-2019"), seed=SEED, runs=runs, record=False, params=params)
    engine.advance(until_turn=6)
    dprk = engine.rules.actor_index["DPRK"]
    scores = engine.doctrines[dprk].scores(engine.rules, engine.state, 6)
    for k, v in enumerate(values):
        rules = Rules(with_values(provocative, {path: v}), "alone")
        alone = Engine(rules, seed=SEED, runs=RUNS, record=False)
        alone.advance(until_turn=6)
        mine = np.ascontiguousarray(scores[:, k * RUNS:(k + 1) * RUNS])
        assert mine.tobytes() == alone.doctrines[dprk].scores(rules, alone.state, 6).tobytes(), v


def test_an_exploration_varying_effect_deltas_is_one_batch(tmp_path):
    """Effect deltas are per world: a design varying an immediate effect and a spread sanction
    with the hazard is one batch, and every point still plays its own batch's games."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    import sim

    pytest.importorskip("SALib")
    out = tmp_path / "x"
    ranges = {"options.red_test.effects.1.delta": (2.0, 14.0), "options.blue_sanction.effects.0.delta": (-20.0, -2.0),
              "mechanics.hazard.max": (0.01, 0.06)}
    result = sim.explore("tutorial", ranges, method="lhs", points=4, runs_per_point=25, seed=3, out=out, workers=1)
    manifest = (out / "manifest.json").read_text()
    assert '"batches": 1' in manifest and all(f'"{p}"' in manifest.split('"per_world"')[1] for p in ranges)
    runs = pq.read_table(out / "runs.parquet")
    for k, row in enumerate(result.design.to_pylist(), 1):
        values = {p: row[p.replace(".", "_")] for p in ranges}
        alone = sim.batch(sim.load("tutorial").with_values(values), runs=25, seed=3).runs
        played = runs.filter(pc.equal(runs.column("point"), k))
        assert played.drop_columns(["variant", "point"]).equals(alone.drop_columns(["variant"])), k


def test_a_recorded_game_with_effect_deltas_per_world_logs_its_batch(provocative):
    """Recording too: each world's events (what changed, by how much) are its batch's (the order
    of a move's changes follows the other worlds that moved with it: compared as mappings)."""
    import json

    params = {p: np.repeat(v, 10) for p, v in EFFECTS.items()}
    engine = Engine(Rules(provocative, "korea-2019"), seed=SEED, runs=np.tile(np.arange(10), 3), params=params).run()
    for k in range(3):
        alone = Engine(Rules(with_values(provocative, {p: v[k] for p, v in EFFECTS.items()}), "alone"), seed=SEED, runs=10).run()
        for j in range(10):
            mine, theirs = engine.log.for_world(k * 10 + j), alone.log.for_world(j)
            assert json.dumps(mine, default=str, sort_keys=True) == json.dumps(theirs, default=str, sort_keys=True), (k, j)
