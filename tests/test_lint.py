"""`ladder lint`: each kind of warning, located where the designer wrote the part at fault."""
import shutil

import pytest
from conftest import DATA

from sim.authoring.lint import lint
from sim.cli import main
from sim.format.catalog import bundled

WARNINGS = DATA / "lint" / "warnings.scenario.yaml"
TEXT = WARNINGS.read_text()


def locate(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the only occurrence of needle."""
    assert text.count(needle) == 1, needle
    before = text[: text.index(needle)]
    return before.count("\n") + 1, len(before) - before.rfind("\n")


def warnings_of(path) -> dict[tuple[int, int], str]:
    found = lint(path)
    assert all(p.file == str(path) and p.message.startswith("warning: ") for p in found)
    return {(p.line, p.col): p.message for p in found}


def edited(tmp_path, old: str, new: str):
    assert TEXT.count(old) == 1, old
    path = tmp_path / "edited.scenario.yaml"
    path.write_text(TEXT.replace(old, new))
    return path


@pytest.fixture(scope="module")
def found() -> dict[tuple[int, int], str]:
    return warnings_of(WARNINGS)


@pytest.mark.parametrize("needle, expected", [
    ('"tension > 100"', "option 'a-overreach' requires 'tension > 100', which can never hold (tension within [0, 100])"),
    ("b-accept", "option 'b-accept' is never chosen in 1,000 games"),
    ("unused", "rung 'unused' has no options"),
    ("A: {name: Climber", "actor 'A' has no way down the ladder"),
    ("A.fixed: {owner", "variable 'A.fixed' never changes"),
    ("A.unread: {owner", "variable 'A.unread' is never read"),
    ('" "}', "option 'b-calm' has no source quote"),
    ("10, effects", "inject 'too-late' falls in turn 10, after the horizon (turns 0 to 9)"),
])
def test_each_kind_of_warning_is_located_at_the_part_at_fault(found, needle, expected):
    message = found.get(locate(TEXT, needle))
    assert message is not None and message.startswith(f"warning: {expected}"), (needle, found)


def test_nothing_else_is_warned_about(found):
    assert len(found) == 9  # a-overreach twice: its requirement never holds, so no bot takes it
    sound = ["'a-shout'", "option 'b-calm' is never", "'B'", "'calm'", "'words'", "'tension'", "'on-time'"]
    assert not [message for message in found.values() for part in sound if part in message]


@pytest.mark.parametrize("requires, never", [
    ("tension > 100", True),
    ("tension >= 100", False),
    ("tension < 0 or A.fixed > 200", True),
    ("tension < 0 or A.fixed > 20", False),
    ("not (tension <= 100)", True),
    ("tension + A.fixed > 250", True),
    ("tension - A.fixed * 2 > 99", False),  # 100 - 0 * 2
    ("0 < tension < 10 < A.fixed", False),
    ("0 < tension < -1", True),
    ("tension == 120", True),
    ("tension != tension", False),  # intervals do not know both sides are one variable
    ("tension / A.fixed > 1000", False),  # a division by zero can give anything
    ("-tension > 0", True),
    ("turn >= 10", True),  # the horizon is 10 turns: 0 to 9
    ("turn >= 9", False),
    ("false", True),
    ("true and tension > 90", False),
])
def test_requirements_are_judged_by_interval_arithmetic_over_the_variable_ranges(tmp_path, requires, never):
    path = edited(tmp_path, '"tension > 100"', f'"{requires}"')
    messages = warnings_of(path).values()
    assert any("which can never hold" in m for m in messages) == never, messages


def test_an_inject_dated_after_the_horizon_is_located_at_its_date(tmp_path):
    path = edited(tmp_path, "turn: 10,", 'date: "2020-03-16",')  # turn 10 of a 10-turn game
    text = path.read_text()
    assert warnings_of(path)[locate(text, '"2020-03-16"')].startswith("warning: inject 'too-late' falls in turn 10")


def test_a_variable_that_drifts_to_a_baseline_changes(tmp_path):
    path = edited(tmp_path, "A.fixed: {owner: A, initial: 5}", "A.fixed: {owner: A, initial: 5, baseline: 0, drift: 0.1}")
    assert not any("'A.fixed' never changes" in m for m in warnings_of(path).values())


def test_a_variant_is_warned_about_in_the_file_that_wrote_the_part(tmp_path):
    base = shutil.copy(WARNINGS, tmp_path / "warnings.scenario.yaml")
    variant = tmp_path / "variant.scenario.yaml"
    variant.write_text("extends: warnings.scenario.yaml\nclock: {horizon: 12}\n")
    found = {(p.file, p.line, p.col): p.message for p in lint(variant)}
    assert "rung 'unused' has no options" in found[(str(base), *locate(TEXT, "unused"))]
    assert not any("too-late" in message for message in found.values())  # turn 10 is now within the horizon


def test_clean_scenarios_give_no_warnings():
    assert lint(bundled()["tutorial"]) == []


def test_cli_prints_located_warnings_and_exits_0_or_1_with_strict(capsys):
    assert main(["lint", str(WARNINGS), "tutorial"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[-1] == "tutorial: ok" and err == ""
    assert len(lines) == 10 and all(line.startswith(f"{WARNINGS}:") for line in lines[:-1])
    line, col = locate(TEXT, "unused")
    assert f"{WARNINGS}:{line}:{col}: warning: rung 'unused' has no options: no move ever reaches it" in lines
    assert main(["lint", "--strict", str(WARNINGS)]) == 1
    assert main(["lint", "--strict", "tutorial"]) == 0


def test_cli_reports_an_invalid_file_like_validate_with_exit_2(capsys, tmp_path):
    path = edited(tmp_path, "rung: calm, category: diplomatic,\n     source: {ref: notes, quote: accept}",
                  "rung: nowher, category: diplomatic,\n     source: {ref: notes, quote: accept}")
    assert main(["lint", "--strict", str(path), "tutorial"]) == 2
    out, err = capsys.readouterr()
    [line] = err.strip().splitlines()
    assert line.startswith(f"{path}:") and "unknown rung 'nowher'" in line and "Traceback" not in err
    assert out == "tutorial: ok\n"


# --- issue 14: thresholds, lags and actors that never play ------------------------------------

RUNGS_END = "    - {id: unused, level: 5, label: Nobody comes here, group: crisis}\n"


@pytest.mark.parametrize("level, expected", [
    (9, "threshold 'edge' is at level 9, above the top rung (5): no position ever reaches it"),
    (0, "threshold 'edge' is at level 0: every position is at least 0"),
    (-3, "threshold 'edge' is at level -3: every position is at least 0"),
])
def test_a_threshold_no_position_reaches(tmp_path, level, expected):
    path = edited(tmp_path, RUNGS_END, RUNGS_END + f"  thresholds:\n    - {{id: edge, label: Edge, level: {level}}}\n")
    found = warnings_of(path)
    line, col = locate(path.read_text(), "Edge, level: ")
    message = found.get((line, col + len("Edge, level: ")))
    assert message is not None and message.startswith(f"warning: {expected}"), found


def test_an_effect_lagging_past_the_horizon(tmp_path):
    path = edited(tmp_path, "turn: 9, effects: [{var: tension, delta: 1}]", "turn: 9, effects: [{var: tension, delta: 1, lag: 10}]")
    message = warnings_of(path).get(locate(path.read_text(), "10}]"))
    assert message == ("warning: an effect of 'on-time' lags 10 turns, as long as the game or longer (10 turns): "
                       "it never takes effect")


def test_an_actor_with_no_options(tmp_path):
    path = edited(tmp_path, "  B: {name: Calmer", "  C: {name: Idle, doctrine: plain}\n  B: {name: Calmer")
    message = warnings_of(path).get(locate(path.read_text(), "C: {name: Idle"))
    assert message == "warning: actor 'C' has no options: it never moves"
