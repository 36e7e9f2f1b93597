"""`ladder new`: a skeleton that validates and lints clean, variants of a scenario, no overwriting."""
import re

import pytest
import yaml
from conftest import ladder, one_error_line

from sim.authoring.lint import lint
from sim.format.catalog import bundled, bundled_dir
from sim.format.model import Scenario
from sim.format.scenario import load


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def test_the_skeleton_validates_lints_clean_and_says_how_to_try_it(capsys, tmp_path):
    (tmp_path / "crises").mkdir()
    code, out, err = ladder(capsys, "new", "crises/mine")
    path = tmp_path / "crises" / "mine.scenario.yaml"
    assert code == 0 and err == ""
    assert out == ("wrote crises/mine.scenario.yaml; try it: ladder validate crises/mine.scenario.yaml"
                   " && ladder play crises/mine.scenario.yaml\n")
    load(path)
    assert lint(path) == []


def test_the_skeleton_names_the_schema_relative_to_itself_for_editors(capsys, tmp_path):
    (tmp_path / "deep" / "er").mkdir(parents=True)
    ladder(capsys, "new", "deep/er/mine")
    first = (tmp_path / "deep" / "er" / "mine.scenario.yaml").read_text().splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix)
    schema = tmp_path / "deep" / "er" / first[len(prefix):]
    assert schema.resolve() == (bundled_dir() / "scenario.schema.json").resolve() and schema.is_file()


def test_the_skeleton_shows_every_section_of_the_format(capsys, tmp_path):
    ladder(capsys, "new", "mine")
    text = (tmp_path / "mine.scenario.yaml").read_text()
    sections = set(Scenario.model_fields) - {"extends"}  # a skeleton is whole; `--from` writes variants
    missing = [s for s in sections if not re.search(rf"^(# )?{s}:", text, re.MULTILINE)]
    assert not missing


def test_each_key_shown_commented_out_in_the_skeleton_is_valid_once_uncommented(capsys, tmp_path):
    ladder(capsys, "new", "mine")
    text = (tmp_path / "mine.scenario.yaml").read_text()
    commented = re.findall(r"^ +# [\w.-]+: .*$", text, re.MULTILINE)
    assert len(commented) > 10
    for line in commented:
        (tmp_path / "one.scenario.yaml").write_text(text.replace(line, line.replace("# ", "", 1), 1))
        load(tmp_path / "one.scenario.yaml")
    calibration = text[text.index("# calibration:"):]
    (tmp_path / "one.scenario.yaml").write_text(text.replace(calibration, re.sub("^# ", "", calibration, flags=re.MULTILINE)))
    assert load(tmp_path / "one.scenario.yaml").scenario.calibration is not None


def test_a_variant_extends_its_base_and_lists_its_values_commented_out(capsys, tmp_path):
    code, out, _ = ladder(capsys, "new", "mine", "--from", "korea-2019")
    path = tmp_path / "mine.scenario.yaml"
    assert code == 0 and out.startswith("wrote mine.scenario.yaml;")
    text = path.read_text()
    assert yaml.safe_load(text) == {"extends": "korea-2019"}
    base = load(bundled()["korea-2019"]).scenario
    assert load(path).scenario == base
    # Uncommented, every listed value is valid and is the base's own value.
    head, tail = text.split("\nextends:")
    listed = head + "\nextends:" + re.sub(r"^# (?= *[\w.-]+:( |$))", "", tail, flags=re.MULTILINE)
    uncommented = tmp_path / "uncommented.scenario.yaml"
    uncommented.write_text(listed)
    data = yaml.safe_load(listed)
    assert data["actors"]["DPRK"] == {"doctrine": "brinkmanship"}
    assert data["clock"] == {"horizon": 52} and data["mechanics"]["hazard"]["midpoint"] == base.mechanics.hazard.midpoint
    assert "China.enforcement" in data["variables"]  # what korea-2019's sanctions scale reads
    assert load(uncommented).scenario == base


def test_a_variant_of_a_file_extends_it_by_a_path_relative_to_the_new_file(capsys, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "base.scenario.yaml").write_text(bundled()["tutorial"].read_text())
    assert ladder(capsys, "new", "variant", "--from", "a/base.scenario.yaml")[0] == 0
    path = tmp_path / "variant.scenario.yaml"
    assert yaml.safe_load(path.read_text()) == {"extends": "a/base.scenario.yaml"}
    assert load(path).scenario == load(bundled()["tutorial"]).scenario
    # a base outside the new file's folder would be refused by `extends`: so is the variant
    line = one_error_line(capsys, "new", "b/variant", "--from", "a/base.scenario.yaml")
    assert "a variant must be in the folder of its base" in line and not (tmp_path / "b" / "variant.scenario.yaml").exists()


def test_a_name_may_end_with_the_suffix(capsys, tmp_path):
    assert ladder(capsys, "new", "mine.scenario.yaml")[0] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["mine.scenario.yaml"]


def test_an_existing_file_is_never_overwritten(capsys, tmp_path):
    (tmp_path / "mine.scenario.yaml").write_text("my work\n")
    line = one_error_line(capsys, "new", "mine")
    assert line.startswith("ladder: error: mine.scenario.yaml: already exists")
    one_error_line(capsys, "new", "mine", "--from", "tutorial")
    assert (tmp_path / "mine.scenario.yaml").read_text() == "my work\n"


def test_a_missing_folder_is_an_error_not_created(capsys, tmp_path):
    line = one_error_line(capsys, "new", "nowhere/mine")
    assert line == "ladder: error: nowhere/mine.scenario.yaml: the folder nowhere does not exist; create it first"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, expected", [
    (["new", "mine", "--from", "korea-2091"], "unknown scenario 'korea-2091' (did you mean 'korea-2019'?)"),
    (["new", "mine", "--from", "missing.scenario.yaml"], "missing.scenario.yaml:1:1: no such file"),
    (["new", "crises/"], "'crises/' does not name a file"),
    (["new"], "the following arguments are required: NAME"),
])
def test_bad_input_is_one_clear_line(capsys, tmp_path, argv, expected):
    assert expected in one_error_line(capsys, *argv)
    assert list(tmp_path.iterdir()) == []
