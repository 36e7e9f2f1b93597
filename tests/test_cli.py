"""The `ladder` command as a user meets it: output, exit codes, and one located line per bad input."""
import json

import pytest
from conftest import DATA, ladder, one_error_line

FIXTURE = str(DATA / "mechanics.scenario.yaml")


def test_validate_takes_a_bundled_name_as_every_other_command_does(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = ladder(capsys, "validate", "korea-2019", "tutorial")
    assert (code, out, err) == (0, "korea-2019: ok\ntutorial: ok\n", "")
    code, _, err = ladder(capsys, "validate", "korea-2091")
    assert code == 2 and err == "korea-2091:1:1: no such file\n"


def test_list_shows_the_bundled_scenarios(capsys):
    code, out, _ = ladder(capsys, "list")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert "korea-2019" in names and "tutorial" in names


def test_show_lists_options_on_their_rungs(capsys):
    code, out, _ = ladder(capsys, "show", FIXTURE)
    assert code == 0
    ladder_part = out.split("Ladder")[1]
    assert ladder_part.index("Strike  (war)") < ladder_part.index("[a-strike]") < ladder_part.index("Test  (intense")
    assert "threshold 6: Intense crisis" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_show_json_is_the_normalised_scenario(capsys):
    code, out, _ = ladder(capsys, "show", FIXTURE, "--json")
    data = json.loads(out)
    assert code == 0
    assert data["options"][0]["success"] == 1.0  # defaults filled in
    assert data["doctrines"]["hawk"]["pass"] == 0.0


def test_validate_reports_ok_per_file_and_every_problem(capsys, tmp_path):
    bad = tmp_path / "bad.scenario.yaml"
    bad.write_text(
        (DATA / "mechanics.scenario.yaml").read_text().replace("actor: B, label: Calm", "actor: Q, label: Calm")
        .replace("requires: talks.open", "requires: talks.opn")
    )
    code, out, err = ladder(capsys, "validate", FIXTURE, str(bad))
    assert code == 2
    assert out == f"{FIXTURE}: ok\n"
    lines = err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{bad}:") for line in lines)


def test_run_tells_a_dated_story_at_80_columns(capsys):
    code, out, _ = ladder(capsys, "run", "korea-2019", "--seed", "4")
    assert code == 0
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "OUTCOME:" in lines[-1]
    assert sum(line[:4].isdigit() for line in lines) > 10


def test_run_json_has_the_documented_keys_and_is_reproducible(capsys):
    _, first, _ = ladder(capsys, "run", "korea-2019", "--seed", "9", "--json", "--doctrine", "US=dove")
    _, again, _ = ladder(capsys, "run", "korea-2019", "--seed", "9", "--json", "--doctrine", "US=dove")
    data = json.loads(first)
    assert {"scenario", "seed", "outcome", "end_turn", "events", "final_state"} <= set(data)
    assert data["doctrines"]["US"] == "dove" and data["seed"] == 9
    assert first == again


def test_bench_quick_reports_the_documented_figures(capsys):
    code, out, _ = ladder(capsys, "bench", FIXTURE, "--quick", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["floor_worlds_per_s"] > 0 and set(data["batch_worlds_per_s"]) == {"1", "1000"}
    assert data["ratio_1000_vs_floor"] > 0 and data["with_values_ms"] > 0


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "1:1: empty document"),
        (b"# just a comment\n", "1:1: empty document"),
        (b"title: [unclosed\n", ":2:1: "),
        (b"a: 1\n\xff\xfe: 2\n", ":2:1: not valid UTF-8"),
        (b"x: !!python/object/apply:os.system ['echo pwned']\n", ":1:4: unsupported YAML tag"),
        (b"- just\n- a list\n", "must be a mapping"),
        (b"[" * 200 + b"]" * 200, "nesting too deep"),
    ],
)
def test_bad_files_get_one_located_line(capsys, tmp_path, content, expected):
    path = tmp_path / "bad.scenario.yaml"
    path.write_bytes(content)
    line = one_error_line(capsys, "validate", str(path))
    assert line.startswith(str(path) + ":") and expected in line


def test_an_alias_bomb_is_refused(capsys, tmp_path):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines))
    assert "too many nodes" in one_error_line(capsys, "validate", str(path))


def test_a_huge_file_is_refused_before_it_is_parsed(capsys, tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("x: " + "a" * (5 * 1024 * 1024))
    assert "file too large" in one_error_line(capsys, "run", str(path))


def test_missing_files_directories_and_unknown_names(capsys, tmp_path):
    assert "no such file" in one_error_line(capsys, "show", str(tmp_path / "nope.scenario.yaml"))
    assert "is a directory" in one_error_line(capsys, "validate", str(tmp_path))
    line = one_error_line(capsys, "run", "korea-2091")
    assert "unknown scenario 'korea-2091'" in line and "did you mean 'korea-2019'" in line


@pytest.mark.parametrize(
    "flag, expected",
    [
        ("US=dovish", "unknown doctrine 'dovish' (did you mean 'dove'?)"),
        ("USA=dove", "unknown actor 'USA'"),
        ("US", "expected ACTOR=PRESET"),
    ],
)
def test_a_bad_doctrine_flag(capsys, flag, expected):
    assert expected in one_error_line(capsys, "run", "korea-2019", "--doctrine", flag)


def test_bad_flags_and_commands(capsys):
    assert "--seed" in one_error_line(capsys, "run", "korea-2019", "--seed", "minus-one")
    assert "invalid choice" in one_error_line(capsys, "frobnicate")
    assert "unrecognized arguments" in one_error_line(capsys, "list", "--fast")


def test_numbers_agree_with_their_nouns(capsys, tmp_path):
    """'1 turn of 1 day', never '1 turns of 1 days' (issue 14, item 11)."""
    from sim.format.words import plural

    path = tmp_path / "short.scenario.yaml"
    path.write_text((DATA / "mechanics.scenario.yaml").read_text().replace("turn_days: 7", "turn_days: 1")
                    .replace("horizon: 20", "horizon: 1"))
    code, out, _ = ladder(capsys, "show", str(path))
    assert code == 0 and ", 1 turn of 1 day" in out
    assert (plural(1, "run"), plural(2, "day"), plural(1000, "game", spec=",")) == ("1 run", "2 days", "1,000 games")
