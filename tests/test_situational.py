"""Doctrines that read the situation (issue 16): values with goals, and rules that add terms in
the worlds where their condition holds. Each test puts different states in the worlds of one
batch and compares what the bot does in each against the documented formula."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.engine.rules import Rules
from sim.engine.stepping import Engine
from sim.format.errors import ScenarioError
from sim.format.model import Goal
from sim.format.scenario import load

DATA = Path(__file__).parent / "data"

# One builder: `up` adds 10 to its capability (0 to 100), `down` takes 10 off; no hazard, no
# escalation, so a score is its values and habits only. VALUES and DOCTRINE are filled in.
BUILDER = """\
schema_version: 1
title: Builder
description: One actor building a capability.
sources: {notes: {title: Notes}}
clock: {turn_days: 7, start: "2020-01-06", horizon: 20}
actors:
  P: {name: Builder, doctrine: builder, values: VALUES}
variables:
  tension: {min: 0, max: 100, initial: 10}
  P.capability: {owner: P, min: 0, max: 100, initial: 0}
  flag: {min: 0, max: 1, initial: 0}
ladder:
  rungs:
    - {id: low, level: -1, label: Low, group: de-escalation}
    - {id: high, level: 1, label: High, group: subcrisis}
options:
  - {id: up, actor: P, label: Build, rung: high, category: military, tags: [build],
     source: {ref: notes, quote: up}, effects: [{var: P.capability, delta: 10}]}
  - {id: down, actor: P, label: Dismantle, rung: low, category: diplomatic,
     source: {ref: notes, quote: down}, effects: [{var: P.capability, delta: -10}]}
doctrines:
  builder: DOCTRINE
outcomes:
  - {id: war, label: War, kind: war}
  - {id: horizon, label: Unresolved, kind: horizon}
mechanics:
  hazard: {max: 0.0}
"""
UP, DOWN, PASS = 0, 1, 2
W = 4000


def builder(tmp_path, values="{}", doctrine="{}") -> Rules:
    text = BUILDER.replace("VALUES", values).replace("DOCTRINE", "{description: Builds., risk_aversion: 0, " + doctrine[1:])
    path = tmp_path / "builder.scenario.yaml"
    path.write_text(text)
    loaded = load(path)
    return Rules(loaded.scenario, loaded.name)


def worlds(rules: Rules, capability, flag=0.0, seed=1):
    """An engine of W worlds at turn 0 with these capabilities and flags (arrays of W, or numbers)."""
    engine = Engine(rules, seed=seed, runs=W, record=False)
    engine.state.vars[:, rules.var_index["P.capability"]] = capability
    engine.state.vars[:, rules.var_index["flag"]] = flag
    return engine


def relative_scores(engine) -> np.ndarray:
    """[up, down] scores less passing's, per world."""
    s = engine.doctrines[0].scores(engine.rules, engine.state, turn=0).astype(float)
    return s[:2] - s[2]


def choices(engine, turn=0) -> np.ndarray:
    available = np.ones((3, engine.state.size), dtype=bool)
    return engine.doctrines[0].choose(engine.rules, engine.state, available, turn)


def softmax(scores, temperature=1.0) -> np.ndarray:
    e = np.exp(np.asarray(scores, dtype=float) / temperature)
    return e / e.sum()


# --- the format ---------------------------------------------------------------------------


def test_a_plain_number_stays_a_weight_and_a_mapping_is_a_goal(tmp_path):
    rules = builder(tmp_path, "{P.capability: 1, tension: {weight: 2, band: [20, 60]}}",
                    "{weights: {P.capability: {weight: 1, target: 50, shape: distance}},"
                    " rules: [{when: flag > 0, temperature: 0.5, tags: {build: 1}}]}")
    values = rules.scenario.actors["P"].values
    assert values["P.capability"] == 1.0 and not isinstance(values["P.capability"], Goal)
    assert values["tension"] == Goal(weight=2, band=[20, 60])
    doctrine = rules.scenario.doctrines["builder"]
    assert doctrine.weights["P.capability"].shape == "distance"
    assert doctrine.rules[0].when == "flag > 0" and doctrine.rules[0].temperature == 0.5


def test_a_bad_goal_or_rule_is_one_located_line(tmp_path):
    with pytest.raises(ScenarioError) as caught:
        builder(tmp_path, "{P.capability: {weight: 1, band: [60, 20]}}")
    path = tmp_path / "builder.scenario.yaml"
    column = path.read_text().splitlines()[6].index("[60") + 1
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:7:{column}: actors.P.values.P.capability.band: the band's low 60 is above its high 20"
    ]
    with pytest.raises(ScenarioError) as caught:
        builder(tmp_path, doctrine="{rules: [{when: flag > 0, tags: {biuld: 1}}]}")
    (problem,) = caught.value.problems
    assert "doctrines.builder.rules[0].tags: unknown option tag 'biuld'" in str(problem)


# --- goals --------------------------------------------------------------------------------


def test_a_saturating_value_stops_the_move_once_the_target_is_reached(tmp_path):
    rules = builder(tmp_path, "{P.capability: {weight: 4, target: 50, shape: saturate}}")
    capability = np.where(np.arange(W) % 2, 20.0, 70.0)  # half below the target, half above
    engine = worlds(rules, capability)
    # Below: up gains a tenth of the range (4), down loses it; above: neither changes anything.
    below, above = capability < 50, capability > 50
    assert np.allclose(relative_scores(engine)[:, below], [[4], [-4]], atol=1e-5)
    assert np.allclose(relative_scores(engine)[:, above], 0, atol=1e-5)
    picked = choices(engine)
    share_below, share_above = (picked[below] == UP).mean(), (picked[above] == UP).mean()
    # Expected 0.98 and 1/3 (a plain weight would keep 0.98 above too); 2,000 worlds each: sd about 0.01.
    assert share_below == pytest.approx(softmax([4, -4, 0])[0], abs=0.03)
    assert share_above == pytest.approx(1 / 3, abs=0.03)


def test_a_saturating_value_counts_a_move_only_up_to_the_target(tmp_path):
    rules = builder(tmp_path, "{P.capability: {weight: 4, target: 50, shape: saturate}}", "{values: 0.5}")
    s = relative_scores(worlds(rules, 45.0))  # up: 45 -> 55 gains half a tenth up to 50; times 0.5
    assert s[:, 0] == pytest.approx([1.0, -2.0], abs=1e-5)


def test_a_game_stops_building_near_a_saturating_target(tmp_path):
    plain = Engine(builder(tmp_path, "{P.capability: 4}", "{pass: 1}"), seed=3, runs=2000, record=False).run()
    goal = builder(tmp_path, "{P.capability: {weight: 4, target: 50, shape: saturate}}", "{pass: 1}")
    saturated = Engine(goal, seed=3, runs=2000, record=False).run()
    cap = goal.var_index["P.capability"]
    # A plain weight builds to the top; a goal reaches 50 (up scores 3 above passing until then)
    # and then builds only by chance (up 1 below passing, down costless only above 50).
    assert np.median(plain.state.vars[:, cap]) == 100
    assert (saturated.state.vars[:, cap] >= 50).mean() > 0.95
    assert saturated.state.vars[:, cap].mean() < 80


def test_a_band_costs_nothing_inside_and_in_proportion_outside(tmp_path):
    rules = builder(tmp_path, "{P.capability: {weight: 2, band: [40, 60]}}")
    capability = np.resize([20.0, 50.0, 80.0, 35.0], W)
    s = relative_scores(worlds(rules, capability))
    expected = {20.0: [2, -2], 50.0: [0, 0], 80.0: [-2, 2], 35.0: [1, -2]}  # 35 -> 45: half a tenth outside, then inside
    for x, e in expected.items():
        assert np.allclose(s[:, capability == x], np.array(e)[:, None], atol=1e-5), x


def test_a_distance_weight_grows_with_the_distance_from_the_target(tmp_path):
    rules = builder(tmp_path, doctrine="{weights: {P.capability: {weight: 1, target: 50, shape: distance}}}")
    capability = np.resize([20.0, 50.0, 95.0], W)
    s = relative_scores(worlds(rules, capability))
    # -(z - 5)^2 / 2 in tenths: from 3 tenths below, a tenth closer gains 2.5; from 95, up stops at 100.
    expected = {20.0: [2.5, -3.5], 50.0: [-0.5, -0.5], 95.0: [-0.5 * (5**2 - 4.5**2), 0.5 * (4.5**2 - 3.5**2)]}
    for x, e in expected.items():
        assert np.allclose(s[:, capability == x], np.array(e)[:, None], atol=1e-5), x


# --- rules --------------------------------------------------------------------------------


def test_a_rule_adds_its_terms_only_where_its_condition_holds(tmp_path):
    rules = builder(tmp_path, "{P.capability: 1}", "{rules: [{when: flag > 0.5, tags: {build: 3}, pass: -1}]}")
    flag = (np.arange(W) % 2).astype(float)
    engine = worlds(rules, 50.0, flag)
    s = relative_scores(engine)
    on, off = flag == 1, flag == 0
    assert np.allclose(s[:, off], [[1], [-1]], atol=1e-5)  # the actor's values only
    assert np.allclose(s[:, on], [[1 + 3 + 1], [-1 + 1]], atol=1e-5)  # the bonus, and passing lowered by 1
    picked = choices(engine)
    assert (picked[off] == UP).mean() == pytest.approx(softmax([1, -1, 0])[0], abs=0.03)
    assert (picked[on] == UP).mean() == pytest.approx(softmax([5, 0, 0])[0], abs=0.03)


def test_a_rule_holding_nowhere_changes_nothing(tmp_path):
    plain = Engine(builder(tmp_path, "{P.capability: 1}"), seed=5, runs=500, record=False).run()
    ruled = builder(tmp_path, "{P.capability: 1}", "{rules: [{when: flag > 0.5, escalation: 5, temperature: 0.1}]}")
    other = Engine(ruled, seed=5, runs=500, record=False).run()
    assert np.array_equal(plain.state.counts, other.state.counts)


def test_a_rules_temperature_changes_predictability_only_where_it_holds_and_the_later_wins(tmp_path):
    rules = builder(tmp_path, doctrine="{options: {up: 1}, rules: [{when: turn >= 0, temperature: 5},"
                    " {when: flag > 0.5, temperature: 0.2}]}")
    flag = (np.arange(W) % 2).astype(float)
    picked = choices(worlds(rules, 50.0, flag))
    on, off = flag == 1, flag == 0
    # Scores are 1, 0, 0 everywhere. Where the flag is set the later rule's 0.2 applies (0.99 up);
    # elsewhere the first rule's 5 (0.38 up); the doctrine's own 1 would give 0.58.
    assert (picked[on] == UP).mean() == pytest.approx(softmax([1, 0, 0], 0.2)[0], abs=0.03)
    assert (picked[off] == UP).mean() == pytest.approx(softmax([1, 0, 0], 5)[0], abs=0.03)


def test_after_red_line_is_shorthand_for_a_rule_on_the_actors_red_lines(tmp_path):
    text = (DATA / "mechanics.scenario.yaml").read_text()
    shorthand = "    after_red_line: {escalation: 6}"
    explicit = text.replace(shorthand, "    rules: [{when: redline.test_line, escalation: 6}]")
    without = text.replace(shorthand, "")
    games = []
    for i, variant in enumerate((text, explicit, without)):
        path = tmp_path / f"v{i}.scenario.yaml"
        path.write_text(variant)
        loaded = load(path)
        rules = Rules(loaded.scenario, loaded.name)
        games.append(Engine(rules, seed=11, runs=1000, record=False, doctrines={"A": "redline-responder"}).run().state)
    a, b, c = games
    assert a.red_line.any()  # the line is crossed in some games, so the terms are at work
    for name in ("counts", "vars", "outcome", "end_turn", "peak"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert not np.array_equal(a.counts, c.counts)  # and they matter


def test_a_doctrine_without_rules_dumps_as_before(tmp_path):
    """The scenario's digest is its dump: one without rules keeps the digest it had before rules
    existed, so its saves and batch folders still resume."""
    plain = builder(tmp_path).scenario.doctrines["builder"]
    assert "rules" not in plain.model_dump()
    ruled = builder(tmp_path, doctrine="{rules: [{when: flag > 0, pass: 1}]}").scenario.doctrines["builder"]
    assert ruled.model_dump(by_alias=True, exclude_none=True)["rules"] == [{"when": "flag > 0", "pass": 1.0, "weights": {},
                                                                          "categories": {}, "tags": {}, "options": {}}]


def test_a_rule_reading_the_record_holds_after_the_move_it_counts(tmp_path):
    """A rule's condition may read count(...) and since(...): the record keeps what it reads,
    whichever preset plays (compiled with the scenario's other expressions)."""
    rules = builder(tmp_path, doctrine="{rules: [{when: 'count(build, 2) > 0', options: {up: -20}}]}")
    engine = worlds(rules, capability=0.0)
    before = relative_scores(engine)
    engine.state.memory.record(np.zeros(W // 2, dtype=int) + rules.option_index["up"], np.arange(W // 2), 0)
    after = relative_scores(engine)
    assert np.allclose(after[0, : W // 2], before[0, : W // 2] - 20)  # built this turn: the rule holds
    assert np.allclose(after[0, W // 2 :], before[0, W // 2 :])  # never built: it does not
