"""The loader survives anything: whatever the text, loading gives a scenario or a ScenarioError
whose every problem is located in the file that wrote it -- never another exception, never more
than a second.

Documents come from random YAML-ish text, random trees dumped as YAML, mutations of the
bundled scenarios (edits to the parsed tree, then to the text), random bytes in a file and
variants extending other files: FUZZ_DOCUMENTS of them (20,000 by default), the same ones on
every run. An example checks a few related documents (a text and its truncations, a tree
written four ways, a chain of edits), which spreads Hypothesis's cost per example over them.
Run more locally with e.g. FUZZ_DOCUMENTS=200000 pytest tests/test_fuzz.py.
"""
import codecs
import math
import os
import time
from pathlib import Path

import pytest
import yaml
from conftest import DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.format.catalog import bundled
from sim.format.errors import Problem, ScenarioError
from sim.format.scenario import load, validate
from sim.format.source import parse_document

NAME = "fuzz.scenario.yaml"
LIMIT = 1.0  # seconds per document, a requirement of the loader
TOTAL = int(os.environ.get("FUZZ_DOCUMENTS", "20000"))
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # yaml.safe_dump, with libyaml's emitter if there


def fuzz_settings(share: float, documents_per_example: int):
    """Settings for a test that checks `share` of the TOTAL documents."""
    return settings(
        max_examples=math.ceil(TOTAL * share / documents_per_example),
        deadline=None,  # `check` times each document itself
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],  # making an example may dump a whole scenario
    )


# --- the property -----------------------------------------------------------------------

def outcome(load_once) -> list[Problem] | None:
    """None if load_once() succeeds, else the problems it raised; any other exception fails the test."""
    try:
        load_once()
    except ScenarioError as exc:
        assert exc.problems, "a ScenarioError without problems"
        return exc.problems
    return None


def timed(load_once) -> list[Problem] | None:
    """outcome(load_once), failing if it takes more than LIMIT twice in a row (once may be noise)."""
    start = time.perf_counter()
    result = outcome(load_once)
    if time.perf_counter() - start > LIMIT:
        start = time.perf_counter()
        outcome(load_once)
        elapsed = time.perf_counter() - start
        assert elapsed <= LIMIT, f"loading took {elapsed:.2f} s"
    return result


def assert_located(problems: list[Problem] | None, texts: dict[str, str]) -> None:
    """Each problem names one of the files (name: text), a line of it, a column and what is wrong."""
    for p in problems or []:
        assert p.file in texts, p
        assert 1 <= p.line <= len(texts[p.file].splitlines()) + 1 and p.col >= 1, f"not located: {p}"
        assert p.message.strip(), f"no message: {p!r}"


def check(text: str) -> None:
    assert_located(timed(lambda: validate(parse_document(text, NAME))), {NAME: text})


# --- the bundled scenarios -------------------------------------------------------------------

def _walk(tree) -> list[tuple[tuple, object]]:
    """(path, value) of every node of the tree, the root first."""
    out, todo = [], [((), tree)]
    while todo:
        path, value = todo.pop()
        out.append((path, value))
        if isinstance(value, dict):
            todo += [(path + (k,), v) for k, v in value.items()]
        elif isinstance(value, list):
            todo += [(path + (i,), v) for i, v in enumerate(value)]
    return out


def _bundled() -> dict[str, tuple[str, dict]]:
    """Text and tree of each bundled scenario and of the tests' mechanics scenario."""
    paths = {**bundled(), "mechanics": DATA / "mechanics.scenario.yaml"}
    return {name: (path.read_text(), parse_document(path.read_text(), NAME).data) for name, path in paths.items()}


BASES = _bundled()
SMALL = ["tutorial", "mechanics"]
CRISES = sorted(set(BASES) - set(SMALL))
MECHANICS_TEXT, MECHANICS = BASES["mechanics"]


# --- random text --------------------------------------------------------------------------

YAML_TOKENS = [
    ":", ": ", "- ", "-", "\n", "\n  ", "\n- ", "  ", "\t", "[", "]", "{", "}", ",", "? ", "|", "|-\n  ",
    ">", "#", "'", '"', "\\", "---\n", "...\n", "%YAML 1.1\n", "%TAG ! tag:x.org,2000:\n", "<<: ", "&a ",
    "*a", "&b [", "*b", "!!python/object:os.system ", "!!python/name:os.system", "!!binary ", "!!set ",
    "!!omap ", "!!int ", "!!float ", "!!str ", "!!timestamp ", "!custom ", "!<tag:x> ", "~", "null",
    "true", "yes", "1e400", ".inf", ".nan", "-.inf", "0x1F", "0o17", "1_000", "2020-02-30", "12:30:00",
    "\ufeff", "\x00", "\r", "\r\n", "\x85", "\u2028", "\U0001F600", "schema_version", "options",
    "requires: ", "id: ", "\n  - id: x\n    actor: ", "__import__", "lambda",
]
TAGS = [t for t in YAML_TOKENS if t.startswith("!")]


@st.composite
def yaml_text(draw) -> str:
    """Random text with YAML punctuation, tags, anchors and odd characters inserted."""
    text = draw(st.text(max_size=40))
    for at, token in draw(st.lists(st.tuples(st.integers(0, 40), st.sampled_from(YAML_TOKENS)), max_size=12)):
        text = text[:at] + token + text[at:]
    return text


@st.composite
def cut_off(draw, cuts: int) -> list[str]:
    """A random text, then that text cut off at `cuts` places, as a file half written."""
    text = draw(st.sampled_from(["", "schema_version: 1\n"])) + draw(yaml_text())
    return [text] + [text[:draw(st.integers(0, len(text)))] for _ in range(cuts)]


@given(cut_off(cuts=5))
@fuzz_settings(0.6, documents_per_example=6)
def test_random_text_loads_or_is_located(documents):
    for text in documents:
        check(text)


# --- random trees ---------------------------------------------------------------------------

# Keys the format knows, so random trees reach deep into validation.
KNOWN_KEYS = sorted({p[-1] for _, tree in BASES.values() for p, _ in _walk(tree) if p and isinstance(p[-1], str)})
KEYS = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=10), st.integers(), st.none())
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
TREES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=10
)


@given(st.sampled_from([{}, {"schema_version": 1}]), st.dictionaries(KEYS, TREES, max_size=5), st.booleans())
@fuzz_settings(0.13, documents_per_example=4)
def test_random_trees_load_or_are_located(head, tree, unicode):
    # block style, flow style, block with flow leaves, and every node tagged (`!!map`, `!!str`, ...)
    for style in ({"default_flow_style": False}, {"default_flow_style": True}, {}, {"canonical": True}):
        check(yaml.dump({**head, **tree}, Dumper=_DUMPER, allow_unicode=unicode, sort_keys=False, **style))


# --- mutations of the bundled scenarios ----------------------------------------------------

def _changed(tree, path: tuple, change):
    """A copy of tree where change(container) has altered the container at path; only the
    containers along the path are copied, so the bundled trees stay as they are."""
    copy = dict(tree) if isinstance(tree, dict) else list(tree)
    if not path:
        change(copy)
    else:
        copy[path[0]] = _changed(tree[path[0]], path[1:], change)
    return copy


def _replaced(tree, path: tuple, value):
    def replace(container):
        container[path[-1]] = value
    return _changed(tree, path[:-1], replace)


@st.composite
def typo(draw, word: str) -> str:
    """word with a slip of the keyboard, or replaced outright."""
    i = draw(st.integers(0, max(len(word) - 1, 0)))
    kind = draw(st.sampled_from(["drop", "double", "swap", "case", "insert", "other"]))
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i:i + 1] * 2 + word[i + 1:]
    if kind == "swap":
        return word[:i] + word[i + 1:i + 2] + word[i:i + 1] + word[i + 2:]
    if kind == "case":
        return word.swapcase()
    if kind == "insert":
        return word[:i] + draw(st.sampled_from(["_", "-", ".", " ", "x", "é", "0"])) + word[i:]
    return draw(st.text(max_size=12))


@st.composite
def node(draw, nodes: list[tuple[tuple, object]]) -> tuple[tuple, object]:
    """One of nodes, picking a depth first: a whole section is as likely a target as a leaf."""
    depth = draw(st.sampled_from(sorted({len(path) for path, _ in nodes})))
    return draw(st.sampled_from([(path, v) for path, v in nodes if len(path) == depth]))


def _mappings(tree):
    return [(p, v) for p, v in _walk(tree) if isinstance(v, dict) and v]


@st.composite
def drop_key(draw, tree):
    path, mapping = draw(node(_mappings(tree)))
    key = draw(st.sampled_from(list(mapping)))
    return _changed(tree, path, lambda m: m.pop(key))


@st.composite
def rename_key(draw, tree):
    path, mapping = draw(node(_mappings(tree)))
    key = draw(st.sampled_from(list(mapping)))
    new = draw(typo(key))

    def rename(m):
        items = list(m.items())
        m.clear()
        m.update((new if k == key else k, v) for k, v in items)
    return _changed(tree, path, rename)


WRONG_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
    st.sampled_from([10**400, -10**30, 2**63, 1e308, -0.0, "", " ", "yes", "~", "2020-02-30", "0x10", "1e400"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


@st.composite
def wrong_type(draw, tree):
    path, _ = draw(node(_walk(tree)[1:]))
    return _replaced(tree, path, draw(WRONG_VALUES))


@st.composite
def out_of_range(draw, tree):
    numbers = [(p, v) for p, v in _walk(tree) if isinstance(v, (int, float)) and not isinstance(v, bool)]
    path, v = draw(node(numbers))
    new = draw(st.sampled_from([-v - 1, v * 1000 + 1000, 0.5, -(10**12), 10**12, 10**400, math.nan, math.inf,
                                -math.inf]))
    return _replaced(tree, path, new)


# Where a value names something declared elsewhere: an actor, option, variable, rung, topic...
REFERENCE_KEYS = {"actor", "doctrine", "rung", "ref", "var", "owner", "topic", "ends_game", "tension",
                  "passed", "opponents", "targets", "to", "crossed_by", "tags"}


@st.composite
def broken_reference(draw, tree):
    refs = [(p, v) for p, v in _walk(tree)
            if isinstance(v, str) and any(part in REFERENCE_KEYS for part in p[-2:] if isinstance(part, str))]
    path, old = draw(st.sampled_from(refs))
    new = draw(st.one_of(typo(old), st.sampled_from(sorted({v for _, v in refs}))))
    return _replaced(tree, path, new)


EXPRESSION_KEYS = {"requires", "when", "acts_when", "scale"}
EXPRESSION_NOISE = [
    " and ", " or ", " not ", "+", "-", "*", "/", "**", "//", "<", ">=", "==", "=", "!", "(", ")", "[0]",
    ".", ",", "'", "nosuch.name", "turn", "__import__", "__class__", ".__class__", "lambda", "lambda: 1",
    "True", "if", "1e999999", "9" * 400, "\n", "\t", "#", "%", "@", "é",
]
NASTY_EXPRESSIONS = [
    "__import__('os').system('true')", "lambda: 1", "tension.__class__", "().__class__.__bases__",
    "(" * 400 + "1" + ")" * 400, "(" * 60 + "1" + ")" * 60, "-" * 900 + "1", "not " * 240 + "true",
    "1" + " + 1" * 300, "9" * 999, "1e308 * 1e308", "1 / 0", "0 < " * 200 + "1", "tension" * 200,
    "x" * 1001, "", " ", "\n",
]


@st.composite
def mangled_expression(draw, tree):
    exprs = [(p, v) for p, v in _walk(tree) if isinstance(v, str) and p and p[-1] in EXPRESSION_KEYS]
    path, old = draw(st.sampled_from(exprs))
    at = draw(st.integers(0, len(old)))
    new = draw(st.one_of(
        st.sampled_from(EXPRESSION_NOISE).map(lambda noise: old[:at] + noise + old[at:]),
        st.sampled_from(NASTY_EXPRESSIONS),
        st.text(max_size=30),
    ))
    return _replaced(tree, path, new)


TREE_EDITS = [drop_key, rename_key, wrong_type, out_of_range, broken_reference, mangled_expression]


@st.composite
def text_edit(draw, text: str) -> str:
    """text with one edit: characters deleted or inserted, a line indented, tabbed, duplicated or
    moved, an anchor and an alias, or a tag."""
    lines = text.split("\n")
    i = draw(st.integers(0, len(lines) - 1))
    line = lines[i]
    kind = draw(st.sampled_from(["delete", "insert", "indent", "tab", "duplicate", "swap", "alias", "tag"]))
    if kind == "delete":
        at = draw(st.integers(0, len(text)))
        return text[:at] + text[at + draw(st.integers(1, 40)):]
    if kind == "insert":
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(st.one_of(st.text(max_size=5), st.sampled_from(YAML_TOKENS))) + text[at:]
    if kind == "indent":
        shift = draw(st.sampled_from([-4, -2, -1, 1, 2, 4]))
        lines[i] = " " * shift + line if shift > 0 else line[-shift:] if line[:-shift].isspace() else line
    elif kind == "tab":
        lines[i] = "\t" + line.lstrip(" ")
    elif kind == "duplicate":  # in a block mapping, a duplicate key
        lines.insert(i, line)
    elif kind == "swap":
        j = draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], line
    else:  # an anchor on one value and an alias to it in place of another, or a tag on a value
        values = [k for k, other in enumerate(lines) if ": " in other]
        if not values:
            return text
        k = draw(st.sampled_from(values))
        key, _, value = lines[k].partition(": ")
        if kind == "tag":
            lines[k] = f"{key}: {draw(st.sampled_from(TAGS))}{value}"
        else:
            j = draw(st.sampled_from(values))
            lines[k] = f"{key}: &anchor {value}"
            lines[j] = lines[j].partition(": ")[0] + ": *anchor"
    return "\n".join(lines)


@st.composite
def edit_chains(draw, bases: list[str], length: int) -> list[str]:
    """`length` documents, each an edit of the one before: the first is a bundled scenario with
    edits to its tree (dumped as YAML) or to its text, the others add one text edit each."""
    text, tree = BASES[draw(st.sampled_from(bases))]
    tree_edits = draw(st.integers(0, 3))
    for _ in range(tree_edits):
        tree = draw(draw(st.sampled_from(TREE_EDITS))(tree))
    if tree_edits:
        flow = draw(st.sampled_from([False, None]))
        text = yaml.dump(tree, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, default_flow_style=flow)
    else:
        text = draw(text_edit(text))
    chain = [text]
    while len(chain) < length:
        chain.append(draw(text_edit(chain[-1])))
    return chain


@given(edit_chains(SMALL, length=5))
@fuzz_settings(0.21, documents_per_example=5)
def test_mutated_small_scenarios_load_or_are_located(chain):
    for text in chain:
        check(text)


# A bundled crisis takes ten times longer to load than the small ones: a share of the mutations.
@given(edit_chains(CRISES, length=5))
@fuzz_settings(0.005, documents_per_example=5)
def test_mutated_crises_load_or_are_located(chain):
    for text in chain:
        check(text)


# --- files: bytes that may not even be UTF-8 --------------------------------------------------

@pytest.fixture(scope="module")
def fuzz_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / NAME


@st.composite
def scenario_bytes(draw) -> bytes:
    """Random bytes, or a small scenario (perhaps behind a BOM) with random bytes inserted."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=200))
    raw = BASES[draw(st.sampled_from(SMALL))][0].encode()
    at = draw(st.integers(0, len(raw)))
    bom = draw(st.sampled_from([b"", codecs.BOM_UTF8]))
    return bom + raw[:at] + draw(st.binary(min_size=1, max_size=4)) + raw[at:]


@given(scenario_bytes())
@fuzz_settings(0.04, documents_per_example=1)
def test_files_of_random_bytes_load_or_are_located(fuzz_file, raw):
    fuzz_file.write_bytes(raw)
    assert_located(timed(lambda: load(fuzz_file)), {str(fuzz_file): raw.decode("utf-8", errors="replace")})


# --- variants: `extends` ----------------------------------------------------------------------

# What a variant may extend: a bundled scenario, a file beside it, itself, a file extending it
# back, names of nothing (one too long for the file system), and values that are not names.
BASE_SPECS = ["tutorial", "tutorail", "korea-2019", "mechanics.scenario.yaml", NAME, "back.scenario.yaml",
               "missing.scenario.yaml", "../elsewhere/x.scenario.yaml", "/", "", "a" * 300 + ".yaml",
               None, 1, {"tutorial": 1}]
EXTENDS = st.one_of(st.sampled_from(BASE_SPECS), st.lists(st.sampled_from(BASE_SPECS), max_size=3))
BUNDLED_TEXTS = {str(path): path.read_text() for path in bundled().values()}


@pytest.fixture(scope="module")
def variant_dir(tmp_path_factory) -> Path:
    """A folder holding the mechanics scenario and a file that extends the variant back."""
    folder = tmp_path_factory.mktemp("variants")
    (folder / "mechanics.scenario.yaml").write_text(MECHANICS_TEXT, encoding="utf-8")
    (folder / "back.scenario.yaml").write_text(f"extends: {NAME}\n", encoding="utf-8")
    return folder


@st.composite
def variants(draw) -> str:
    """`extends: ...` over some sections of an edited tutorial, perhaps deleting some (`KEY: null`)."""
    tree = BASES["tutorial"][1]
    for _ in range(draw(st.integers(0, 2))):
        tree = draw(draw(st.sampled_from(TREE_EDITS))(tree))
    kept = draw(st.lists(st.sampled_from(list(tree)), unique=True, max_size=4))
    deleted = draw(st.lists(st.sampled_from([*BASES["tutorial"][1], "nosuch"]), unique=True, max_size=2))
    variant = {"extends": draw(EXTENDS), **{key: tree[key] for key in kept}, **dict.fromkeys(deleted)}
    text = yaml.dump(variant, Dumper=_DUMPER, sort_keys=False, allow_unicode=True)
    return draw(text_edit(text)) if draw(st.booleans()) else text


@given(variants())
@fuzz_settings(0.015, documents_per_example=1)
def test_variants_load_or_are_located(variant_dir, text):
    path = variant_dir / NAME
    path.write_text(text, encoding="utf-8")
    texts = {str(file): file.read_text(encoding="utf-8") for file in variant_dir.iterdir()}
    assert_located(timed(lambda: load(path)), {**BUNDLED_TEXTS, **texts})


# --- regressions: the bugs found while fuzzing ----------------------------------------------

def problems(text: str) -> list[Problem]:
    found = timed(lambda: validate(parse_document(text, NAME)))
    assert found, "loaded"
    assert_located(found, {NAME: text})
    return found


def at(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the first occurrence of needle."""
    before = text[: text.index(needle)]
    return before.count("\n") + 1, len(before) - before.rfind("\n")


@pytest.mark.parametrize("section", ["sources", "actors", "variables", "doctrines", "options", "outcomes", "mechanics"])
def test_a_section_of_the_wrong_type_is_reported_where_it_is(section):
    # `variables: false` crashed the cross-reference checks with an AttributeError
    text = yaml.dump({**MECHANICS, section: False}, Dumper=_DUMPER, sort_keys=False)
    line, col = at(text, f"{section}: false")
    assert any((p.line, p.col) == (line, col + len(f"{section}: "))
               and p.message.startswith(f"{section}: input should be a valid ") for p in problems(text))


@pytest.mark.parametrize("old, new, number", [
    ("delta: -20}", "delta: .nan}", ".nan"),
    ("initial: 40, baseline", "initial: .inf, baseline", ".inf"),
    ("values: {B.economy: -1}", "values: {B.economy: -.inf}", "-.inf"),
    ("midpoint: 90", "midpoint: -.inf", "-.inf"),
])
def test_numbers_that_are_not_finite_are_reported(old, new, number):
    # `.nan` and `.inf` are YAML numbers; they loaded, and made NaN of every game
    assert MECHANICS_TEXT.count(old) == 1
    text = MECHANICS_TEXT.replace(old, new)
    [problem] = problems(text)
    assert (problem.line, problem.col) == at(text, number)
    assert "should be a finite number" in problem.message


@pytest.mark.parametrize("date", ["2020-02-30", "2020-13-01", "0000-01-06"])
def test_a_date_not_on_the_calendar_is_reported(date):
    # `start: "2020-02-30"` loaded, then every game crashed on its first turn
    text = MECHANICS_TEXT.replace("2020-01-06", date)
    [problem] = problems(text)
    assert (problem.line, problem.col) == at(text, f'"{date}"')
    assert problem.message.startswith("clock.start: ")


def aliased(copies: int) -> str:
    """The mechanics scenario with an option of 30 unknown keys, anchored and aliased `copies` times."""
    unknown = ", ".join(f"k{i}: 0" for i in range(30))
    option = f"{{id: z, actor: A, label: L, rung: words, category: military, source: {{ref: notes, quote: q}}, {unknown}}}"
    return MECHANICS_TEXT.replace("options:\n", f"options:\n  - &bad {option}\n" + "  - *bad\n" * copies, 1)


def test_problems_copied_by_aliases_are_each_reported_at_their_alias_within_a_second():
    # Each copy's unknown keys are reported at its alias, their did-you-mean computed once.
    text = aliased(120)
    found = [p for p in problems(text) if p.message == "unknown key 'k7'"]
    assert [p.line for p in found] == [at(text, "&bad")[0] + i for i in range(121)]


def test_a_thousand_aliases_of_a_bad_mapping_are_refused_at_once():
    # A thousand aliases of that option (25 KB) took 4 s to load, reporting 31,000 problems.
    text = aliased(1000)
    [problem] = problems(text)
    assert problem.message == "document expands to too many nodes (alias bomb?)"
    assert text.splitlines()[problem.line - 1] == "  - *bad"


def test_extending_a_file_whose_name_is_too_long_is_reported_at_the_entry(tmp_path):
    # Path.is_file raised OSError: File name too long
    variant = tmp_path / NAME
    variant.write_text(f"extends: {'a' * 300}.yaml\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load(variant)
    [problem] = info.value.problems
    assert (problem.file, problem.line, problem.col) == (str(variant), 1, len("extends: ") + 1)
    assert problem.message.startswith("extends: no such file")
