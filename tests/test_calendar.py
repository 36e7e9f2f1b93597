"""The calendar: yearly windows that open and close on their dates in every year of a game, with
their effects and news, read by expressions as window.NAME (issue 16, part 5)."""
import datetime as dt

import numpy as np
import pytest
from conftest import DATA, play

from sim.engine.rules import Rules
from sim.engine.stepping import Engine
from sim.format.errors import ScenarioError
from sim.format.scenario import validate
from sim.format.source import parse_document
from sim.play.narrative import narrate

ALL = ("A", "B", "C")
START = dt.date(2020, 1, 6)
FIVE_YEARS = 'clock: {turn_days: 7, start: "2020-01-06", horizon: 260}'
CALENDAR = """calendar:
  - {id: spring, label: Spring exercises, start: "03-04", end: "04-30", news: Spring exercises begin,
     news_end: Spring exercises end, source: {ref: notes, quote: spring},
     effects_start: [{var: tension, delta: 5}], effects_end: [{var: tension, delta: -5}]}
  - {id: winter, label: Winter drills, start: "12-15", end: "01-10",
     effects_start: [{var: C.enforcement, delta: 10}], effects_end: [{var: C.enforcement, delta: -10}]}
  - {id: summit, label: Summit season, start: "06-01", duration: 10, first_year: 2021, last_year: 2022}
"""
WARN = "source: {ref: notes, quote: warn}, effects: [{var: tension, delta: 2}]}"


def scenario_text(requires: str | None = None) -> str:
    text = (DATA / "mechanics.scenario.yaml").read_text()
    text = text.replace('clock: {turn_days: 7, start: "2020-01-06", horizon: 20}', FIVE_YEARS)
    if requires:
        text = text.replace(WARN, WARN[:-1] + f', requires: "{requires}"}}')
    return text + CALENDAR


def rules_of(text: str) -> Rules:
    return Rules(validate(parse_document(text, "calendar.scenario.yaml")), "calendar")


def turn_containing(date: dt.date) -> int:
    return (date - START).days // 7


def expected_spans(start: str, end: str, years) -> list[tuple[int, int]]:
    """(turn it opens, turn it closes) of each year's window, worked out from the dates alone."""
    spans = []
    for year in years:
        opens = dt.date.fromisoformat(f"{year}-{start}")
        closes = dt.date.fromisoformat(f"{year}-{end}")
        if closes <= opens:
            closes = dt.date.fromisoformat(f"{year + 1}-{end}")
        spans.append((turn_containing(opens), turn_containing(closes)))
    return spans


@pytest.fixture(scope="module")
def game() -> Engine:
    """Five years of weekly turns in which every actor passes: only the calendar changes things."""
    return play(Engine(rules_of(scenario_text()), seed=1, humans=ALL), {})


def turns_of(engine: Engine, kind: str, window: str) -> list[int]:
    return [e["turn"] for e in engine.log.for_world(0) if e["kind"] == kind and e["subject"] == window]


def test_a_window_opens_and_closes_on_its_dates_every_year(game):
    spans = expected_spans("03-04", "04-30", range(2020, 2025))
    assert turns_of(game, "window_open", "spring") == [o for o, _ in spans]
    assert turns_of(game, "window_close", "spring") == [c for _, c in spans]
    is_open = {t for o, c in spans for t in range(o, c)}
    for turn in range(game.rules.horizon):
        assert game.state.names(turn)["window.spring"] == (turn in is_open), turn


def test_a_window_spanning_new_year_closes_in_the_next_year(game):
    # the game ends in December 2024: the last winter opens and never closes
    spans = expected_spans("12-15", "01-10", range(2020, 2025))
    assert turns_of(game, "window_open", "winter") == [o for o, _ in spans]
    assert turns_of(game, "window_close", "winter") == [c for _, c in spans[:-1]]
    assert game.rules.date(spans[0][0]).year == 2020 and game.rules.date(spans[0][1]).year == 2021
    assert game.state.names(spans[-1][0])["window.winter"] == 1 and game.state.names(game.rules.horizon - 1)["window.winter"] == 1


def test_first_and_last_year_limit_a_window_and_a_duration_ends_it(game):
    opens = turns_of(game, "window_open", "summit")
    assert [game.rules.date(t).year for t in opens] == [2021, 2022]
    for year, turn in zip((2021, 2022), opens):
        assert turn == turn_containing(dt.date(year, 6, 1))
    assert turns_of(game, "window_close", "summit") == [turn_containing(dt.date(y, 6, 11)) for y in (2021, 2022)]


def test_effects_apply_when_a_window_opens_and_when_it_closes(game):
    spans = expected_spans("03-04", "04-30", range(2020, 2025))
    inside = {t for o, c in spans for t in range(o, c)}
    tension = game.state.tension_history[:, 0]  # at the end of each turn; the scenario's tension does not drift
    assert all(tension[t] == (45 if t in inside else 40) for t in range(game.rules.horizon))
    opened = [e for e in game.log.for_world(0) if e["kind"] == "window_open" and e["subject"] == "winter"]
    assert all(e["changes"] == {"C.enforcement": 10} for e in opened)
    # the last winter never closes: its 10 stays
    assert game.state.vars[0, game.rules.var_index["C.enforcement"]] == 60


def test_each_opening_and_closing_is_news(game):
    lines = narrate(game)
    spring = [line for line in lines if "CALENDAR: Spring exercises begin (tension +5.0)" in line]
    assert [line[:10] for line in spring] == [game.rules.date(o).isoformat() for o, _ in expected_spans("03-04", "04-30", range(2020, 2025))]
    assert sum("CALENDAR: Spring exercises end (tension -5.0)" in line for line in lines) == 5
    assert sum("CALENDAR: Winter drills ends" in line for line in lines) == 4  # the default closing line


def test_a_move_can_require_a_window():
    rules = rules_of(scenario_text(requires="window.spring and month == 3"))
    spans = expected_spans("03-04", "04-30", range(2020, 2025))
    march = {t for o, c in spans for t in range(o, c) if rules.date(t).month == 3}
    engine = Engine(rules, seed=1, humans=ALL)
    opened = set()
    while (decision := engine.advance()) is not None:
        if decision.actor == "A" and dict(engine.why_not("A"))["a-warn"] is None:
            opened.add(decision.turn)
        engine.submit(decision.actor, None)
    assert opened == march and len(march) >= 5


def test_a_fork_before_a_window_opens_opens_it_in_every_rollout():
    rules = rules_of(scenario_text())
    first = expected_spans("03-04", "04-30", [2020])[0][0]
    engine = play(Engine(rules, seed=1, humans=ALL), {}, until_turn=first - 1)
    rollouts = play(engine.fork(3, humans=ALL, record=True), {}, until_turn=first + 1)
    opened = [e for e in rollouts.log.records if e.kind == "window_open" and e.subject == "spring"]
    assert [(e.turn, list(e.worlds)) for e in opened] == [(first, [0, 1, 2])]
    assert (rollouts.state.tension_history[first] == 45).all()


def test_a_game_begun_inside_a_window_starts_with_it_open():
    text = scenario_text().replace(FIVE_YEARS, 'clock: {turn_days: 7, start: "2020-03-20", horizon: 10}')
    engine = play(Engine(rules_of(text), seed=1, humans=ALL), {})
    assert turns_of(engine, "window_open", "spring") == [0]
    assert turns_of(engine, "window_close", "spring") == [(dt.date(2020, 4, 30) - dt.date(2020, 3, 20)).days // 7]


@pytest.mark.parametrize("window, needle, message", [
    ('{id: w, label: W, start: "02-30", duration: 3}', '"02-30"', "day 30 is out of range for month 2"),
    ('{id: w, label: W, start: "13-01", duration: 3}', '"13-01"', "the month must be 01 to 12"),
    ('{id: w, label: W, start: "02-29", duration: 3}', '"02-29"', "not a day of every year"),
    ('{id: w, label: W, start: "3-4", duration: 3}', '"3-4"', "should match pattern"),
    ('{id: w, label: W, start: "03-01", duration: 3, first_year: 2023, last_year: 2021}', "2021}", "before first_year"),
    ('{id: w, label: W, start: "03-01"}', "{id: w", "exactly one of 'end' or 'duration'"),
    ('{id: w, label: W, start: "03-01", duration: 3, effects_start: [{var: tenson, delta: 1}]}', "tenson", "unknown variable 'tenson'"),
    ('{id: w-1, label: W, start: "03-01", duration: 3}', "w-1", "should match pattern"),
])
def test_a_bad_window_is_one_located_line(window, needle, message):
    text = (DATA / "mechanics.scenario.yaml").read_text() + f"calendar:\n  - {window}\n"
    with pytest.raises(ScenarioError) as caught:
        validate(parse_document(text, "bad.scenario.yaml"))
    found = [str(p) for p in caught.value.problems]
    before = text[: text.index(needle, text.index("calendar:"))]
    assert len(found) == 1 and message in found[0], found
    assert found[0].startswith(f"bad.scenario.yaml:{before.count(chr(10)) + 1}:{len(before) - before.rfind(chr(10))}: "), found


def test_a_scenario_without_a_calendar_schedules_nothing(mechanics):
    assert mechanics.calendar.turns == [] and not np.any(mechanics.calendar.open)


def test_a_window_shorter_than_a_turn_is_open_for_the_turn_it_opens_in():
    text = scenario_text() + '  - {id: flash, label: Anniversary, start: "07-27", duration: 1}\n'
    engine = play(Engine(rules_of(text), seed=1, humans=ALL), {})
    opens = [turn_containing(dt.date(y, 7, 27)) for y in range(2020, 2025)]
    assert turns_of(engine, "window_open", "flash") == opens
    assert turns_of(engine, "window_close", "flash") == [t + 1 for t in opens]
    assert [t for t in range(engine.rules.horizon) if engine.state.names(t)["window.flash"]] == opens
