"""Memory and the ladder in expressions: count(KEY, N), since(KEY), crossed(THRESHOLD),
ACTOR.position, ACTOR.peak, month and day_of_year (issue 16, part 3)."""
import pytest
from conftest import DATA, play

from sim.engine.memory import NEVER
from sim.engine.rules import Rules
from sim.engine.stepping import Engine
from sim.format.errors import ScenarioError
from sim.format.scenario import validate
from sim.format.source import parse_document

ALL = ("A", "B", "C")
TEXT = (DATA / "mechanics.scenario.yaml").read_text()
WARN = "source: {ref: notes, quote: warn}, effects: [{var: tension, delta: 2}]}"


def reading(requires: str, text: str = TEXT) -> str:
    """The mechanics scenario with A's warning requiring `requires` (so that the engine reads it)."""
    assert text.count(WARN) == 1
    return text.replace(WARN, f"source: {{ref: notes, quote: warn}}, effects: [{{var: tension, delta: 2}}],\n"
                              f"     requires: \"{requires}\"}}")


def rules_of(text: str) -> Rules:
    return Rules(validate(parse_document(text, "memory.scenario.yaml")), "memory")


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        validate(parse_document(text, "memory.scenario.yaml"))
    return [str(p) for p in caught.value.problems]


def where(text: str, needle: str, after: str = "") -> str:
    """'LINE:COL' of the first occurrence of needle after the text `after`."""
    before = text[: text.index(needle, text.index(after))]
    return f"{before.count(chr(10)) + 1}:{len(before) - before.rfind(chr(10))}"


# --- the language: what it accepts, and where it says what is wrong ------------------------

def test_the_calls_and_new_names_validate():
    rules = rules_of(reading("count(test, 3) + count(B.test, 2) + count(b-drill, 1) >= 0 and since(talks) >= 0 "
                             "and since(A.talks) >= 0 and not crossed(intense) and B.position <= B.peak "
                             "and 1 <= month <= 12 and day_of_year >= 1"))
    assert {"count(test,3)", "count(B.test,2)", "count(b-drill,1)", "since(talks)", "since(A.talks)",
            "crossed(intense)", "B.position", "B.peak", "month", "day_of_year"} <= rules.reads


@pytest.mark.parametrize("requires, at, message", [
    ("count(tset, 3) > 0", "tset", "unknown option or tag 'tset' (did you mean 'test'?)"),
    ("since(b-tset) < 4", "b-tset", "unknown option or tag 'b-tset' (did you mean 'b-test'?)"),
    ("count(A.test, 3) > 0", "A.test", "unknown option or tag 'A.test'"),  # A has no move tagged test
    ("crossed(intens)", "intens", "unknown threshold 'intens' (did you mean 'intense'?)"),
    ("count(test, 0) > 0", "0) > 0", "from 1 to 104 (got 0)"),
    ("count(test, 105) > 0", "105", "from 1 to 104 (got 105)"),
    ("count(test) > 0", ") > 0", "count(OPTION_OR_TAG, N)"),
    ("since(test, 2) > 0", "2) > 0", "since(...) takes one name"),
    ("count(test, 2.5) > 0", "count", "N a whole number"),
    ("max(tension) > 0", "max", "function calls are not supported"),
    ("B.postion > 3", "B.postion", "unknown name 'B.postion' (did you mean 'B.position'?)"),
    ("window.spring", "window.spring", "unknown name 'window.spring'"),
    ("mnth == 3", "mnth", "did you mean 'month'?"),
])
def test_a_bad_call_or_name_is_located_at_its_part(requires, at, message):
    text = reading(requires)
    found = problems(text)
    assert len(found) == 1, found
    located = where(text, at, after='requires: "' + requires)
    assert found[0].startswith(f"memory.scenario.yaml:{located}: "), found
    assert message in found[0], found


def test_a_variable_cannot_take_a_name_expressions_read_already():
    text = TEXT.replace("  talks.open:", "  month: {min: 1, max: 12, initial: 1}\n  talks.open:")
    assert any("variable 'month' has the name of a value expressions read" in p for p in problems(text))


# --- the record, over turns and across a fork ----------------------------------------------

TESTS = {0: "b-test", 2: "b-test", 3: "b-test", 4: "b-drill", 9: "b-test", 15: "b-test"}  # B's moves by turn
TALKS = {5: "a-offer", 10: "a-offer"}  # A's: tagged talks, as B's b-accept is
READ = "count(test, 3) + count(b-drill, 1) + count(talks, 20) + count(B.talks, 20) + since(test) + since(b-drill) >= 0"


def script(until: int = 99) -> dict:
    moves = {(t, "B"): o for t, o in TESTS.items() if t < until}
    moves |= {(t, "A"): o for t, o in TALKS.items() if t < until}
    return moves | {(t + 1, "B"): "b-accept" for t in TALKS if t + 1 < until}


def expected(turn: int) -> dict:
    """What the record should say at the end of `turn`, worked out from the script."""
    tests = [t for t, o in TESTS.items() if o == "b-test" and t <= turn]
    drills = [t + 1 for t, o in TESTS.items() if o == "b-drill" and t + 1 <= turn]  # prepared one turn
    offers = [t for t in TALKS if t <= turn]
    accepts = [t + 1 for t in TALKS if t + 1 <= turn]
    return {
        "count(test,3)": sum(turn - 3 < t for t in tests),
        "count(b-drill,1)": sum(t == turn for t in drills),
        "count(talks,20)": sum(turn - 20 < t for t in offers + accepts),
        "count(B.talks,20)": sum(turn - 20 < t for t in accepts),
        "since(test)": turn - max(tests) if tests else NEVER,
        "since(b-drill)": turn - max(drills) if drills else NEVER,
    }


def test_count_and_since_follow_the_moves_turn_by_turn():
    rules = rules_of(reading(READ))
    assert sorted(rules.recall.keys) == ["B.talks", "b-drill", "talks", "test"]  # only what is read
    engine = Engine(rules, seed=1, humans=ALL)
    for turn in range(rules.horizon):
        play(engine, script(), until_turn=turn + 1)
        env = engine.state.names(turn)
        for name, value in expected(turn).items():
            assert env[name][0] == value, (turn, name, env[name][0], value)


def test_the_record_is_right_in_every_rollout_of_a_fork():
    rules = rules_of(reading(READ))
    engine = play(Engine(rules, seed=1, humans=ALL), script(until=5), until_turn=5)  # the drill is in preparation
    rollouts = engine.fork(4, humans=ALL)
    assert rollouts.state.size == 4
    rest = {k: v for k, v in script().items() if k[0] >= 5}
    for turn in range(5, rules.horizon):
        play(rollouts, rest, until_turn=turn + 1)
        env = rollouts.state.names(turn)
        for name, value in expected(turn).items():
            assert (env[name] == value).all(), (turn, name, env[name], value)
    # the original, left to pass from turn 5 on, kept its own record
    play(engine, {}, until_turn=12)
    env = engine.state.names(11)
    assert env["since(test)"][0] == 11 - 3 and env["count(b-drill,1)"][0] == 0


def test_a_scenario_that_reads_no_record_keeps_none(mechanics):
    assert mechanics.recall.keys == [] and mechanics.crossed == {}
    state = Engine(mechanics, seed=1, runs=10).state
    assert state.memory.uses.size == 0 and state.memory.last.size == 0
    assert not any(name.startswith(("count(", "since(", "crossed(")) for name in state.names(0))


# --- the ladder and the date ---------------------------------------------------------------

def test_position_peak_and_crossed_read_the_ladder():
    rules = rules_of(reading("B.peak >= 6 and crossed(intense)"))
    b = rules.actor_index["B"]
    engine = play(Engine(rules, seed=1, humans=ALL), {(2, "B"): "b-test", (5, "B"): "b-calm"}, until_turn=2)
    env = engine.state.names(1)
    assert env["B.position"][0] == 0 and env["B.peak"][0] == 0 and not env["crossed(intense)"][0]
    assert dict(engine.why_not("A"))["a-warn"] is not None
    for turn in range(2, 8):
        play(engine, {(2, "B"): "b-test", (5, "B"): "b-calm"}, until_turn=turn + 1)
        env, st = engine.state.names(turn), engine.state
        assert env["B.position"][0] == st.position[0, b] and env["B.peak"][0] == st.peak[0, b] == 6
        assert env["crossed(intense)"][0] and st.threshold_turn[0, 0] == 2
        assert dict(engine.why_not("A"))["a-warn"] is None  # its requirement reads the peak and the threshold
    # the test raised B to 6 and cooling (1 a turn) lowers it; the calm move (level -2) drops it below 0
    history = engine.state.position_history[:, 0, b]
    assert history[2] == 5 and history[4] == 3 and history[5] < 0


def test_month_and_day_of_year_are_the_turns_date():
    rules = rules_of(reading("month >= 1 and day_of_year >= 1"))
    state = Engine(rules, seed=1, runs=3).state
    for turn in range(rules.horizon):
        date = rules.date(turn)
        env = state.names(turn)
        assert env["month"] == date.month and env["day_of_year"] == (date - date.replace(month=1, day=1)).days + 1


def test_a_requirement_on_the_record_opens_and_closes_a_move():
    """a-warn needs two tests within three turns. B tests in turns 1 and 2; A decides before B in
    each turn, so it sees both in turn 3 (turns 1 to 3), and only one in turn 4 (2 to 4)."""
    rules = rules_of(reading("count(b-test, 3) >= 2"))
    engine = Engine(rules, seed=1, humans=ALL)
    moves = {(1, "B"): "b-test", (2, "B"): "b-test"}
    opened = []
    while (decision := engine.advance()) is not None:
        if decision.actor == "A" and dict(engine.why_not("A"))["a-warn"] is None:
            opened.append(decision.turn)
        engine.submit(decision.actor, moves.get((decision.turn, decision.actor)))
    assert opened == [3]


def test_lint_knows_the_range_of_the_new_names(tmp_path, capsys):
    from conftest import ladder

    path = tmp_path / "never.scenario.yaml"
    path.write_text(reading("B.peak < 0 or count(test, 3) < 0 or since(test) < 0 or crossed(intense) > 1"))
    code, out, err = ladder(capsys, "lint", str(path))
    assert "which can never hold (B.peak within [0, 10])" in out + err, out + err


def test_a_call_compiled_after_the_record_was_planned_is_refused_not_misread():
    rules = rules_of(reading("count(test, 3) >= 0"))
    Engine(rules, seed=1)  # its state plans the record
    assert rules.compile("count(test, 3) > 1 and tension > 3") is not None  # already recorded
    with pytest.raises(RuntimeError, match="since\\(test\\)"):
        rules.compile("since(test) > 2")
