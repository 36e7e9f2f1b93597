"""The bundled crises read the situation (issue 16), measured as the record describes it
(`shared/data/calibration.md`, "Patterns in the record"), over 2,000 games of each crisis:

- talks and provocations move inversely: the DPRK tests less in the weeks talks are open;
- provocations follow provocations: a test in the last two weeks makes another likelier;
- a programme that has what it needs stops testing: the DPRK tests less once its capability is
  at the goal its values give it.

Each crisis is played turn by turn with its default doctrines, but for the US and ROK playing
`engagement`, so that talks open often enough to be measured (in korea-2022 they almost never
do otherwise). A test is a move tagged `launch` or `nuclear-test`. The margins are several
standard errors wide; the model before situational doctrines failed every one of them (the
rates while talks were open and closed were equal, and a recent test made another *less* likely).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from sim.engine.rules import Rules
from sim.engine.stepping import Engine
from sim.format.model import Goal
from sim.format.scenario import open_scenario

CRISES = ["korea-2017", "korea-2019", "korea-2022"]
RUNS = 2000
TESTS = {"launch", "nuclear-test"}


@pytest.fixture(scope="module", params=CRISES)
def weeks(request) -> dict:
    """Per turn and game: the DPRK's tests, whether talks were open as the turn began, its
    capability then, and whether the game was still being played."""
    loaded = open_scenario(request.param)
    rules = Rules(loaded.scenario, loaded.name)
    engine = Engine(rules, seed=21, runs=RUNS, record=False, doctrines={"US": "engagement", "ROK": "engagement"})
    tests = [i for i, o in enumerate(rules.options) if o.actor == "DPRK" and TESTS & set(o.tags)]
    talks, capability = rules.var_index["talks.open"], rules.var_index["DPRK.capability"]
    H = rules.horizon
    out = {name: np.zeros((H, RUNS)) for name in ("tests", "open", "capability", "alive")}
    before = engine.state.counts[:, tests].sum(axis=1)
    for turn in range(H):
        st = engine.state
        out["open"][turn] = st.vars[:, talks] > 0.5
        out["capability"][turn] = st.vars[:, capability]
        out["alive"][turn] = st.active
        engine.advance(until_turn=turn + 1)
        now = engine.state.counts[:, tests].sum(axis=1)
        out["tests"][turn] = now - before
        before = now
    out["alive"] = out["alive"] > 0
    out["rules"] = rules
    return out


def compare(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Means of two samples of weeks and the z of their difference (a - b)."""
    ma, mb = a.mean(), b.mean()
    se = math.sqrt(a.var() / len(a) + b.var() / len(b))
    return ma, mb, (ma - mb) / se if se else 0.0


def test_the_dprk_tests_less_while_talks_are_open(weeks):
    alive, open_ = weeks["alive"], weeks["open"] > 0
    during, outside = weeks["tests"][alive & open_], weeks["tests"][alive & ~open_]
    assert len(during) >= 2000, f"talks open in only {len(during)} game-weeks: too few to measure"
    rate_open, rate_closed, z = compare(during, outside)
    assert rate_open <= 0.6 * rate_closed and z < -4, (rate_open, rate_closed, z)


def test_a_test_makes_another_likelier_in_the_next_two_weeks(weeks):
    tested = weeks["tests"] > 0
    recent = np.zeros_like(tested)
    recent[1:] |= tested[:-1]
    recent[2:] |= tested[:-2]
    counted = weeks["alive"].copy()
    counted[:2] = False  # no two weeks behind them yet
    after, otherwise, z = compare(tested[counted & recent].astype(float), tested[counted & ~recent].astype(float))
    assert after >= 1.2 * otherwise and z > 4, (after, otherwise, z)


def test_the_dprk_tests_less_once_its_capability_goal_is_met(weeks):
    rules = weeks["rules"]
    goal = rules.scenario.actors["DPRK"].values.get("DPRK.capability")
    assert isinstance(goal, Goal) and goal.shape == "saturate", "the DPRK's capability has no goal"
    alive, reached = weeks["alive"], weeks["capability"] >= goal.target
    at_goal, below = weeks["tests"][alive & reached], weeks["tests"][alive & ~reached]
    assert len(at_goal) >= 2000 and len(below) >= 2000, (len(at_goal), len(below))
    rate_at, rate_below, z = compare(at_goal, below)
    assert rate_at <= 0.7 * rate_below and z < -4, (rate_at, rate_below, z)
