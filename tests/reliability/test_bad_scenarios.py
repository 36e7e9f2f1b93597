"""The bad-scenario corpus (issue 14): files that must each be refused as the README promises —
exit 2, one located line saying what is wrong, no traceback, no control sequence, bounded work,
no file read outside the scenario's folder, nothing run.

Each case is the mechanics test bench with exactly one problem written in (or a file of its own),
written into tmp_path by the test. A case gives the text at whose start the problem is located
(None: line 1, column 1 or not checked) and a word the message must hold.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from sim.format.source import MAX_BYTES

DATA = Path(__file__).parent.parent / "data"
BASE = (DATA / "mechanics.scenario.yaml").read_text()
CLOCK = 'clock: {turn_days: 7, start: "2020-01-06", horizon: 20}'
OFFER = "proposes: {topic: talks, to: [B]}"
MEET = """  - {id: a-meet, actor: A, label: Meeting, rung: talk, category: diplomatic, tags: [talks],
     source: {ref: notes, quote: meet}, requires: talks.open, effects: [{var: talks.progress, delta: 45}]}
"""


RESPONDER = "    after_red_line: {escalation: 6}"  # the last line of a doctrine
B_VALUES = "values: {B.economy: 1}}"


def edit(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def block(indicator: str) -> str:
    return edit(MEET, f"""  - id: a-meet
    actor: A
    label: Meeting
    rung: talk
    category: diplomatic
    source: {{ref: notes, quote: meet}}
    effects: [{{var: talks.progress, delta: 45}}]
    requires: {indicator}
      talks.open and

        tension > 3 and talks.opn
""")


def with_window(window: str) -> str:
    """The bench with a calendar of one window."""
    return BASE + f"calendar:\n  - {window}\n"


def chance(event: str) -> str:
    """The bench with one chance event written in."""
    return edit("outcomes:\n", f"chance:\n  - {{id: clash, label: Clash, news: Boats fire., "
                f"source: {{ref: notes, quote: q}}, {event}}}\noutcomes:\n")


C_ACTOR = "C: {name: Veto holder, doctrine: dove}"
TALKS = "talks: {rule: consent, window: 2}"


def many_options(bad: bool) -> str:
    """A file of nearly the largest size allowed: 60 actors with about 100 options each, one of them (if bad) bad."""
    actors = "".join(f"  X{a}: {{name: Extra {a}, doctrine: dove}}\n" for a in range(60))
    text = edit("  C: {name: Veto holder, doctrine: dove}\n", "  C: {name: Veto holder, doctrine: dove}\n" + actors)
    options, i = [], 0
    while sum(map(len, options)) < MAX_BYTES - len(text) - 4096:
        category = "diplomatc" if bad and i == 3000 else "diplomatic"
        options.append(f"  - {{id: o{i}, actor: X{i % 60}, label: Option {i}, rung: words, category: {category},"
                       f" tags: [t{i % 50}], source: {{ref: notes, quote: q}}, effects: [{{var: tension, delta: 1}}]}}\n")
        i += 1
    return text.replace("doctrines:\n", "".join(options) + "doctrines:\n", 1)


def options_for_a(count: int) -> str:
    extra = "".join(f"  - {{id: x{i}, actor: A, label: X{i}, rung: words, category: informational, "
                    f"source: {{ref: notes, quote: x}}}}\n" for i in range(count - 7))  # A has 7 already
    return BASE.replace("doctrines:\n", extra + "doctrines:\n", 1)


def alias_bomb() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


# name: (file content (str or bytes), located at the start of this text (None: not checked), a word the line holds)
CASES = {
    # the YAML itself
    "python-tag": (edit("title: Mechanics test bench", "title: !!python/object/apply:os.system ['echo pwned']"),
                   "!!python", "unsupported YAML tag"),
    "alias-bomb": (alias_bomb(), None, "too many nodes"),
    "deep-nesting": ("a: " + "[" * 100_000, None, "nesting too deep"),
    "deep-block-nesting": ("".join("  " * i + f"k{i}:\n" for i in range(80)) + "  " * 80 + "v: 1\n", None, "nesting too deep"),
    "huge-file": ("title: " + "a" * (MAX_BYTES + 10) + "\n", None, "too large"),
    "bad-utf8": (edit("title: Mechanics test bench", "title: Mechanics \udcff bench").encode("utf-8", "surrogateescape"),
                 "\udcff", "not valid UTF-8"),
    "tab-indentation": (edit("  notes: {title: Test notes}", "\tnotes: {title: Test notes}"), "\tnotes", "tab"),
    "tab-before-an-item": (edit("    - {id: intense, label: Intense crisis, level: 6}", "\t- {id: intense, label: Intense crisis, level: 6}"),
                           "\t- {id: intense", "tab"),
    "duplicate-key": (edit("title: Mechanics test bench", "title: Mechanics test bench\ntitle: Again"), "title: Again", "duplicate key"),
    "merge-key": (edit("  C: {name: Veto holder, doctrine: dove}", "  C: {<<: {name: V}, doctrine: dove}"), "<<", "merge keys"),
    "two-documents": (BASE + "---\ntitle: more\n", "---\ntitle: more", "more than one YAML document"),
    "empty": ("", None, "empty document"),
    # terminal control in text (every text field: titles, labels, keys, quotes, descriptions)
    "escape-in-title": (edit("title: Mechanics test bench", 'title: "Mechanics \\e[2J\\e[31mred"'), '"Mechanics', "control character"),
    "csi-c1-in-label": (edit("label: Warning", 'label: "Warn\\u009b31m"'), '"Warn', "control character"),
    "bell-in-quote": (edit("quote: meet}", 'quote: "meet\\a"}'), '"meet', "control character"),
    "escape-in-description": (edit("description: Three actors and one move per mechanic, played by scripts in the tests.",
                                   'description: "\\e]0;pwned\\a Three actors"'), '"\\e]0',
                              "control character"),
    "newline-in-label": (edit("label: Warning", 'label: "Warn\\ning"'), '"Warn', "line break"),
    "escape-in-unknown-key": (edit("title: Mechanics test bench", 'title: Mechanics test bench\n"tit\\e[31mle": 3'),
                              '"tit', "unknown key"),
    "escape-in-expression": (edit("requires: talks.open", 'requires: "talks.open\\e[0m"'), '"talks.open', "control character"),
    # values quoted in messages are short
    "long-bad-value": (edit("category: military, tags: [test]", f"category: {'m' * 5000}, tags: [test]"), ("category: mmm", "mmm"), "input should be"),
    "long-unknown-name": (edit("requires: talks.open", f"requires: talks.{'x' * 900}"), "talks.xxx", "unknown name"),
    "long-duplicate-key": (edit("title: Mechanics test bench", f"{'k' * 1000}: 1\n{'k' * 1000}: 2\ntitle: Mechanics test bench"),
                           ("k" * 1000 + ": 2", "k"), "duplicate key"),
    # extends: confined to the folder of the file named (and bundled names)
    "extends-etc-passwd": ("extends: /etc/passwd\ntitle: T\n", "/etc/passwd", "outside this scenario's folder"),
    "extends-dotdot": ("extends: ../secret.scenario.yaml\ntitle: T\n", "../secret", "outside this scenario's folder"),
    "extends-hidden-dotdot": ("extends: sub/../../secret.scenario.yaml\ntitle: T\n", "sub/", "outside this scenario's folder"),
    "extends-symlink-out": ("extends: link.scenario.yaml\ntitle: T\n", "link.scenario", "outside this scenario's folder"),
    "extends-diamond-bad-bottom": (None, None, "greater than or equal to 1"),  # written by the test
    # size: a file of the largest size with one bad option, an actor with too many options
    "largest-file-one-bad-option": (many_options(bad=True), "diplomatc", "input should be"),
    "255-options-for-one-actor": (options_for_a(255), "A, label: X247", "more than 254 options"),
    # dates: every date of a game within the years 1000 to 9998
    "start-year-9999": (edit(CLOCK, 'clock: {turn_days: 7, start: "9999-01-04", horizon: 20}'), '"9999', "start year"),
    "start-year-999": (edit(CLOCK, 'clock: {turn_days: 7, start: "0999-01-04", horizon: 20}'), '"0999', "start year"),
    "horizon-past-9998": (edit(CLOCK, 'clock: {turn_days: 7, start: "9998-10-01", horizon: 20}'), ('"9998-10-01", horizon: 20}', "20}"), "would end in 9999"),
    "impossible-date": (edit(CLOCK, 'clock: {turn_days: 7, start: "2020-02-30", horizon: 20}'), '"2020', "day is out of range"),
    # strict numbers
    "horizon-true": (edit(CLOCK, 'clock: {turn_days: 7, start: "2020-01-06", horizon: true}'), ("horizon: true}", "true}"), "valid integer"),
    "horizon-fraction": (edit(CLOCK, 'clock: {turn_days: 7, start: "2020-01-06", horizon: 2.5}'), "2.5}", "valid integer"),
    "success-yes": (edit("prepare: 2,", "prepare: 2, success: yes,"), ("success: yes", "yes"), "valid number"),
    "schema-version-true": (edit("schema_version: 1", "schema_version: true"), ("schema_version: true", "true"), "unsupported schema_version"),
    # effects, proposals, vetoes, opponents
    "set-with-lag": (edit("{var: talks.open, set: 1}", "{var: talks.open, set: 1, lag: 2}"), "{var: talks.open", "cannot have 'lag'"),
    "set-with-uncertainty": (edit("{var: talks.open, set: 1}", "{var: talks.open, set: 1, uncertainty: 0.5}"), "{var: talks.open",
                             "'uncertainty'"),
    "veto-topic-without-members": (edit("veto_members: {A: actor, C: actor, R: 0.0}", "veto_members: {}"), ("rule: veto", "veto"), "vetoable"),
    "proposal-to-oneself": (edit(OFFER, "proposes: {topic: talks, to: [A]}"), "A]}", "to itself"),
    "own-opponent": (edit("A: {name: Proposer, doctrine: dove, opponents: [B]", "A: {name: Proposer, doctrine: dove, opponents: [A]"),
                     "A], values: {B.economy: -1}", "own opponent"),
    # one bad field: no cascade onto the doctrines naming the option's tags
    "bad-field-no-cascade": (edit("category: economic, tags: [sanctions]", "category: economc, tags: [sanctions]")
                             .replace("hawk: {description: Climbs., escalation: 3", "hawk: {description: Climbs., tags: {sanctions: 2}, escalation: 3"),
                             "economc", "input should be"),
    # doctrines that read the situation: rules and goals
    "rule-unknown-term": (edit(RESPONDER, RESPONDER + "\n    rules: [{when: tension > 50, escalaton: 2}]"), "escalaton", "unknown key"),
    "rule-bad-expression": (edit(RESPONDER, RESPONDER + "\n    rules: [{when: tension > talks.opn, pass: 1}]"), "talks.opn",
                            "unknown name"),
    "rule-unknown-variable": (edit(RESPONDER, RESPONDER + "\n    rules: [{when: tension > 50, weights: {tenson: 1}}]"), "tenson",
                              "unknown variable"),
    "rule-unknown-option": (edit(RESPONDER, RESPONDER + "\n    rules: [{when: tension > 50, options: {a-wran: 1}}]"), "a-wran",
                            "unknown option"),
    "rule-unknown-tag": (edit(RESPONDER, RESPONDER + "\n    rules: [{when: tension > 50, tags: {strik: 1}}]"), "strik:",
                         "unknown option tag"),
    "rule-temperature-zero": (edit(RESPONDER, RESPONDER + "\n    rules: [{when: tension > 50, temperature: 0}]"),
                              ("temperature: 0}", "0}"), "greater than 0"),
    "goal-unknown-variable": (edit(B_VALUES, "values: {B.econmy: {weight: 1, band: [20, 60]}}}"), "B.econmy", "unknown variable"),
    "goal-band-low-above-high": (edit(B_VALUES, "values: {B.economy: {weight: 1, band: [60, 20]}}}"), "[60, 20]", "above its high"),
    "goal-target-outside-range": (edit(B_VALUES, "values: {B.economy: {weight: 1, target: 150, shape: saturate}}}"), "150",
                                  "outside B.economy's range"),
    "goal-band-outside-range": (edit(RESPONDER, RESPONDER + "\n    weights: {tension: {weight: 1, band: [20, 120]}}"), "120",
                                "outside tension's range"),
    "goal-target-without-shape": (edit(B_VALUES, "values: {B.economy: {weight: 1, target: 50}}}"), "{weight: 1, target",
                                  "shape"),
    # expressions
    "zero-over-zero": (edit("requires: talks.open", 'requires: "0/0 > 1"'), "/0 > 1", "division by zero"),
    "divide-by-constant-zero": (edit("requires: talks.open", 'requires: "tension / (2 - 2) > 1"'), "/ (2", "division by zero"),
    "arrow-comparison": (edit("requires: talks.open", 'requires: "tension => 3"'), "=> 3", "'>='"),
    "block-literal-error": (block("|"), "talks.opn\n", "unknown name 'talks.opn'"),
    # memory and the calendar in expressions (issue 16)
    "count-unknown-tag": (edit("requires: talks.open", 'requires: "count(tset, 4) > 1"'), "tset", "unknown option or tag 'tset'"),
    "since-unknown-option": (edit("requires: talks.open", 'requires: "since(b-tets) < 3"'), "b-tets", "unknown option or tag"),
    "count-other-actors-tag": (edit("requires: talks.open", 'requires: "count(A.test, 4) > 1"'), "A.test", "unknown option or tag"),
    "count-turns-out-of-range": (edit("requires: talks.open", 'requires: "count(test, 105) > 1"'), "105", "from 1 to 104"),
    "crossed-unknown-threshold": (edit("requires: talks.open", 'requires: "crossed(intens)"'), "intens)", "unknown threshold"),
    "unknown-window": (with_window('{id: spring, label: Spring, start: "03-04", duration: 30}')
                       .replace("requires: talks.open", 'requires: "window.sprng"'), "window.sprng", "did you mean 'window.spring'"),
    "window-unknown-variable": (with_window('{id: spring, label: Spring, start: "03-04", duration: 30, '
                                            'effects_start: [{var: tensoin, delta: 5}]}'), "tensoin", "unknown variable"),
    "window-february-30": (with_window('{id: spring, label: Spring, start: "02-30", duration: 30}'), '"02-30"', "out of range"),
    "window-and-chance-share-an-id": (chance("probability: '0.1'") + 'calendar:\n  - {id: clash, label: Drill, start: "03-04", duration: 9}\n',
                                      "clash, label: Clash", "duplicate id 'clash'"),
    "window-month-13": (with_window('{id: spring, label: Spring, start: "03-04", end: "13-01"}'), '"13-01"', "month must be"),
    "window-years-reversed": (with_window('{id: spring, label: Spring, start: "03-04", duration: 30, first_year: 2022, '
                                          'last_year: 2021}'), "2021}", "before first_year"),
    "block-folded-error": (block(">"), "talks.opn\n", "unknown name 'talks.opn'"),
    # several moves a turn, chance events, drafting (issue 16)
    "moves-per-turn-0": (edit(C_ACTOR, C_ACTOR.replace("}", ", moves_per_turn: 0}")), ("moves_per_turn: 0}", "0}"),
                         "greater than or equal to 1"),
    "moves-per-turn-11": (edit(C_ACTOR, C_ACTOR.replace("}", ", moves_per_turn: 11}")), ("moves_per_turn: 11}", "11}"),
                          "less than or equal to 10"),
    "max-per-turn-0": (edit("quote: warn},", "quote: warn}, max_per_turn: 0,"), ("max_per_turn: 0,", "0,"),
                       "greater than or equal to 1"),
    "chance-unknown-outcome": (chance("probability: '0.1', ends_game: wat"), "wat}", "unknown outcome 'wat'"),
    "chance-unknown-variable": (chance("probability: 'tensoin / 100'"), "tensoin", "unknown name 'tensoin'"),
    "chance-effect-unknown-variable": (chance("probability: '0.1', effects: [{var: tensio, delta: 3}]"), "tensio,",
                                       "unknown variable 'tensio'"),
    "chance-bad-probability": (chance("probability: 'tension => 3'"), "=> 3", "'>='"),
    "drafting-min-above-max": (edit(TALKS, "talks: {rule: consent, drafting: {min: 4, mode: 3, max: 2}}"), ("min: 4", "4"),
                               "must not exceed max"),
    "drafting-mode-outside": (edit(TALKS, "talks: {rule: consent, drafting: {min: 1, mode: 9, max: 2}}"), ("mode: 9", "9"),
                              "between min"),
    "measure-outside-the-game": (BASE + "calibration:\n  year: 2020\n  measures:\n    - {id: m, label: M, real: 1, tags: [talks], "
                                 'end: "2030-01-01"}\n', '"2030-01-01"', "outside the game"),
    "measure-ending-before-it-starts": (BASE + "calibration:\n  year: 2020\n  measures:\n    - {id: m, label: M, real: 1, "
                                        'tags: [talks], start: "2020-03-02", end: "2020-02-03"}\n', '"2020-02-03"', "before the start"),
}


def locate(text: str, needle) -> tuple[int, int]:
    """Where needle starts; a needle (context, part) is the part within that unique context."""
    context, part = needle if isinstance(needle, tuple) else (needle, needle)
    assert text.count(context) == 1, context
    before = text[: text.index(context) + context.index(part)]
    return before.count("\n") + 1, len(before) - before.rfind("\n")


def write_case(tmp_path: Path, name: str) -> tuple[Path, Path, tuple[int, int] | None, str]:
    """(the file to validate, the folder it may read, where the problem is, the word)."""
    content, needle, word = CASES[name]
    folder = tmp_path / "scenarios"
    folder.mkdir()
    secret = tmp_path / "secret.scenario.yaml"  # outside the folder: never read
    secret.write_text("aws_secret_access_key: AKIAEXAMPLESECRET\n")
    path = folder / f"{name}.scenario.yaml"
    if name == "extends-symlink-out":
        (folder / "link.scenario.yaml").symlink_to(secret)
    if name == "extends-hidden-dotdot":
        (folder / "sub").mkdir()
    if name == "extends-diamond-bad-bottom":
        bottom = folder / "f9.scenario.yaml"
        bottom.write_text(edit(CLOCK, 'clock: {turn_days: 7, start: "2020-01-06", horizon: 0}'))
        for i in range(8, -1, -1):
            below = f"f{i + 1}.scenario.yaml"
            (folder / f"f{i}.scenario.yaml").write_text(f"extends: [{below}, {below}, {below}, {below}]\ntitle: level {i}\n")
        return folder / "f0.scenario.yaml", folder, (bottom, *locate(bottom.read_text(), ("horizon: 0}", "0}"))), word
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    where = None
    if needle is not None:
        text = content.decode("utf-8", "surrogateescape") if isinstance(content, bytes) else content
        where = (path, *locate(text, needle))
    return path, folder, where, word


def test_the_corpus_is_large_and_each_case_has_one_problem():
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", sorted(CASES))
def test_validate_refuses_each_bad_file_with_one_located_line(refuse, tmp_path, name):
    path, folder, where, word = write_case(tmp_path, name)
    line = refuse("validate", path, allowed=(folder,))
    assert word in line.split(".scenario.yaml:", 1)[1], line  # in the message, not the file's name
    assert len(line) < 400, line  # a value is quoted short, never echoed whole
    assert "AKIA" not in line
    if where is not None:
        file, row, col = where
        assert line.startswith(f"{file}:{row}:{col}: "), (line, where)
    else:
        assert line.startswith(f"{path.parent}"), line


@pytest.mark.parametrize("name", ["escape-in-title", "extends-etc-passwd", "255-options-for-one-actor",
                                  "start-year-9999", "zero-over-zero", "horizon-true", "veto-topic-without-members"])
@pytest.mark.parametrize("command", ["run", "lint", "batch", "show"])
def test_run_lint_and_batch_refuse_them_too(refuse, tmp_path, name, command):
    path, folder, where, word = write_case(tmp_path, name)
    out = tmp_path / "out"
    extra = ["--runs", "10", "--workers", "1", "--out", out] if command == "batch" else []
    line = refuse(command, path, *extra, allowed=(folder,))
    assert word in line.split(".scenario.yaml:", 1)[1] and not out.exists()


def test_the_largest_file_is_quick_when_valid(tmp_path):
    """Any file the loader accepts validates in well under a second of work (here: a few)."""
    import time

    from sim.format.scenario import load

    big = tmp_path / "big.scenario.yaml"
    big.write_text(many_options(bad=False))
    assert os.path.getsize(big) <= MAX_BYTES
    start = time.process_time()
    load(big)
    assert time.process_time() - start < 4.0  # it was 46 s: a scan of the options per option


def test_the_same_rules_hold_for_a_scenario_read_from_json(tmp_path):
    """A batch folder's scenario.json and a save's scenario are validated by the model alone:
    control characters, bools for numbers and dates out of range are refused there too."""
    import json

    from pydantic import ValidationError

    from sim.format.catalog import bundled
    from sim.format.model import Scenario
    from sim.format.scenario import load

    good = load(bundled()["tutorial"]).scenario.model_dump(mode="json", by_alias=True)
    Scenario.model_validate(json.loads(json.dumps(good)))
    for change in ({"title": "Tutorial\u001b]0;pwned\u0007"}, {"description": "x\u009b2J"},
                   {"clock": {**good["clock"], "horizon": True}}, {"clock": {**good["clock"], "start": "9999-01-01"}}):
        with pytest.raises(ValidationError):
            Scenario.model_validate(json.loads(json.dumps({**good, **change})))


@pytest.mark.parametrize("clock", ['{turn_days: 1, start: "9998-12-01", horizon: 30}',
                                   '{turn_days: 365, start: "1000-01-01", horizon: 520}'])
def test_the_edges_of_what_validates_play(tmp_path, capsys, clock):
    """254 options for one actor, and games at the first and last years allowed: each runs."""
    from sim.cli import main

    path = tmp_path / "edge.scenario.yaml"
    path.write_text(options_for_a(254).replace(CLOCK, f"clock: {clock}"))
    assert main(["run", str(path), "--seed", "3", "--json"]) == 0
    capsys.readouterr()
    # a batch in a process of its own (its workers and progress do not mix with pytest's capture)
    import subprocess
    import sys

    batch = subprocess.run([sys.executable, "-m", "sim.cli", "batch", str(path), "--runs", "20", "--workers", "1",
                            "--out", str(tmp_path / "b"), "--json"], capture_output=True, text=True, timeout=300)
    assert batch.returncode == 0, batch.stderr
