"""Several moves a turn (moves_per_turn, max_per_turn) and the proposals' consent, drafting and
free answers, on the mechanics test bench."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA

from sim.engine.rules import Rules
from sim.engine.stepping import Engine
from sim.format.errors import ScenarioError
from sim.format.scenario import validate
from sim.format.source import parse_document
from sim.play.game import Game, Setup

ALL = ("A", "B", "C")
TEXT = (DATA / "mechanics.scenario.yaml").read_text()
A = "A: {name: Proposer, doctrine: dove, opponents: [B], values: {B.economy: -1}}"
WARN = "source: {ref: notes, quote: warn}, effects: [{var: tension, delta: 2}]}"
TALKS = "talks: {rule: consent, window: 2}"


def text(*edits: tuple[str, str]) -> str:
    out = TEXT
    for old, new in edits:
        assert out.count(old) == 1, old
        out = out.replace(old, new)
    return out


def rules(*edits: tuple[str, str]) -> Rules:
    return Rules(validate(parse_document(text(*edits), "variant.yaml")), "variant")


def moves_a(n: int) -> tuple[str, str]:
    return A, A.replace("}}", "}, moves_per_turn: %d}" % n)


def warn_cap(n: int) -> tuple[str, str]:
    return WARN, WARN.replace("}]}", "}], max_per_turn: %d}" % n)


def script(engine: Engine, moves: dict, until_turn: int | None = None) -> list:
    """Drive human actors by {(turn, actor): [option, ...]}, one option per decision in order (then
    passes); the decisions asked, as (turn, actor, round)."""
    asked = []
    queues = {k: list(v) for k, v in moves.items()}
    while (decision := engine.advance(until_turn)) is not None:
        asked.append((decision.turn, decision.actor, decision.round))
        queue = queues.get((decision.turn, decision.actor), [])
        engine.submit(decision.actor, queue.pop(0) if queue else None)
    return asked


def taken(engine: Engine, turn: int, actor: str) -> list[str]:
    return [e["subject"] for e in engine.log.for_world(0) if e["kind"] == "move" and e["turn"] == turn and e["actor"] == actor]


# --- the format -----------------------------------------------------------------------------


def test_one_move_a_turn_and_once_a_turn_are_the_defaults(mechanics):
    assert mechanics.moves_per_turn == [1, 1, 1]
    assert (mechanics.max_per_turn == 1).all() and not mechanics.takes_several
    assert mechanics.decides_again == [False, False, False]


@pytest.mark.parametrize("edit, where, message", [
    ((A, A.replace("}}", "}, moves_per_turn: 0}")), "moves_per_turn: 0", "greater than or equal to 1"),
    ((A, A.replace("}}", "}, moves_per_turn: 11}")), "moves_per_turn: 11", "less than or equal to 10"),
    ((WARN, WARN.replace("}]}", "}], max_per_turn: 0}")), "max_per_turn: 0", "greater than or equal to 1"),
    (("prepare: 2,", "prepare: 2, max_per_turn: 2,"), "max_per_turn: 2", "prepared once at a time"),
    ((TALKS, "talks: {rule: consent, drafting: {min: 5, mode: 5, max: 3}}"), "min: 5", "must not exceed max"),
    ((TALKS, "talks: {rule: consent, drafting: {min: 2, mode: 9, max: 3}}"), "mode: 9", "between min (2) and max (3)"),
    (("resolution: {rule: veto, window: 1}", "resolution: {rule: veto, consent: all}"), "consent: all", "consent topics"),
])
def test_bad_values_are_located_where_written(edit, where, message):
    bad = text(edit)
    with pytest.raises(ScenarioError) as exc:
        validate(parse_document(bad, "bad.yaml"))
    [problem] = exc.value.problems
    before = bad[: bad.index(where)]
    line, col = before.count("\n") + 1, len(before) - before.rfind("\n")
    # a value is located at the value; a model's check at the key it names
    assert str(problem).startswith((f"bad.yaml:{line}:{col}: ", f"bad.yaml:{line}:{col + len(where.split(':')[0]) + 2}: ")), problem
    assert message in str(problem)


# --- several moves a turn -------------------------------------------------------------------


def test_three_moves_in_one_turn_each_asked_for_in_turn():
    engine = Engine(rules(moves_a(3)), seed=1, humans=ALL)
    asked = script(engine, {(0, "A"): ["a-warn", "a-aid", "a-sanction", "a-strike"]}, until_turn=1)
    assert taken(engine, 0, "A") == ["a-warn", "a-aid", "a-sanction"]  # the cap: no fourth decision
    assert [r for t, a, r in asked if a == "A"] == [0, 1, 2]
    assert [a for t, a, r in asked] == ["A", "A", "A", "B", "C"]  # in the actors' order, A's turn whole first


def test_a_pass_ends_the_turn_of_an_actor_with_moves_left():
    engine = Engine(rules(moves_a(3)), seed=1, humans=ALL)
    asked = script(engine, {(0, "A"): ["a-warn", None, "a-aid"]}, until_turn=2)
    assert taken(engine, 0, "A") == ["a-warn"]
    assert [(t, r) for t, a, r in asked if a == "A"] == [(0, 0), (0, 1), (1, 0)]


def test_the_next_decision_sees_the_state_the_move_left():
    meet = "requires: talks.open"
    engine = Engine(rules(moves_a(2), (meet, "requires: tension >= 42")), seed=1, humans=ALL)
    assert engine.advance().round == 0
    assert dict(engine.why_not("A"))["a-meet"] == "requires tension >= 42"
    engine.submit("A", "a-warn")  # tension 40 -> 42
    assert engine.advance().round == 1
    assert dict(engine.why_not("A"))["a-meet"] is None


def test_an_option_is_taken_at_most_max_per_turn_times_a_turn():
    engine = Engine(rules(moves_a(4), warn_cap(2)), seed=1, humans=ALL)
    engine.advance()
    engine.submit("A", "a-warn")
    engine.advance()
    assert dict(engine.why_not("A"))["a-warn"] is None  # once of twice: still open
    engine.submit("A", "a-warn")
    engine.advance()
    assert dict(engine.why_not("A"))["a-warn"] == "taken 2 times this turn, the most"
    with pytest.raises(ValueError, match="taken 2 times"):
        engine.submit("A", "a-warn")
    engine.submit("A", None)
    script(engine, {(1, "A"): ["a-warn", "a-warn"]}, until_turn=2)
    assert taken(engine, 0, "A") == ["a-warn", "a-warn"]
    assert taken(engine, 1, "A") == ["a-warn", "a-warn"]  # open again the next turn, and capped again


def test_once_a_turn_is_the_default_cap_and_cooldowns_count_across_turns():
    cool = (WARN, WARN.replace("}]}", "}], max_per_turn: 2, cooldown: 1}"))
    engine = Engine(rules(moves_a(3), cool), seed=1, humans=ALL)
    engine.advance()
    engine.submit("A", "a-aid")
    engine.advance()
    assert dict(engine.why_not("A"))["a-aid"] == "taken this turn"  # closed for the rest of the turn
    script(engine, {(0, "A"): ["a-warn", "a-warn"]}, until_turn=1)
    assert taken(engine, 0, "A") == ["a-aid", "a-warn", "a-warn"]
    assert engine.advance().turn == 1
    assert dict(engine.why_not("A"))["a-warn"] == "cooling down (1 more turns)"  # from turn 0's last use
    engine.submit("A", None)
    script(engine, {(2, "A"): ["a-warn", "a-warn"]}, until_turn=3)
    assert taken(engine, 2, "A") == ["a-warn", "a-warn"]


def test_bots_take_several_moves_and_respect_both_caps():
    hawk = ("hawk: {description: Climbs., escalation: 3", "hawk: {description: Climbs., options: {a-warn: 6}, escalation: 3")
    r = rules(moves_a(3), warn_cap(2), hawk)
    engine = Engine(r, seed=5, runs=3000, doctrines={"A": "hawk"}, record=False)
    a_moves = r.by_actor[0]
    warn = r.option_index["a-warn"]
    engine.advance(until_turn=1)
    per_world = engine.state.counts[:, a_moves].sum(axis=1)
    assert per_world.max() == 3 and (per_world >= 2).mean() > 0.3
    assert engine.state.counts[:, warn].max() == 2 and (engine.state.counts[:, warn] == 2).mean() > 0.3


def test_the_first_decision_of_a_turn_draws_as_with_one_move_a_turn(mechanics):
    """Round 0 keeps today's key: A decides first, so its first move in turn 0 is the same."""
    one = Engine(mechanics, seed=3, runs=2000, doctrines={"A": "hawk"})
    three = Engine(rules(moves_a(3)), seed=3, runs=2000, doctrines={"A": "hawk"})
    for engine in (one, three):
        engine.advance(until_turn=1)

    def first_moves(engine):
        out = np.full(2000, "", dtype=object)
        for ev in reversed(engine.log.records):  # the first move of each world wins
            if ev.kind in ("move", "prepare", "proposal") and ev.actor == "A" and ev.turn == 0:
                out[ev.worlds] = ev.subject
        return out

    assert (first_moves(one) == first_moves(three)).all()
    assert (three.state.counts[:, three.rules.by_actor[0]].sum(axis=1) > 1).any()


def test_a_fork_within_a_turn_keeps_the_moves_already_taken():
    r = rules(moves_a(3))
    engine = Engine(r, seed=2, humans=("A",), doctrines={"A": "hawk"})
    engine.advance()
    engine.submit("A", "a-warn")
    assert engine.advance().round == 1
    rollouts = engine.fork(400, force={"A": "a-aid"})
    rollouts.advance(until_turn=1)
    counts = rollouts.state.counts[:, r.by_actor[0]]
    assert (counts[:, r.by_actor[0].tolist().index(r.option_index["a-aid"])] == 1).all()
    assert counts.sum(axis=1).max() == 3  # a-warn, a-aid and at most one more


# --- proposals ------------------------------------------------------------------------------

TO_BC = ("a-offer, actor: A, label: Offer talks, rung: talk, category: diplomatic, tags: [talks],\n"
         "     source: {ref: notes, quote: talks}, proposes: {topic: talks, to: [B]}")
C_ANSWERS = """  - {id: c-talk-yes, actor: C, label: Join talks, rung: talk, category: diplomatic,
     source: {ref: notes, quote: join}, answers: {topic: talks, accept: true}}
  - {id: c-talk-no, actor: C, label: Stay out, rung: words, category: diplomatic,
     source: {ref: notes, quote: stay out}, answers: {topic: talks, accept: false}}
doctrines:
"""


def talks_to_b_and_c(consent: str) -> Rules:
    return rules((TO_BC, TO_BC.replace("to: [B]", "to: [B, C]")), ("doctrines:\n", C_ANSWERS),
                 (TALKS, "talks: {rule: consent, window: 2, consent: %s}" % consent))


@pytest.mark.parametrize("consent, answers, passed", [
    ("all", ("b-accept", "c-talk-yes"), True),
    ("all", ("b-accept", "c-talk-no"), False),
    ("all", ("b-accept", None), False),  # no answer: refused
    ("any", ("b-accept", "c-talk-no"), True),
    ("any", ("b-refuse", "c-talk-no"), False),
])
def test_all_consent_needs_every_addressee(consent, answers, passed):
    engine = Engine(talks_to_b_and_c(consent), seed=1, humans=ALL)
    script(engine, {(0, "A"): ["a-offer"], (0, "B"): [answers[0]], (0, "C"): [answers[1]]}, until_turn=3)
    [resolved] = [e for e in engine.log.for_world(0) if e["kind"] == "resolved"]
    assert resolved["passed"] is passed
    assert engine.state.vars[0, engine.rules.var_index["talks.open"]] == float(passed)


def test_drafting_time_follows_its_triangular_distribution():
    r = rules((TALKS, "talks: {rule: consent, drafting: {min: 2, mode: 3, max: 8}}"))
    engine = Engine(r, seed=4, runs=20_000, humans=ALL)
    script(engine, {(0, "A"): ["a-offer"]}, until_turn=1)
    window = engine.state.pend_until[:, r.topic_index["talks"]]
    assert window.min() == 2 and window.max() == 8
    # the mean of the rounded triangle (2, 3, 8): (2 + 3 + 8) / 3 = 4.33 before rounding; its
    # standard deviation 1.25, so the mean of 20,000 is within 0.04 (4 standard errors)
    x = np.linspace(0, 1, 2_000_001)[1:-1]
    exact = np.floor(np.where(x < 1 / 6, 2 + np.sqrt(x * 6), 8 - np.sqrt((1 - x) * 30)) + 0.5).mean()
    assert abs(window.mean() - exact) < 4 * window.std() / np.sqrt(len(window))
    assert abs(window.mean() - 5.0) > 0.5  # a uniform 2..8 would fail
    assert np.bincount(window).argmax() == 3
    assert len(np.unique(window)) == 7


def test_a_drafted_proposal_resolves_when_its_drawn_time_is_up():
    r = rules((TALKS, "talks: {rule: consent, drafting: {min: 3, mode: 3, max: 3}}"))
    engine = Engine(r, seed=1, humans=ALL)
    script(engine, {(0, "A"): ["a-offer"], (2, "B"): ["b-accept"]}, until_turn=4)
    [resolved] = [e for e in engine.log.for_world(0) if e["kind"] == "resolved"]
    assert (resolved["turn"], resolved["passed"]) == (3, True)


def test_a_free_answer_does_not_use_the_move():
    free = (TALKS, "talks: {rule: consent, window: 2, free_answer: true}")
    engine = Engine(rules(free), seed=1, humans=ALL)
    asked = script(engine, {(0, "A"): ["a-offer"], (0, "B"): ["b-accept", "b-test", "b-calm"]}, until_turn=1)
    assert taken(engine, 0, "B") == ["b-accept", "b-test"]  # b-calm: moves_per_turn 1 was used by b-test
    assert [r for t, a, r in asked if a == "B"] == [0, 1]
    costly = Engine(rules(), seed=1, humans=ALL)
    script(costly, {(0, "A"): ["a-offer"], (0, "B"): ["b-accept", "b-test"]}, until_turn=1)
    assert taken(costly, 0, "B") == ["b-accept"]


def test_a_free_answer_does_not_count_toward_moves_per_turn():
    free = (TALKS, "talks: {rule: consent, window: 2, free_answer: true}")
    b = "B: {name: Target, doctrine: hawk, opponents: [A], values: {B.economy: 1}}"
    engine = Engine(rules(free, (b, b.replace("}}", "}, moves_per_turn: 2}"))), seed=1, humans=ALL)
    script(engine, {(0, "A"): ["a-offer"], (0, "B"): ["b-test", "b-accept", "b-calm", "b-launch"]}, until_turn=1)
    assert taken(engine, 0, "B") == ["b-test", "b-accept", "b-calm"]


# --- people: saves, replays, undo -----------------------------------------------------------


def test_a_game_of_several_moves_a_turn_saves_resumes_and_undoes(tmp_path):
    path = tmp_path / "multi.scenario.yaml"
    path.write_text(text(moves_a(3)))
    game = Game.start(Setup(str(path), seed=5, humans=("A",)))
    for option in ("a-warn", "a-aid", None, "a-warn"):
        assert game.advance() is not None
        game.submit(option)
    game.advance()
    assert [(m.turn, m.option) for m in game.moves] == [(0, "a-warn"), (0, "a-aid"), (0, None), (1, "a-warn")]
    game.save(tmp_path / "game.json")
    again = Game.resume(tmp_path / "game.json")
    assert again.moves == game.moves
    again.advance()
    assert (again.engine.state.vars == game.engine.state.vars).all()
    assert (again.waiting.turn, again.waiting.round) == (1, 1)
    assert again.undo().option == "a-warn"
    assert (again.waiting.turn, again.waiting.round) == (1, 0)
    again.submit("a-aid")
    again.advance()
    assert again.undo().option == "a-aid" and again.waiting.round == 0
