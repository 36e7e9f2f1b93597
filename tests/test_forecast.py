"""The forecast of a move: the engine's own rollouts, summed up; cheap to fork, cancellable."""
import json

import pytest
from conftest import DATA

from sim.cli import main
from sim.engine.rules import Rules
from sim.engine.stepping import Engine
from sim.format.scenario import open_scenario
from sim.play.forecast import Forecast, differences, forecast, prepare
from sim.play.narrative import game_record


def first_open(engine: Engine, actor: str) -> str | None:
    """A simple human: the first of its moves open now."""
    return next((o for o, why in engine.why_not(actor) if why is None), None)


def korea_at(turn: int, **doctrines: str) -> Engine:
    """korea-2019 with the US played by a person taking the first open move, at its decision of `turn`.

    The US bot of the rollouts plays engagement, so that deals happen within the year; the other
    bots play `doctrines` (by default, their own).
    """
    loaded = open_scenario("korea-2019")
    doctrines = {"US": "engagement", **doctrines}
    engine = Engine(Rules(loaded.scenario, loaded.name), seed=0, humans=("US",), doctrines=doctrines)
    while engine.advance().turn < turn:
        engine.submit("US", first_open(engine, "US"))
    return engine


@pytest.fixture
def talks(mechanics) -> Engine:
    """The mechanics bench at A's first decision, with B a dove who takes talks when offered."""
    engine = Engine(mechanics, seed=3, humans=("A",), doctrines={"B": "dove"})
    engine.advance()
    return engine


@pytest.mark.parametrize("outcome, doctrines", [("deal", {}), ("war", {"DPRK": "hawk"})])
def test_the_figures_are_those_of_the_engines_own_rollouts(outcome, doctrines):
    engine = korea_at(4, **doctrines)
    rules, turn = engine.rules, engine.waiting.turn
    by_hand = engine.fork(1000, force={"US": "us_warning"}, as_seen_by="US")  # the game as the US knows it

    def tension() -> float:
        return by_hand.state.vars[:, rules.tension].mean()

    def counts() -> dict[str, int]:
        return {o.id: int((by_hand.state.outcome == k).sum()) for k, o in enumerate(rules.outcomes)}

    by_hand.advance(until_turn=turn + 12)
    window = forecast(engine, "US", "us_warning")
    assert window.rollouts == 1000 and window.turns == 12
    assert (window.war, window.deal) == (counts()["war"] / 1000, counts()["deal"] / 1000)
    assert window.tension == pytest.approx(tension(), rel=1e-12)
    assert window.war + window.deal + window.other < 1  # games still running count as neither

    by_hand.advance(until_turn=rules.horizon)
    year = forecast(engine, "US", "us_warning", turns=100)  # bounded by the horizon
    assert year.turns == rules.horizon - turn
    end = counts()
    assert end[outcome] > 0  # the comparison means something
    assert (year.war, year.deal) == (end["war"] / 1000, end["deal"] / 1000)
    assert year.other == (end["alliance_rupture"] + end["unresolved"]) / 1000
    assert year.tension == pytest.approx(tension(), rel=1e-12)


def test_a_forecast_is_reproducible_and_leaves_the_game_as_it_was():
    looked_ahead, untouched = korea_at(3), korea_at(3)
    first = forecast(looked_ahead, "US", None)
    assert forecast(looked_ahead, "US", None) == first
    for engine in (looked_ahead, untouched):
        while engine.advance() is not None:
            engine.submit("US", first_open(engine, "US"))
    assert game_record(looked_ahead, "korea-2019") == game_record(untouched, "korea-2019")


def test_a_strike_forecasts_war_and_passing_does_not(talks):
    strike = forecast(talks, "A", "a-strike")
    passing = forecast(talks, "A", None)
    assert strike.war == 1.0 and strike.deal == 0.0
    assert passing.war_ci[1] < strike.war_ci[0]  # without strikes the fixture has no war at all


def test_offering_talks_raises_the_chance_of_a_deal(talks):
    offer = forecast(talks, "A", "a-offer")
    passing = forecast(talks, "A", None)
    assert offer.deal_ci[0] > passing.deal_ci[1]


def test_intervals_hold_the_estimate_and_narrow_with_more_rollouts(talks):
    few = forecast(talks, "A", "a-offer", rollouts=200)
    many = forecast(talks, "A", "a-offer", rollouts=3200)
    for f in (few, many):
        for estimate, (lo, hi) in ((f.war, f.war_ci), (f.deal, f.deal_ci), (f.tension, f.tension_ci)):
            assert lo <= estimate <= hi
    # 16 times the rollouts: intervals about 4 times narrower
    for name in ("war_ci", "deal_ci", "tension_ci"):
        (lo, hi), (few_lo, few_hi) = getattr(many, name), getattr(few, name)
        assert hi - lo < (few_hi - few_lo) / 3, name


def test_a_cancelled_forecast_stops_at_once_and_can_go_on(talks):
    rollouts = prepare(talks, "A", "a-offer")
    asked = []

    def cancelled() -> bool:
        asked.append(True)
        return len(asked) > 3

    assert rollouts.run(cancelled) is None
    assert len(asked) == 4 and rollouts.engine.env.now < 3  # three turns played of twelve
    assert rollouts.run() == forecast(talks, "A", "a-offer")


def test_only_open_moves_of_the_actor_deciding_can_be_forecast(talks):
    with pytest.raises(ValueError, match="a-meet: requires talks.open"):
        prepare(talks, "A", "a-meet")
    with pytest.raises(ValueError, match="not B's turn"):
        prepare(talks, "B", None)


def test_ladder_bench_play_times_a_forecast(capsys):
    assert main(["bench", str(DATA / "mechanics.scenario.yaml"), "--play", "--quick", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["player"] == "A"  # no US in the fixture: its first actor
    assert (figures["forecast_rollouts"], figures["forecast_turns"]) == (1000, 12)
    assert 0 < figures["fork_ms"] / 1000 < figures["forecast_s"]
    assert 0 < figures["detail_ms"] < 1000


def test_differences_are_claimed_only_where_the_intervals_do_not_overlap():
    def f(war, tension):
        return Forecast(rollouts=1000, turns=12, war=sum(war) / 2, war_ci=war, deal=0.0, deal_ci=(0.0, 0.004),
                        other=0.0, tension=sum(tension) / 2, tension_ci=tension)

    passing = f((0.10, 0.14), (50.0, 52.0))
    assert differences(f((0.13, 0.18), (51.5, 53.0)), passing) == {"war": 0, "deal": 0, "tension": 0}
    assert differences(f((0.15, 0.19), (47.0, 49.9)), passing) == {"war": 1, "deal": 0, "tension": -1}
