"""Chance events (`chance:`) and the cause every ending records, on the mechanics test bench."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import DATA

from sim.cli import main
from sim.engine.rules import Rules
from sim.engine.stepping import Engine
from sim.format.errors import ScenarioError
from sim.format.scenario import validate
from sim.format.source import parse_document
from sim.montecarlo.chunks import Aggregates, Job, rows
from sim.montecarlo.summary import summary
from sim.play.narrative import narrate

TEXT = (DATA / "mechanics.scenario.yaml").read_text()
ALL = ("A", "B", "C")


def with_chance(*events: str, old: str = "", new: str = "") -> str:
    text = TEXT.replace(old, new) if old else TEXT
    items = "".join(f"  - {{{e}, source: {{ref: notes, quote: q}}}}\n" for e in events)
    return text.replace("outcomes:\n", f"chance:\n{items}outcomes:\n", 1)


def rules(*events: str, **kw) -> Rules:
    return Rules(validate(parse_document(with_chance(*events, **kw), "chance.yaml")), "chance")


CLASH = "id: clash, label: Clash, news: Boats exchange fire.,  probability: '{p}'"


# --- the format -----------------------------------------------------------------------------


@pytest.mark.parametrize("event, where, message", [
    (CLASH.format(p="0.1") + ", ends_game: wat", "wat", "unknown outcome 'wat'"),
    (CLASH.format(p="tensoin / 100"), "tensoin", "unknown name 'tensoin'"),
    (CLASH.format(p="tension / (2 - 2)"), "/ (", "division by zero"),
    (CLASH.format(p="0.1") + ", effects: [{var: tensio, delta: 3}]", "tensio", "unknown variable 'tensio'"),
    (CLASH.format(p="0.1") + ", limit: 0", "0,", "greater than or equal to 1"),
])
def test_a_bad_chance_event_is_located(event, where, message):
    text = with_chance(event)
    with pytest.raises(ScenarioError) as exc:
        validate(parse_document(text, "bad.yaml"))
    [problem] = exc.value.problems
    line = text[: text.index("chance:\n")].count("\n") + 2
    col = text.splitlines()[line - 1].rindex(where) + 1
    assert str(problem).startswith(f"bad.yaml:{line}:{col}: chance[0]."), problem
    assert message in str(problem)


def test_chance_ids_are_unique():
    with pytest.raises(ScenarioError, match="duplicate id 'clash'"):
        rules(CLASH.format(p="0.1"), CLASH.format(p="0.2"))


# --- drawing --------------------------------------------------------------------------------


def test_the_frequency_of_a_chance_event_is_its_probability():
    n = 10_000
    # the probability is a formula of the state: tension 40 -> 0.2
    engine = Engine(rules(CLASH.format(p="tension / 200")), seed=9, runs=n, record=False)
    engine.advance(until_turn=1)
    freq = engine.state.chance_count[:, 0].mean()
    se = np.sqrt(0.2 * 0.8 / n)  # 0.004
    assert abs(freq - 0.2) < 4 * se
    for wrong in (0.18, 0.22):  # a probability off by a tenth is told apart
        assert abs(freq - wrong) > 4 * se


@pytest.mark.parametrize("p, expected", [("tension / 10", 1.0), ("-1", 0.0), ("0", 0.0)])
def test_the_probability_is_clipped_to_0_1(p, expected):
    engine = Engine(rules(CLASH.format(p=p)), seed=1, runs=500, record=False)
    engine.advance(until_turn=1)
    assert engine.state.chance_count[:, 0].mean() == expected


def test_each_event_draws_with_its_own_key():
    engine = Engine(rules(CLASH.format(p="0.5"), CLASH.format(p="0.5").replace("clash", "storm")),
                    seed=2, runs=4000, record=False)
    engine.advance(until_turn=1)
    a, b = engine.state.chance_count.T
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.06


@pytest.mark.parametrize("extra, turns", [(", cooldown: 3", [0, 4, 8, 12, 16]), (", cooldown: 3, limit: 2", [0, 4]),
                                          (", limit: 3", [0, 1, 2]), ("", list(range(20)))])
def test_cooldown_and_limit(extra, turns):
    engine = Engine(rules(CLASH.format(p="1") + extra), seed=1, humans=ALL)
    while engine.advance() is not None:
        engine.submit(engine.waiting.actor, None)
    seen = [e["turn"] for e in engine.log.for_world(0) if e["kind"] == "chance"]
    assert seen == turns
    assert engine.state.chance_count[0, 0] == len(turns)


def test_a_chance_event_applies_its_effects_and_tells_its_news():
    engine = Engine(rules(CLASH.format(p="1") + ", limit: 1, effects: [{var: tension, delta: 10}]"), seed=1, humans=ALL)
    engine.advance()  # turn 0: the event happened before the decisions
    assert engine.state.vars[0, engine.rules.var_index["tension"]] == 50
    while engine.advance() is not None:
        engine.submit(engine.waiting.actor, None)
    [line] = [x for x in narrate(engine) if "CHANCE" in x]
    assert line.endswith("CHANCE: Boats exchange fire. (tension +10.0)")


def test_run_i_alone_is_run_i_of_a_batch():
    r = rules(CLASH.format(p="0.1"), CLASH.format(p="0.05").replace("clash", "storm") + ", ends_game: war")
    batch = Engine(r, seed=3, runs=200, record=False).run()
    for i in (0, 17, 199):
        alone = Engine(r, seed=3, runs=[i], record=False).run()
        assert (alone.state.chance_count[0] == batch.state.chance_count[i]).all()
        assert alone.state.cause[0] == batch.state.cause[i] and alone.state.outcome[0] == batch.state.outcome[i]


# --- causes ---------------------------------------------------------------------------------

HAZARD = "hazard: {max: 0.0, midpoint: 90, steepness: 0.2}"
STRIKER = "hawk: {description: Climbs., escalation: 3"


def test_a_chance_event_that_ends_the_game_records_its_cause(tmp_path, capsys):
    path = tmp_path / "clash.scenario.yaml"
    path.write_text(with_chance(CLASH.format(p="0.5") + ", ends_game: war"))
    assert main(["run", str(path), "--seed", "1", "--json"]) == 0
    game = json.loads(capsys.readouterr().out)
    assert (game["outcome"], game["cause"]) == ("war", "clash")
    chance, outcome = game["events"][-2:]
    assert (chance["kind"], chance["subject"], chance["news"]) == ("chance", "clash", "Boats exchange fire.")
    assert (outcome["kind"], outcome["cause"], outcome["turn"]) == ("outcome", "clash", chance["turn"])


def test_every_war_records_what_began_it():
    """Strikes, miscalculation and a chance incident all end games in war; each is told apart in
    the rows, and the summary counts them."""
    r = rules(CLASH.format(p="0.01") + ", ends_game: war", old=HAZARD, new="hazard: {max: 0.5, midpoint: 70, steepness: 0.2}")
    engine = Engine(r, seed=11, runs=3000, doctrines={"A": "hawk"}, record=False).run()
    table = rows(engine)
    war = table["outcome"] == "war"
    causes = table["cause"][war]
    assert set(causes) == {"a-strike", "miscalculation", "clash"}
    strike, clash = table["moves_a-strike"], table["chance_clash"]
    assert (strike[table["cause"] == "a-strike"] == 1).all()
    assert (clash[table["cause"] == "clash"] == 1).all()
    assert (strike[table["cause"] == "miscalculation"] == 0).all() and (clash[table["cause"] == "miscalculation"] == 0).all()
    assert set(table["cause"][~war]) <= {"condition", "horizon"}
    assert set(table["cause"][table["outcome"] == "horizon"]) == {"horizon"}
    s = summary(r, Aggregates.of(engine), Job(r.scenario, "chance", 11))
    assert s["outcomes"]["war"]["causes"] == {c: int((causes == c).sum()) for c in ("miscalculation", "a-strike", "clash")}
    assert sum(o["count"] for o in s["outcomes"].values()) == 3000
    assert s["chance"]["clash"]["count"] == int(clash.sum())


@pytest.mark.parametrize("moves, hazard, cause", [
    ({(2, "A"): "a-strike"}, HAZARD, "a-strike"),
    ({}, "hazard: {max: 1.0, midpoint: 0, steepness: 10}", "miscalculation"),
    ({(0, "A"): "a-offer", (0, "B"): "b-accept", (2, "A"): "a-meet", (3, "A"): "a-meet"}, HAZARD, "condition"),
    ({}, HAZARD, "horizon"),
])
def test_the_cause_of_each_kind_of_ending_in_the_game_record(moves, hazard, cause):
    from sim.play.narrative import game_record

    text = TEXT.replace(HAZARD, hazard)
    engine = Engine(Rules(validate(parse_document(text, "m.yaml")), "m"), seed=1, humans=ALL)
    while engine.advance() is not None:
        engine.submit(engine.waiting.actor, moves.get((engine.waiting.turn, engine.waiting.actor)))
    record = game_record(engine, "m")
    assert record["cause"] == cause == record["events"][-1]["cause"]


def test_lint_counts_what_chance_events_read_and_change(tmp_path):
    from sim.authoring.lint import lint

    variables = "  talks.progress: {min: 0, max: 100, initial: 0}\n"
    extra = "  C.mood: {owner: C, min: 0, max: 10, initial: 5}\n  C.luck: {owner: C, min: 0, max: 1, initial: 0.1}\n"
    path = tmp_path / "lint.scenario.yaml"
    path.write_text(with_chance(CLASH.format(p="C.luck") + ", effects: [{var: C.mood, delta: 1}]",
                                old=variables, new=variables + extra))
    about = [p.message for p in lint(path) if "C.mood" in p.message or "C.luck" in p.message]
    # C.mood changes (by the event) and C.luck is read (by its probability); the other halves are true
    assert sorted(about) == ["warning: variable 'C.luck' never changes: no effect, inject or drift moves it from 0.1",
                             "warning: variable 'C.mood' is never read: no condition, detection chance, actor value or doctrine weight uses it"]
