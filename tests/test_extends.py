"""Variants: `extends: BASE` merges a scenario over its bases, and every value keeps its file and line."""
import json
import shutil

import pytest
from conftest import DATA

from sim.cli import main
from sim.format.catalog import bundled
from sim.format.errors import ScenarioError
from sim.format.scenario import load

EXTENDS = DATA / "extends"
MECHANICS = DATA / "mechanics.scenario.yaml"


def ladder(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def locate(path, needle: str) -> tuple[int, int]:
    """1-based line and column of the first occurrence of needle in a file."""
    text = path.read_text()
    before = text[: text.index(needle)]
    return before.count("\n") + 1, len(before) - before.rfind("\n")


def write(folder, name: str, text: str):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def problems(path) -> list:
    with pytest.raises(ScenarioError) as info:
        load(path)
    return info.value.problems


@pytest.fixture
def base(tmp_path):
    """A copy of the mechanics bench beside the variants a test writes."""
    return shutil.copy(MECHANICS, tmp_path / "base.scenario.yaml")


# --- merging -------------------------------------------------------------------------------


def test_mappings_merge_down_to_single_values():
    plain, variant = load(MECHANICS).scenario, load(DATA / "variant.scenario.yaml").scenario
    assert variant.title == "Mechanics test bench, hawkish B"
    assert variant.actors["B"].doctrine == "tit-for-tat"
    assert variant.actors["B"].name == plain.actors["B"].name and variant.actors["B"].values == plain.actors["B"].values
    hawk = variant.doctrines["hawk"]
    assert hawk.escalation == 5
    assert (hawk.description, hawk.risk_aversion) == (plain.doctrines["hawk"].description, plain.doctrines["hawk"].risk_aversion)
    assert variant.doctrines["bold"].escalation == 8  # a new doctrine joins those of the base
    assert variant.options == plain.options and variant.ladder.rungs == plain.ladder.rungs


def test_lists_replace_and_null_deletes():
    variant = load(DATA / "variant.scenario.yaml").scenario
    assert [t.id for t in variant.ladder.thresholds] == ["high"]
    assert "redline-responder" not in variant.doctrines
    assert list(variant.doctrines) == ["hawk", "dove", "tit-for-tat", "bold"]  # the base's order, then new keys


def test_several_bases_merge_left_to_right_then_the_file_itself(tmp_path, base):
    write(tmp_path, "calm.yaml", "title: Calm\ndoctrines: {hawk: {escalation: 1, temperature: 3}}\n")
    write(tmp_path, "wild.yaml", "title: Wild\ndoctrines: {hawk: {escalation: 9}}\n")
    one = write(tmp_path, "one.scenario.yaml", "extends: [base.scenario.yaml, calm.yaml, wild.yaml]\n")
    other = write(tmp_path, "other.scenario.yaml", "extends: [base.scenario.yaml, wild.yaml, calm.yaml]\ntitle: Mine\n")
    hawk = load(one).scenario.doctrines["hawk"]
    assert (load(one).scenario.title, hawk.escalation, hawk.temperature) == ("Wild", 9, 3)
    assert (load(other).scenario.title, load(other).scenario.doctrines["hawk"].escalation) == ("Mine", 1)


def test_a_bundled_base_by_name(tmp_path):
    path = write(tmp_path, "v.scenario.yaml", "extends: tutorial\nclock: {horizon: 10}\n")
    tutorial = load(bundled()["tutorial"]).scenario
    assert load(path).scenario == tutorial.model_copy(update={"clock": tutorial.clock.model_copy(update={"horizon": 10})})


def test_a_path_is_relative_to_the_extending_file_not_the_working_folder(tmp_path, base, monkeypatch):
    shutil.copy(base, write(tmp_path, "deep/er/base.scenario.yaml", ""))
    write(tmp_path, "deep/middle.scenario.yaml", "extends: er/base.scenario.yaml\ntitle: Middle\n")
    path = write(tmp_path, "v.scenario.yaml", "extends: deep/middle.scenario.yaml\ntitle: Deeper\n")
    monkeypatch.chdir(tmp_path / "deep")
    assert load(path).scenario.title == "Deeper"


@pytest.mark.parametrize("where", ["/etc/passwd", "../outside.scenario.yaml", "sub/../../outside.scenario.yaml",
                                   "link.scenario.yaml"])
def test_a_base_outside_the_folder_of_the_file_named_is_refused(tmp_path, base, where):
    """Bases are bundled names or files in the folder tree of the file the user named: a scenario
    cannot make validation read /etc/passwd or ../credentials and quote them in its messages."""
    shutil.copy(base, tmp_path / "outside.scenario.yaml")
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "link.scenario.yaml").symlink_to(tmp_path / "outside.scenario.yaml")
    path = write(tmp_path, "in/v.scenario.yaml", f"title: T\nextends: {where}\n")
    [p] = problems(path)
    assert (p.file, p.line, p.col) == (str(path), 2, 10)
    assert p.message.startswith(f"extends: '{where}' is outside this scenario's folder")


def test_a_base_in_a_subfolder_may_extend_a_file_beside_the_top_one(tmp_path, base):
    write(tmp_path, "sub/middle.scenario.yaml", "extends: ../base.scenario.yaml\ntitle: Middle\n")
    path = write(tmp_path, "v.scenario.yaml", "extends: sub/middle.scenario.yaml\n")
    assert load(path).scenario.title == "Middle"


def test_a_diamond_of_extends_reads_and_merges_each_base_once(tmp_path, base, monkeypatch):
    import sim.format.extends
    import sim.format.scenario

    for i in range(9):
        below = f"f{i + 1}.scenario.yaml" if i < 8 else base.name
        write(tmp_path, f"f{i}.scenario.yaml", f"extends: [{below}, {below}, {below}, {below}]\ntitle: level {i}\n")
    reads = []
    real = sim.format.source.read_document
    for module in (sim.format.scenario, sim.format.extends):  # the file named, and its bases
        monkeypatch.setattr(module, "read_document", lambda path: reads.append(path) or real(path))
    assert load(tmp_path / "f0.scenario.yaml").scenario.title == "level 0"
    assert len(reads) == 10  # was 4 + 16 + ... + 4^9 reads and merges: a hang


def test_the_files_of_an_extends_graph_are_bounded(tmp_path, base):
    names = [f"b{i}.scenario.yaml" for i in range(40)]
    for name in names:
        write(tmp_path, name, f"extends: {base.name}\n")
    path = write(tmp_path, "v.scenario.yaml", f"extends: [{', '.join(names)}]\n")
    assert "files extended in all" in problems(path)[0].message


def test_a_base_may_itself_extend_another(tmp_path, base):
    write(tmp_path, "middle.scenario.yaml", "extends: base.scenario.yaml\ntitle: Middle\nclock: {horizon: 5}\n")
    path = write(tmp_path, "top.scenario.yaml", "extends: middle.scenario.yaml\nclock: {horizon: 7}\n")
    scenario = load(path).scenario
    assert (scenario.title, scenario.clock.horizon, scenario.clock.start) == ("Middle", 7, "2020-01-06")


# --- problems, located where the value was written ------------------------------------------


def test_a_cycle_is_reported_with_its_chain(tmp_path):
    a = EXTENDS / "cycle-a.scenario.yaml"
    [p] = problems(a)
    b = EXTENDS / "cycle-b.scenario.yaml"
    assert (p.file, p.line, p.col) == (str(b), *locate(b, "cycle-a.scenario.yaml"))
    assert p.message == "extends: a cycle: cycle-a.scenario.yaml -> cycle-b.scenario.yaml -> cycle-a.scenario.yaml"
    itself = write(tmp_path, "self.scenario.yaml", "extends: self.scenario.yaml\n")
    assert [p.message for p in problems(itself)] == ["extends: a cycle: self.scenario.yaml -> self.scenario.yaml"]


def test_a_chain_of_more_than_16_files_is_refused(tmp_path, base):
    for i in range(16):  # v0 extends v1 ... v15 extends the base: 17 files
        write(tmp_path, f"v{i}.scenario.yaml", f"extends: {f'v{i + 1}.scenario.yaml' if i < 15 else base.name}\n")
    assert load(tmp_path / "v1.scenario.yaml").scenario.title == load(base).scenario.title  # 16 files
    [p] = problems(tmp_path / "v0.scenario.yaml")
    assert (p.file, p.line, p.message) == (str(tmp_path / "v15.scenario.yaml"), 1, "extends: more than 16 files in a chain of extends")


def test_a_missing_base_file_is_located_at_the_extends_value(tmp_path, base):
    path = write(tmp_path, "v.scenario.yaml", "title: T\nextends: [base.scenario.yaml, nowhere.scenario.yaml]\n")
    [p] = problems(path)
    assert (p.file, p.line, p.col) == (str(path), *locate(path, "nowhere"))
    assert p.message == f"extends[1]: no such file '{tmp_path / 'nowhere.scenario.yaml'}'"


def test_an_unknown_bundled_name_suggests_one(tmp_path):
    path = write(tmp_path, "v.scenario.yaml", "extends: tutorail\n")
    [p] = problems(path)
    assert (p.line, p.col, p.message) == (1, 10, "extends: unknown scenario 'tutorail' (did you mean 'tutorial'?)")


@pytest.mark.parametrize("value", ["3", "[]", "null", "{a: b}", "[tutorial, [korea-2019]]"])
def test_extends_of_the_wrong_type(tmp_path, value):
    path = write(tmp_path, "v.scenario.yaml", f"title: T\nextends: {value}\n")
    [p] = problems(path)
    assert p.file == str(path) and p.line == 2
    assert "expected a bundled scenario name or a file path, or a list of them" in p.message


def test_an_unknown_key_in_a_variant_is_located_there_with_a_suggestion(tmp_path, base):
    path = write(tmp_path, "v.scenario.yaml", "extends: base.scenario.yaml\ndoctrines:\n  hawk: {escalaton: 2}\n")
    [p] = problems(path)
    assert (p.file, p.line, p.col) == (str(path), *locate(path, "escalaton"))
    assert p.message == "unknown key 'escalaton' (did you mean 'escalation'?)"


def test_deleting_a_key_the_base_does_not_have(tmp_path, base):
    path = write(tmp_path, "v.scenario.yaml", "extends: base.scenario.yaml\ndoctrines:\n  hawk: {escalaton: null}\n"
                 "clock: {horizon: 0}\n")
    deleting, horizon = problems(path)  # reported with the other problems, in one pass
    assert (deleting.file, deleting.line, deleting.col) == (str(path), *locate(path, "escalaton"))
    assert deleting.message == ("doctrines.hawk.escalaton: nothing to delete, the base has no such key"
                                " (did you mean 'escalation'?)")
    assert (horizon.file, horizon.line) == (str(path), 4)


def test_a_list_where_a_mapping_is_needed(tmp_path, base):
    path = write(tmp_path, "v.scenario.yaml", "extends: base.scenario.yaml\ndoctrines: [hawk, dove]\n")
    [p] = [p for p in problems(path) if p.file == str(path)]  # (the base's actors then name unknown doctrines)
    assert (p.line, p.col) == locate(path, "[hawk")
    assert p.message == "doctrines: input should be a valid dictionary"


def test_problems_in_an_extended_file_point_into_that_file():
    broken = DATA / "broken-base.scenario.yaml"
    found = problems(DATA / "of-broken-base.scenario.yaml")
    assert [(p.file, p.line, p.col) for p in found] == [
        (str(broken), *locate(broken, "0}")),
        (str(broken), *locate(broken, "dovv")),
    ]
    assert [p.message.split(":")[0] for p in found] == ["clock.horizon", "actors.C.doctrine"]


def test_an_expression_written_in_the_base_is_located_in_the_base(tmp_path, base):
    base.write_text(base.read_text().replace("requires: talks.open", "requires: talks.opn"))
    path = write(tmp_path, "v.scenario.yaml", "extends: base.scenario.yaml\ntitle: T\n")
    [p] = problems(path)
    assert (p.file, p.line, p.col) == (str(base), *locate(base, "talks.opn"))


def test_bad_yaml_in_a_base_is_reported_in_the_base(tmp_path):
    write(tmp_path, "base.scenario.yaml", "title: [unclosed\n")
    path = write(tmp_path, "v.scenario.yaml", "extends: base.scenario.yaml\n")
    [p] = problems(path)
    assert p.file == str(tmp_path / "base.scenario.yaml")


# --- ladder show ----------------------------------------------------------------------------


def test_show_json_of_a_variant_is_its_base_with_the_change_applied(capsys, tmp_path, base):
    path = write(tmp_path, "v.scenario.yaml", "extends: base.scenario.yaml\ndoctrines: {hawk: {escalation: 5}}\n")
    _, base_json, _ = ladder(capsys, "show", base, "--json")
    code, out, _ = ladder(capsys, "show", path, "--json")
    expected = json.loads(base_json)
    expected["doctrines"]["hawk"]["escalation"] = 5.0
    assert code == 0 and json.loads(out) == expected and "extends" not in out


def test_the_json_of_a_variant_stands_alone_and_plays_the_same(capsys, tmp_path):
    variant = DATA / "variant.scenario.yaml"
    _, out, _ = ladder(capsys, "show", variant, "--json")
    alone = write(tmp_path, "alone.scenario.yaml", out)
    assert load(alone).scenario == load(variant).scenario
    games = [json.loads(ladder(capsys, "run", path, "--seed", 3, "--json")[1]) for path in (variant, alone)]
    for game in games:
        del game["scenario"]  # the file's name
    assert games[0] == games[1]


def test_show_origin_names_the_file_and_line_of_every_value(capsys, monkeypatch):
    monkeypatch.chdir(DATA)
    code, out, _ = ladder(capsys, "show", "variant.scenario.yaml", "--origin")
    assert code == 0
    origin = {line.split()[1]: line.split()[0] for line in out.splitlines()}
    variant, mechanics = DATA / "variant.scenario.yaml", DATA / "mechanics.scenario.yaml"
    assert origin["doctrines.hawk.escalation"] == f"variant.scenario.yaml:{locate(variant, 'escalation: 5')[0]}"
    assert origin["doctrines.hawk.risk_aversion"] == f"mechanics.scenario.yaml:{locate(mechanics, 'risk_aversion: 0.1')[0]}"
    assert origin["actors.B.doctrine"].startswith("variant.scenario.yaml:")
    assert origin["actors.B.name"].startswith("mechanics.scenario.yaml:")
    assert origin["ladder.thresholds[0].id"].startswith("variant.scenario.yaml:")
    assert not any(path.startswith(("doctrines.redline-responder", "extends")) for path in origin)
    assert max(len(line) for line in out.splitlines()) <= 80


def test_show_origin_and_json_are_exclusive(capsys):
    code, _, err = ladder(capsys, "show", MECHANICS, "--origin", "--json")
    assert code == 2 and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("text, count", [
    ("extends: nowhere.scenario.yaml\n", 1),
    ("extends: [tutorail, korea-2091]\n", 2),
    ("extends: 3\n", 1),
    ("extends: tutorial\ndoctrines: {hawk: {escalaton: null, temprature: 2}}\n", 2),
])
def test_the_cli_reports_each_problem_on_one_line_with_exit_2(capsys, tmp_path, text, count):
    path = write(tmp_path, "v.scenario.yaml", text)
    for command in ("validate", "show", "run"):
        code, out, err = ladder(capsys, command, path)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == count and "Traceback" not in err, (command, err)
        assert all(line.startswith(f"{path}:") for line in lines)


# --- batches --------------------------------------------------------------------------------


def test_a_variant_changing_one_doctrine_plays_differently_and_replays_without_its_file(capsys, tmp_path):
    variant = shutil.copy(EXTENDS / "red-dove.scenario.yaml", tmp_path / "red-dove.scenario.yaml")
    deals = {}
    for spec in ("tutorial", variant):
        code, out, _ = ladder(capsys, "batch", spec, "--runs", 200, "--seed", 1, "--workers", 1,
                              "--out", tmp_path / str(spec == variant), "--json")
        assert code == 0
        deals[spec == variant] = json.loads(out)["outcomes"]["deal"]["count"]
    assert deals[True] > deals[False]  # Red the dove accepts Blue's offers of talks; the hawk never does
    _, told, _ = ladder(capsys, "run", variant, "--seed", 1, "--run", 7)
    variant.unlink()  # the batch folder holds the merged scenario
    code, replayed, _ = ladder(capsys, "replay", tmp_path / "True", "--run", 7)
    assert code == 0 and replayed == told
