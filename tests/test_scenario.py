"""The loader: each kind of problem is reported at the right place, all of them in one pass."""
import pydantic
import pytest
from conftest import DATA

from sim.format.catalog import bundled
from sim.format.errors import ScenarioError
from sim.format.scenario import load, validate
from sim.format.source import parse_document

BASE = (DATA / "mechanics.scenario.yaml").read_text()


def problems(text: str) -> list[tuple[int, int, str]]:
    with pytest.raises(ScenarioError) as info:
        validate(parse_document(text, "t.yaml"))
    assert all(p.file == "t.yaml" for p in info.value.problems)
    return [(p.line, p.col, p.message) for p in info.value.problems]


def edit(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def locate(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the first occurrence of needle."""
    before = text[: text.index(needle)]
    return before.count("\n") + 1, len(before) - before.rfind("\n")


def test_the_fixture_and_bundled_scenarios_are_valid():
    validate(parse_document(BASE, "t.yaml"))
    assert {"korea-2019", "tutorial"} <= set(bundled())
    for path in bundled().values():
        load(path)


def test_unknown_key_with_a_suggestion():
    text = edit("drift: 0}\n  B.economy", "drfit: 0}\n  B.economy")
    [(line, col, msg)] = problems(text)
    assert (line, col) == locate(text, "drfit")
    assert msg == "unknown key 'drfit' (did you mean 'drift'?)"


def test_unknown_top_level_key():
    text = BASE + "mechanic: {}\n"
    [(line, col, msg)] = problems(text)
    assert (line, col) == locate(text, "mechanic: {}")
    assert "did you mean 'mechanics'" in msg


def test_missing_required_key():
    text = edit('clock: {turn_days: 7, start: "2020-01-06", horizon: 20}', 'clock: {turn_days: 7, horizon: 20}')
    [(line, col, msg)] = problems(text)
    assert (line, col) == locate(text, "{turn_days: 7, horizon")
    assert msg == "clock: missing required key 'start'"


def test_value_out_of_range():
    text = edit("label: Strike, rung: strike,", "label: Strike, rung: strike, success: 1.5,")
    [(line, col, msg)] = problems(text)
    assert (line, col) == locate(text, "1.5")
    assert msg.startswith("options[6].success: input should be less than or equal to 1")


def test_initial_value_outside_its_variable_range():
    text = edit("min: 0, max: 100, initial: 60, drift: 0}", "min: 0, max: 100, initial: 160, drift: 0}")
    [(line, col, msg)] = problems(text)
    assert line == locate(text, "initial: 160")[0]
    assert "initial 160.0 is outside the range [0.0, 100.0]" in msg


def test_an_option_for_an_actor_that_does_not_exist():
    text = edit("{id: b-calm, actor: B,", "{id: b-calm, actor: BB,")
    [(line, col, msg)] = problems(text)
    assert (line, col) == locate(text, "BB,")
    assert msg == "options[10].actor: unknown actor 'BB' (did you mean 'B'?)"


def test_a_doctrine_naming_an_unknown_option():
    text = edit("escalation: -2\n", "escalation: -2\n    options: {a-strik: 2}\n")
    [(line, col, msg)] = problems(text)
    assert (line, col) == locate(text, "a-strik: 2")
    assert msg == "doctrines.redline-responder.options: unknown option 'a-strik' (did you mean 'a-strike'?)"


def test_an_expression_with_an_unknown_name_points_into_the_expression():
    text = edit("requires: talks.open,", "requires: tension > 3 and talks.opn,")
    [(line, col, msg)] = problems(text)
    assert (line, col) == locate(text, "talks.opn")
    assert "unknown name 'talks.opn'" in msg and "did you mean 'talks.open'" in msg


@pytest.mark.parametrize("expr", ["__import__('os')", "tension ** 2", "len(tension)", "tension[0]", "'a' == 'a'"])
def test_forbidden_expressions_are_located_validation_errors(expr):
    text = edit("requires: talks.open,", f'requires: "{expr}",')
    [(line, col, msg)] = problems(text)
    assert line == locate(text, expr)[0]
    assert msg.startswith("options[3].requires: ")


def test_a_quoted_expression_is_located_inside_its_quotes():
    text = edit("requires: talks.open,", 'requires: "tension > 3 and talks.opn",')
    [(line, col, msg)] = problems(text)
    assert (line, col) == locate(text, "talks.opn")


def test_a_duplicate_key_is_rejected():
    text = edit("  C: {name: Veto holder, doctrine: dove}\n", "  C: {name: Veto holder, doctrine: dove}\n  A: {name: Again, doctrine: dove}\n")
    [(line, col, msg)] = problems(text)
    assert (line, col) == locate(text, "A: {name: Again")
    assert msg.startswith("duplicate key 'A'")


def test_a_duplicate_option_id_is_rejected():
    text = edit("{id: b-calm,", "{id: b-test,")
    [(line, col, msg)] = problems(text)
    assert line == locate(text, "{id: b-test, actor: B, label: Calm")[0]
    assert msg.startswith("duplicate id 'b-test'")


def test_every_problem_is_reported_in_one_pass():
    text = edit("drift: 0}\n  B.economy", "drfit: 0}\n  B.economy")
    text = edit("{id: b-calm, actor: B,", "{id: b-calm, actor: BB,", text)
    text = edit("requires: talks.open,", "requires: talks.opn,", text)
    text = edit("label: Strike, rung: strike,", "label: Strike, rung: strike, success: 1.5,", text)
    text = edit("crossed_by: [b-test]", "crossed_by: [b-tset]", text)
    found = problems(text)
    assert len(found) == 5
    assert [line for line, _, _ in found] == sorted(line for line, _, _ in found)
    assert any("unknown option 'b-tset'" in m for _, _, m in found)


def test_unsupported_schema_version():
    [(line, col, msg)] = problems(edit("schema_version: 1", "schema_version: 2"))
    assert (line, col) == (2, 17) and "schema_version 2" in msg


def test_the_validated_scenario_is_immutable():
    scenario = validate(parse_document(BASE, "t.yaml"))
    with pytest.raises(pydantic.ValidationError):
        scenario.options[0].label = "changed"
    with pytest.raises(pydantic.ValidationError):
        scenario.clock.horizon = 3
