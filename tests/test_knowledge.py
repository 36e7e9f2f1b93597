"""What each actor knows (issue 17): views of private, noisy and late variables, covert
preparations and their detection, moves not attributed, and bots deciding on their view."""
import numpy as np
import pytest
from conftest import DATA, play
from scipy import stats

from sim.engine.rules import Rules
from sim.engine.stepping import Engine
from sim.format.scenario import load, validate
from sim.format.source import parse_document
from sim.engine.knowledge import seen_events
from sim.play.game import Game, Setup

KNOWLEDGE = DATA / "knowledge.scenario.yaml"


@pytest.fixture(scope="module")
def knowledge() -> Rules:
    return Rules(load(KNOWLEDGE).scenario, "knowledge")


def variant(old: str, new: str) -> Rules:
    text = KNOWLEDGE.read_text()
    assert old in text
    return Rules(validate(parse_document(text.replace(old, new), "variant.yaml")), "variant")


def col(engine, actor, name):
    view = engine.view(actor)
    return view.column(engine.rules.var_index[name])


def truth(engine, name):
    return engine.state.vars[:, engine.rules.var_index[name]]


def test_a_private_variable_is_never_in_another_actors_view(knowledge):
    engine = Engine(knowledge, seed=1, runs=50, humans=("B",))
    for turn in range(8):
        play(engine, {(turn, "B"): "b-build"}, until_turn=turn + 1)
        assert (truth(engine, "B.resolve") == min(50 + 10 * (turn + 1), 100)).all()
        assert (col(engine, "B", "B.resolve") == truth(engine, "B.resolve")).all()  # the owner sees it exactly
        for other in ("A", "C"):
            assert (col(engine, other, "B.resolve") == 50).all()  # what it was at the start, never the truth
            assert (engine.view(other).vars[:, knowledge.var_index["B.resolve"]] == 50).all()
        assert knowledge.knowledge.seen(knowledge.actor_index["A"], knowledge.var_index["B.resolve"]).how == "private"


def test_a_noisy_variable_is_seen_with_its_declared_error(knowledge):
    engine = Engine(knowledge, seed=2, runs=10_000)
    engine.advance(until_turn=6)
    errors = {a: col(engine, a, "B.economy") - truth(engine, "B.economy") for a in ("A", "C")}
    for error in errors.values():
        assert abs(error.mean()) < 0.2  # 4 standard errors of the mean of 10,000 draws of spread 5
        assert abs(error.std() - 5.0) < 0.15
        assert stats.kstest(error / 5.0, "norm").pvalue > 1e-3
    assert abs(np.corrcoef(errors["A"], errors["C"])[0, 1]) < 0.05  # each observer errs on its own
    assert (col(engine, "B", "B.economy") == truth(engine, "B.economy")).all()
    before = errors["A"]
    engine.advance(until_turn=7)
    after = col(engine, "A", "B.economy") - truth(engine, "B.economy")
    assert abs(np.corrcoef(before, after)[0, 1]) < 0.05  # a fresh error every turn


def test_a_late_variable_lags_by_exactly_its_turns(knowledge):
    builds = {0, 2, 3, 7, 8, 12}
    engine = Engine(knowledge, seed=3, runs=4, humans=("B",))
    history = []  # the truth at the end of each turn
    for turn in range(16):
        play(engine, {(turn, "B"): "b-build"} if turn in builds else {}, until_turn=turn + 1)
        history.append(truth(engine, "B.stock").copy())
        seen = col(engine, "A", "B.stock")
        expected = history[turn - 3] if turn >= 3 else np.zeros(4)
        assert (seen == expected).all(), turn
        assert (col(engine, "B", "B.stock") == history[turn]).all()
    assert history[-1][0] == 10 * len(builds)


def test_views_are_the_same_across_a_fork_and_a_save_and_resume(tmp_path):
    game = Game.start(Setup(str(KNOWLEDGE), 5, ("B",)))
    for turn in range(6):
        game.advance()
        game.submit("b-build" if turn % 2 == 0 else None)
    game.advance()
    views = {a: game.engine.view(a).vars for a in ("A", "B", "C")}
    rollouts = game.engine.fork(3)
    for a, seen in views.items():
        assert np.array_equal(rollouts.view(a).vars, np.repeat(seen, 3, axis=0))
    game.save(tmp_path / "k.json")
    again = Game.resume(tmp_path / "k.json")
    again.advance()
    for a, seen in views.items():
        assert np.array_equal(again.engine.view(a).vars, seen)


def _detected_by(engine, actor):
    """Per world, the first turn `actor` detected b-test's preparation (-1: never)."""
    first = np.full(engine.state.size, -1)
    for ev in reversed(engine.log.records):
        if ev.kind == "detected" and ev.actor == actor:
            first[ev.worlds] = ev.turn
    return first


@pytest.mark.parametrize("isr", [False, True])
def test_a_covert_preparation_is_detected_with_its_chance(knowledge, isr):
    runs = 4_000
    engine = Engine(knowledge, seed=4, runs=runs, humans=("A", "B"), record=True)
    play(engine, {(0, "B"): "b-test", **({(0, "A"): "a-isr"} if isr else {})}, until_turn=4)
    p = {"A": 0.8 if isr else 0.2, "C": 0.1}  # detection: {A: 0.2 + 0.6 * A.isr, C: 0.1}
    for actor, chance in p.items():
        first = _detected_by(engine, actor)
        # prepared in turn 0, carried out in turn 3: a draw in each of turns 1, 2 and 3
        for k, turn in enumerate((1, 2, 3)):
            share = (first == turn).mean()
            expected = chance * (1 - chance) ** k
            assert abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / runs) + 1e-9, (actor, turn, share)
        assert (first != 0).all()
    assert _detected_by(engine, "B").max() == -1  # an actor does not detect its own preparation


def test_an_undetected_covert_preparation_is_in_no_other_actors_news(knowledge):
    engine = Engine(knowledge, seed=4, runs=300, humans=("B",), record=True)
    play(engine, {(0, "B"): "b-test"}, until_turn=3)
    first = _detected_by(engine, "A")
    unseen = (first < 0).nonzero()[0]
    seen = (first >= 0).nonzero()[0]
    assert len(unseen) and len(seen)
    for world in unseen[:20]:
        events = engine.log.for_world(int(world))
        prepare = [e for e in events if e["kind"] == "prepare"]
        assert prepare and all("A" not in e["seen_by"] and e["seen_at"]["B"] == 0 for e in prepare)
        assert not [e for e in events if "A" in e["seen_by"] and e["subject"] == "b-test"]
    for world in seen[:20]:
        events = engine.log.for_world(int(world))
        assert [e["seen_by"] for e in events if e["kind"] == "detected" and e["actor"] == "A"] == [["A"]]
        # the preparation's record says when A learned of it: the turn of its detection
        prepare = [e for e in events if e["kind"] == "prepare"]
        assert [e["seen_at"]["A"] for e in prepare] == [first[world]]
        known = lambda now: [e["kind"] for e in seen_events(events, "A", knowledge, now) if e["subject"] == "b-test"]  # noqa: E731
        assert known(int(first[world]) - 1) == []
        assert known(int(first[world])) == ["prepare", "detected"]
        # A knows it saw the preparation, not who else did (C may have detected it too)
        hidden = [e for e in seen_events(events, "A", knowledge) if e["kind"] in ("prepare", "detected")]
        assert {tuple(e["seen_by"]) for e in hidden} == {("A",)}


def test_a_bot_knows_of_a_covert_preparation_only_once_it_detects_it(knowledge):
    # A presses when `prepared(b-test)` holds on its view: before detection it calms, as if nothing were under way
    engine = Engine(knowledge, seed=6, runs=2_000, humans=("B",), record=True)
    play(engine, {(0, "B"): "b-test"}, until_turn=3)
    first = _detected_by(engine, "A")
    pressed = np.zeros((3, engine.state.size), dtype=bool)
    for ev in engine.log.records:
        if ev.kind == "move" and ev.subject == "a-press" and ev.turn < 3:
            pressed[ev.turn, ev.worlds] = True
    for turn in (1, 2):
        knows = (first >= 0) & (first <= turn)
        assert pressed[turn][knows].mean() > 0.9
        assert pressed[turn][~knows].mean() < 0.1


def test_a_bot_decides_on_its_view_not_on_the_truth(knowledge):
    # B's resolve climbs past A's threshold (60) in the truth; A's view keeps it private at 50
    def pressing(rules):
        engine = Engine(rules, seed=7, runs=500, humans=("B",), record=True)
        play(engine, {(t, "B"): "b-build" for t in range(4)}, until_turn=6)
        return sum(len(ev.worlds) for ev in engine.log.records if ev.kind == "move" and ev.turn == 5 and ev.subject == "a-press") / 500

    assert pressing(knowledge) < 0.1
    assert pressing(variant("B.resolve: private", "B.resolve: public")) > 0.9


def test_a_move_not_attributed_is_seen_by_its_actor_alone(knowledge):
    engine = Engine(knowledge, seed=8, runs=1, humans=("A", "B", "C"), record=True)
    play(engine, {(1, "B"): "b-hack"}, until_turn=3)
    hack = [e for e in engine.log.for_world(0) if e["subject"] == "b-hack"]
    assert [e["seen_by"] for e in hack] == [["B"]]
    b = knowledge.actor_index["B"]
    assert engine.state.position[0, b] > 0  # the truth climbed
    assert engine.view("A").position[0, b] == 0 < engine.view("B").position[0, b]  # others saw nothing


def test_a_forecast_fork_starts_from_what_the_actor_knows(knowledge):
    engine = Engine(knowledge, seed=9, runs=1, humans=("A", "B", "C"), record=True)
    play(engine, {(0, "B"): "b-test", (1, "B"): "b-build"}, until_turn=2)
    detected = _detected_by(engine, "A")[0] >= 0
    rollouts = engine.fork(200, as_seen_by="A")
    resolve = rollouts.state.vars[:, knowledge.var_index["B.resolve"]]
    assert (resolve == 50).all()  # A believes B's resolve is what it was
    b_test = knowledge.option_index["b-test"]
    assert ((rollouts.state.ready[b_test] >= 0) == detected).all()  # an undetected test is not in A's future
    economy = rollouts.state.vars[:, knowledge.var_index["B.economy"]]
    assert economy.std() > 2  # drawn around A's belief, with its spread
    truthful = engine.fork(200)
    assert (truthful.state.vars[:, knowledge.var_index["B.resolve"]] == 60).all()


@pytest.mark.parametrize("old, new, message", [
    ("B.resolve: private", "B.resolv: private", "visibility: unknown variable 'B.resolv' (did you mean 'B.resolve'?)"),
    ("{noisy: 5}", "{noisy: -5}", "visibility.B.economy.noisy: input should be greater than 0 (got -5)"),
    ("{late: 3}", "{late: -1}", "visibility.B.stock.late: input should be greater than or equal to 1 (got -1)"),
    ("C: 0.1}", "C: 1.5}", "options[1].detection.C: input should be less than or equal to 1 (got 1.5)"),
    ("0.2 + 0.6 * A.isr", "0.2 + A.sr", "options[1].detection.A: unknown name 'A.sr' (did you mean 'A.isr'?)"),
    ("C: 0.1}", "B: 0.1}", "options[1].detection.B: an actor does not detect its own preparation"),
    ("prepare: 3, visible: false,\n     detection", "prepare: 3,\n     detection", "options[1].detection: only a covert preparation is detected"),
    ("when: prepared(b-test)", "when: prepared(b-build)", "unknown option that takes preparing 'b-build'"),
])
def test_bad_knowledge_is_located(capsys, tmp_path, old, new, message):
    from conftest import one_error_line

    text = KNOWLEDGE.read_text()
    assert text.count(old) == 1, old
    path = tmp_path / "k.scenario.yaml"
    path.write_text(text.replace(old, new))
    line = one_error_line(capsys, "show", str(path))
    changed = text.replace(old, new)
    row = changed[:changed.index(new) + len(new)].count("\n") + 1  # where the problem is: the change's last line
    assert line.startswith(f"{path}:{row}:") and message in line, line


def test_the_events_an_actor_saw_hold_no_hidden_change(knowledge):
    engine = Engine(knowledge, seed=8, runs=1, humans=("A", "B", "C"), record=True)
    play(engine, {(0, "B"): "b-build", (1, "B"): "b-hack"}, until_turn=3)
    events = engine.log.for_world(0)
    build = [e for e in events if e["subject"] == "b-build"]
    assert set(build[0]["changes"]) == {"B.stock", "B.resolve", "B.economy"}
    for actor in ("A", "C"):
        seen = seen_events(events, actor, knowledge)
        assert [e["changes"] for e in seen if e["subject"] == "b-build"] == [{}]  # the move, not what it changed
        assert not [e for e in seen if e["subject"] == "b-hack"]
    assert seen_events(events, "B", knowledge) == events


def test_show_says_what_is_hidden(capsys):
    from conftest import ladder

    code, out, _ = ladder(capsys, "show", str(KNOWLEDGE))
    hidden = out.split("Hidden from other actors:\n")[1].split("\n\n")[0].splitlines()
    assert code == 0 and [line.strip() for line in hidden] == [
        "B.resolve: private", "B.economy: seen with an error of 5", "B.stock: seen 3 turns late",
        "Covert test [b-test]: covert preparation, detection A 0.2 + 0.6 * A.isr; C 0.1", "Hack [b-hack]: not attributed"]
    assert "Hidden" not in ladder(capsys, "show", "tutorial")[1]


def test_what_follows_a_hidden_move_is_seen_by_those_who_saw_the_move():
    # b-hack made covert (A detects it for certain) and given a lagged effect
    text = KNOWLEDGE.read_text().replace(
        "effects: [{var: A.alert, delta: 10}]", "effects: [{var: A.alert, delta: 10}, {var: tension, delta: 4, lag: 1}]").replace(
        "attributed: false,", "attributed: false, prepare: 1, visible: false, detection: {A: 1.0},")
    rules = Rules(validate(parse_document(text, "v.yaml")), "v")
    engine = Engine(rules, seed=1, runs=1, humans=("B",), record=True)
    play(engine, {(0, "B"): "b-hack"}, until_turn=4)
    hack = [(e["kind"], e["seen_by"]) for e in engine.log.for_world(0) if e["subject"] == "b-hack"]
    assert hack == [("prepare", ["A", "B"]), ("detected", ["A"]), ("move", ["A", "B"]), ("effect", ["A", "B"])]
