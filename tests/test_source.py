"""The safe YAML reader: plain data, exact positions, and one located line per problem."""
import math

import pytest
import yaml

from sim.format import source
from sim.format.errors import Problem, ScenarioError
from sim.format.source import Document, parse_document, read_document

NESTED = """\
title: Crisis
options:
  - id: talks
    effects:
      - var: tension
        delta: -5
  - id: strike
    requires: "DPRK.capability >= 60"
"""


@pytest.fixture(autouse=True, params=["libyaml", "pure-python"])
def loader(request, monkeypatch):
    """Run every test with libyaml's parser and with PyYAML's pure-Python one."""
    if request.param == "libyaml":
        if not yaml.__with_libyaml__:
            pytest.skip("PyYAML was built without libyaml")
        monkeypatch.setattr(source, "_Loader", yaml.CSafeLoader)
    else:
        monkeypatch.setattr(source, "_Loader", yaml.SafeLoader)


def problems(text: str, name: str = "f.yaml") -> list[Problem]:
    with pytest.raises(ScenarioError) as info:
        parse_document(text, name)
    return info.value.problems


def only(text: str) -> Problem:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def file_problem(path) -> Problem:
    with pytest.raises(ScenarioError) as info:
        read_document(path)
    assert len(info.value.problems) == 1
    return info.value.problems[0]


# --- data and positions -----------------------------------------------------------------

def test_plain_data():
    doc = parse_document(NESTED, "f.yaml")
    assert doc.data == {
        "title": "Crisis",
        "options": [
            {"id": "talks", "effects": [{"var": "tension", "delta": -5}]},
            {"id": "strike", "requires": "DPRK.capability >= 60"},
        ],
    }
    assert type(doc.data["options"][0]["effects"][0]["delta"]) is int


def test_value_and_key_positions():
    doc = parse_document(NESTED, "f.yaml")
    delta = ("options", 0, "effects", 0, "delta")
    assert doc.value_positions[delta] == (6, 16)
    assert doc.key_positions[delta] == (6, 9)
    assert doc.where(delta) == (6, 16)
    assert doc.where(delta, key=True) == (6, 9)
    requires = ("options", 1, "requires")
    assert doc.where(requires) == (8, 15)
    assert doc.where(requires, key=True) == (8, 5)
    assert doc.where(("title",)) == (1, 8)
    assert doc.where(("options",)) == (3, 3)       # the sequence starts at its first '-'
    assert doc.where(("options", 1)) == (7, 5)     # a block mapping starts at its first key


def test_where_falls_back_to_nearest_ancestor():
    doc = parse_document(NESTED, "f.yaml")
    assert doc.where(("options", 1, "effects", 3, "var")) == (7, 5)
    assert doc.where(("options", 1, "effects"), key=True) == (7, 5)
    assert doc.where(("nothing", "here")) == (1, 1)
    assert str(doc.problem(("options", 0, "effects", 0, "delta"), "too small")) == "f.yaml:6:16: too small"
    assert doc.problem(("options", 0, "id"), "x", key=True) == Problem("f.yaml", 3, 5, "x")


def test_flow_positions_and_non_ascii_columns():
    doc = parse_document("naïve: {a: [1, ünï, 3]}\n", "f.yaml")
    assert doc.where(("naïve", "a", 1)) == (1, 16)
    assert doc.where(("naïve", "a", 2)) == (1, 21)
    assert doc.where(("naïve", "a"), key=True) == (1, 9)


def test_scalar_types_and_dates_kept_as_strings():
    doc = parse_document(
        "start: 2019-12-01\nat: 2019-12-01 10:30:00\nn: 3\nx: 2.5\nyes_: true\nnone: ~\n"
        "quoted: '7'\nnan: .nan\ninf: -.inf\n",
        "f.yaml",
    )
    d = doc.data
    assert d["start"] == "2019-12-01" and d["at"] == "2019-12-01 10:30:00"
    assert d["n"] == 3 and d["x"] == 2.5 and d["yes_"] is True and d["none"] is None
    assert d["quoted"] == "7"
    assert math.isnan(d["nan"]) and d["inf"] == -math.inf


def test_moderate_aliases_are_expanded_into_independent_copies():
    doc = parse_document("base: &b {x: 1, y: [2]}\nother: *b\nlist: [*b, *b]\n", "f.yaml")
    assert doc.data["other"] == {"x": 1, "y": [2]}
    assert doc.data["other"] is not doc.data["base"]
    assert doc.data["list"][0]["y"] is not doc.data["list"][1]["y"]
    assert doc.where(("other",)) == (2, 8)  # the alias itself, not the anchor
    assert doc.where(("list", 1)) == (3, 12)


def test_read_document_from_a_file(tmp_path):
    path = tmp_path / "ok.scenario.yaml"
    path.write_text(NESTED, encoding="utf-8")
    doc = read_document(path)
    assert isinstance(doc, Document)
    assert doc.name == str(path)
    assert doc.where(("options", 0, "effects", 0, "delta")) == (6, 16)


def test_byte_order_mark_is_ignored(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    doc = read_document(path)
    assert doc.data == {"a": 1} and doc.where(("a",)) == (1, 4)


# --- duplicate keys, tags, merge keys ------------------------------------------------------

def test_duplicate_key_reported_at_second_occurrence():
    assert only("a: 1\nb: 2\na: 3\n") == Problem("f.yaml", 3, 1, "duplicate key 'a' (first defined at line 1)")


def test_all_duplicate_keys_reported_together():
    text = "a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\nlist:\n  - {k: 1, k: 2}\na: 4\n"
    assert problems(text) == [
        Problem("f.yaml", 5, 3, "duplicate key 'c' (first defined at line 3)"),
        Problem("f.yaml", 7, 12, "duplicate key 'k' (first defined at line 7)"),
        Problem("f.yaml", 8, 1, "duplicate key 'a' (first defined at line 1)"),
    ]


def test_python_tag_rejected_and_nothing_executed(tmp_path, capfd):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(f'title: x\nrun: !!python/object/apply:os.system ["echo hi > {marker}"]\n', encoding="utf-8")
    p = file_problem(path)
    assert (p.line, p.col) == (2, 6)
    assert p.message == "unsupported YAML tag '!!python/object/apply:os.system'"
    assert not marker.exists()
    assert "hi" not in capfd.readouterr().out


@pytest.mark.parametrize("text, tag, col", [
    ("a: !foo x\n", "!foo", 4),
    ("a: !!binary aGk=\n", "!!binary", 4),
    ("a: !!set {x: null}\n", "!!set", 4),
    ("a: !!python/name:os.system\n", "!!python/name:os.system", 4),
])
def test_other_tags_rejected(text, tag, col):
    assert only(text) == Problem("f.yaml", 1, col, f"unsupported YAML tag '{tag}'")


def test_core_tags_accepted():
    assert parse_document("a: !!str 5\nb: !!int '7'\nc: !!float 1\n", "f").data == {"a": "5", "b": 7, "c": 1.0}


def test_bad_core_tag_value():
    assert only("a: !!int abc\n") == Problem("f.yaml", 1, 4, "cannot read 'abc' as !!int")


def test_merge_key_rejected():
    p = only("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n")
    assert (p.line, p.col) == (3, 3) and "merge keys" in p.message


@pytest.mark.parametrize("text", ["1: x\n", "true: x\n", "? [a, b]\n: x\n", "~: x\n"])
def test_non_string_keys_rejected(text):
    p = only(text)
    assert p.message == "mapping keys must be strings" and p.line == 1


# --- hostile documents --------------------------------------------------------------------

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_alias_bomb_rejected():
    p = only(BILLION_LAUGHS)
    assert p.message == "document expands to too many nodes (alias bomb?)"
    line = BILLION_LAUGHS.splitlines()[p.line - 1]
    assert line[p.col - 1] == "*"  # located at an alias


def test_recursive_alias_rejected():
    assert only("a: &x [1, *x]\n") == Problem("f.yaml", 1, 11, "recursive alias '*x' (a value cannot contain itself)")


def test_unknown_alias_rejected():
    p = only("a: *nope\n")
    assert (p.line, p.col) == (1, 4) and "*nope" in p.message


def test_depth_100_rejected():
    text = "".join("  " * i + f"k{i}:\n" for i in range(100)) + "  " * 100 + "leaf\n"
    assert only(text) == Problem("f.yaml", 65, 129, "nesting too deep (more than 64 levels)")  # level 65


def test_depth_limit_is_exactly_64():
    value = parse_document("a: " + "[" * 63 + "]" * 63 + "\n", "f").data["a"]  # root mapping + 63 lists
    for _ in range(62):
        assert isinstance(value, list) and len(value) == 1
        value = value[0]
    assert value == []
    p = only("a: " + "[" * 64 + "]" * 64 + "\n")
    assert (p.line, p.col) == (1, 67) and "nesting too deep" in p.message


def test_absurd_flow_nesting_does_not_crash():
    p = only("a: " + "[" * 1_000_000)
    assert "nesting too deep" in p.message


def test_alias_cannot_smuggle_in_depth():
    deep = "[" * 40 + "]" * 40
    p = only(f"a: &d {deep}\nb: [[[[[[[[[[[[[[[[[[[[[[[[[[[[*d]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n")
    assert p.line == 2 and "nesting too deep" in p.message


# --- files -------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    assert file_problem(path) == Problem(str(path), 1, 1, "no such file")


def test_directory(tmp_path):
    assert file_problem(tmp_path) == Problem(str(tmp_path), 1, 1, "is a directory, not a scenario file")


@pytest.mark.parametrize("content", [b"", b"\n\n", b"# only a comment\n  # and another\n", b"---\n"])
def test_empty_documents(tmp_path, content):
    path = tmp_path / "empty.yaml"
    path.write_bytes(content)
    assert file_problem(path) == Problem(str(path), 1, 1, "empty document")


def test_not_utf8_located_at_first_bad_byte(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"title: ok\nname: \xc3\xa9t\xc3\xa9 \xff\n")  # 'name: été ' is 10 characters
    assert file_problem(path) == Problem(str(path), 2, 11, "not valid UTF-8")


def test_too_large_checked_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    size = source.MAX_BYTES + 1
    with open(path, "wb") as handle:
        handle.write(b"a: 1\n" + b"#" * (size - 5))
    monkeypatch.setattr(source, "open", lambda *a, **k: pytest.fail("read a file that is too large"), raising=False)
    assert file_problem(path) == Problem(str(path), 1, 1, f"file too large ({size} bytes; the limit is 1 MiB)")


def test_exactly_the_limit_is_allowed(tmp_path):
    path = tmp_path / "edge.yaml"
    path.write_bytes(b"a: 1\n" + b"#" * (source.MAX_BYTES - 5))
    assert read_document(path).data == {"a": 1}


def test_permission_denied(tmp_path, monkeypatch):
    path = tmp_path / "locked.yaml"
    path.write_text("a: 1\n")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(source, "open", denied, raising=False)
    assert file_problem(path) == Problem(str(path), 1, 1, "permission denied")


def test_control_character_located():
    p = only("é: 1\nb: x\x00y\n")
    assert (p.line, p.col) == (2, 5)
    assert p.message.endswith("characters are not allowed (#x0000)")  # libyaml: control, PyYAML: special


# --- YAML structure ----------------------------------------------------------------------

def test_syntax_error_located():
    p = only("a: 1\nb: c: d\n")
    assert (p.line, p.col) == (2, 5)
    assert p.message.startswith("mapping values are not allowed")


def test_unclosed_flow_located():
    p = only("a: [1, 2\nb: 3\n")
    assert p.line >= 2 and "\n" not in p.message and "Traceback" not in p.message


def test_multiple_documents():
    assert only("a: 1\n---\nb: 2\n") == Problem(
        "f.yaml", 2, 1, "more than one YAML document in the file (a scenario is exactly one)")


@pytest.mark.parametrize("text, line, col", [("- a\n- b\n", 1, 1), ("hello\n", 1, 1), ("\n\n  42\n", 3, 3)])
def test_root_must_be_a_mapping(text, line, col):
    assert only(text) == Problem("f.yaml", line, col, "the document must be a mapping of keys to values")
