"""Save files are untrusted input: `ladder play --resume FILE` refuses a bad one with one line and
exit 2 before the app opens -- whatever the file holds, however large -- and an edited save is
named as edited, not played as another game.

A corpus of bad saves goes through the shared `refuse` guard; a Hypothesis property mutates a
real save (values replaced by JSON of other types, keys dropped or added, text truncated, bytes
flipped) and requires each mutation to resume to a game or give a UsageError, never anything else.
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.format.catalog import resolve
from sim.format.errors import UsageError
from sim.play.game import MAX_SAVE_BYTES, SAVE_VERSION, Game, Setup, _seal

EXAMPLES = int(os.environ.get("FUZZ_SAVES", "300"))


def play_some(scenario: str, seed: int, humans: tuple, moves: int) -> Game:
    """A game with `moves` moves of its people: the first open option, or a pass when none is."""
    game = Game.start(Setup(scenario, seed, humans))
    for _ in range(moves):
        decision = game.advance()
        if decision is None:
            break
        open_ = [option for option, why in game.engine.why_not(decision.actor) if not why]
        game.submit(open_[0] if open_ else None)
    return game


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> dict:
    """A real save of korea-2019 with five moves of the US, some of them options, as parsed JSON."""
    game = play_some("korea-2019", 5, ("US",), 5)
    assert any(m.option for m in game.moves)
    path = tmp_path_factory.mktemp("real") / "game.json"
    game.save(path)
    return json.loads(path.read_text())


def reseal(data: dict) -> dict:
    """The save sealed again after an edit: what a save written by a faulty program would be like,
    so that the checks behind the seal are reached."""
    data["seal"] = _seal(data["setup"], data["digest"], data["moves"], data.get("undone"))
    return data


def edit(data: dict, *, sealed: bool = False, **setup) -> dict:
    data = copy.deepcopy(data)
    data["setup"].update(setup)
    return reseal(data) if sealed else data


def write(tmp_path: Path, content, name: str = "bad.json") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text(json.dumps(content, indent=2))
    return path


def test_a_real_save_resumes_and_so_do_saves_of_versions_1_and_2(real, tmp_path):
    assert Game.resume(write(tmp_path, real)).moves == play_some("korea-2019", 5, ("US",), 5).moves
    old = copy.deepcopy(real)
    old["version"] = 1
    del old["seal"], old["undone"]
    assert len(Game.resume(write(tmp_path, old, "old.json")).moves) == 5
    two = copy.deepcopy(real)
    two["version"] = 2
    del two["undone"]
    two["seal"] = _seal(two["setup"], two["digest"], two["moves"], None)
    assert len(Game.resume(write(tmp_path, two, "two.json")).moves) == 5
    two["seal"]["undone"] = real["seal"]["undone"]
    with pytest.raises(UsageError, match="undone: not in a version 2 save"):
        Game.resume(write(tmp_path, two, "two-undone.json"))


# --- the corpus -------------------------------------------------------------------------------

def _moves(real, change) -> dict:
    data = copy.deepcopy(real)
    change(data["moves"])
    return data


def _other_option(real) -> dict:
    """The first option move changed to an option the actor does not have."""
    data = copy.deepcopy(real)
    next(m for m in data["moves"] if m["option"])["option"] = "nonesuch"
    return data


CORPUS = {
    # name: (content from the real save, what the line must say)
    "seed of the wrong type": (lambda r: edit(r, seed="5"), "setup.seed"),
    "seed a float": (lambda r: edit(r, seed=5.0), "setup.seed"),
    "seed a boolean": (lambda r: edit(r, seed=True), "setup.seed"),
    "NaN seed": (lambda r: json.dumps(edit(r, seed=0)).replace('"seed": 0', '"seed": NaN'), "NaN"),
    "Infinity seed": (lambda r: json.dumps(edit(r, seed=0)).replace('"seed": 0', '"seed": -Infinity'), "Infinity"),
    "seed 2**64": (lambda r: edit(r, seed=2**64), "setup.seed"),
    "negative seed": (lambda r: edit(r, seed=-1), "setup.seed"),
    "seed of 5,000 digits": (lambda r: json.dumps(edit(r, seed=0)).replace('"seed": 0', '"seed": ' + "9" * 5000),
                             "corrupt save"),
    "unknown doctrine": (lambda r: edit(r, sealed=True, doctrines={"China": "nonesuch"}), "no doctrine 'nonesuch'"),
    "doctrine for an unknown actor": (lambda r: edit(r, sealed=True, doctrines={"Mars": "hawk"}), "no actor 'Mars'"),
    "doctrine for the human": (lambda r: edit(r, sealed=True, doctrines={"US": "hawk"}), "played by a person"),
    "unknown human actor": (lambda r: edit(r, sealed=True, humans=["US", "Mars"]), "no actor 'Mars'"),
    "a human twice": (lambda r: edit(r, sealed=True, humans=["US", "US"]), "played twice"),
    "human with control characters": (lambda r: edit(r, humans=["\x1b[31mUS"]), "setup.humans"),
    "scenario of the wrong type": (lambda r: edit(r, scenario=42), "setup.scenario"),
    "scenario a list": (lambda r: edit(r, scenario=["korea-2019"]), "setup.scenario"),
    "scenario file that does not exist": (
        lambda r: edit(r, sealed=True, scenario="/nonexistent/gone.scenario.yaml"), "no longer exists"),
    "scenario a file that is no scenario": (lambda r: edit(r, sealed=True, scenario="/etc/passwd"), "not read"),
    "scenario a relative path": (lambda r: edit(r, sealed=True, scenario="mine.scenario.yaml"), "not read"),
    "scenario an unknown name": (lambda r: edit(r, sealed=True, scenario="korea-1950"), "not read"),
    "huge run number": (lambda r: edit(r, run=2**70), "setup.run"),
    "run 2**63": (lambda r: edit(r, run=2**63), "setup.run"),
    "edited seed": (lambda r: edit(r, seed=6), "the seed was edited"),
    "edited run": (lambda r: edit(r, run=1), "the run was edited"),
    "edited players": (lambda r: edit(r, humans=["DPRK"]), "the players were edited"),
    "edited seed and moves": (lambda r: _moves(edit(r, seed=6), lambda m: m.pop()), "the seed and the moves were edited"),
    "edited move list: one dropped": (lambda r: _moves(r, lambda m: m.pop()), "the moves were edited"),
    "edited move list: an option changed": (lambda r: _other_option(r), "the moves were edited"),
    "edited scenario digest": (lambda r: {**r, "digest": "0" * 64}, "the scenario's name or digest was edited"),
    "a move that is not legal": (lambda r: reseal(_other_option(r)), "cannot be played again"),
    "a move out of turn": (lambda r: reseal(_moves(r, lambda m: m[0].update(turn=7))), "does not fit"),
    "a move of a string turn": (lambda r: _moves(r, lambda m: m[0].update(turn="0")), "moves.0.turn"),
    "more moves than the game has": (lambda r: reseal(_moves(r, lambda m: m.extend(m * 60))), "more than this game"),
    "a move with an extra key": (lambda r: _moves(r, lambda m: m[0].update(cheat=True)), "moves.0.cheat"),
    "no seal in version 2": (lambda r: {k: v for k, v in r.items() if k != "seal"}, "seal"),
    "a broken seal": (lambda r: {**r, "seal": {"seed": 1}}, "seal"),
    "no setup": (lambda r: {k: v for k, v in r.items() if k != "setup"}, "setup"),
    "version 99": (lambda r: {**r, "version": 99}, "version 99"),
    "version a string": (lambda r: {**r, "version": "2"}, "version '2'"),
    "another format": (lambda r: {**r, "format": "something-else"}, "not an Escalation Ladder save"),
    "a JSON list": (lambda r: [r], "not an Escalation Ladder save"),
    "truncated file": (lambda r: json.dumps(r)[:200], "corrupt save"),
    "binary junk": (lambda r: bytes(range(256)) * 10, "not UTF-8"),
    "binary junk that is UTF-8": (lambda r: "\x00\x1b[2J\x07" * 100, "corrupt save"),
    "an empty file": (lambda r: b"", "empty"),
    "only blanks": (lambda r: b"  \n\t\n", "empty"),
    "deeply nested JSON": (lambda r: '{"format": "escalation-ladder-save", "version": 2, "moves": '
                           + "[" * 200_000 + "]" * 200_000 + "}", "nested too deep"),
    "deeply nested objects": (lambda r: '{"a": ' * 100_000 + "1" + "}" * 100_000, "nested too deep"),
}


@pytest.mark.parametrize("case", list(CORPUS))
def test_a_bad_save_is_refused(case, real, refuse, tmp_path):
    make, expected = CORPUS[case]
    path = write(tmp_path, make(real))
    line = refuse("play", "--resume", path, allowed=(tmp_path,))
    assert expected in line, line
    assert line.startswith(f"ladder: error: {path}"), line


def test_a_save_over_the_size_cap_is_refused_unread(real, refuse, tmp_path):
    """100 MB of junk (a sparse file: quick to make) is refused after reading at most the cap."""
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:
        f.write(json.dumps(real)[:-1].encode() + b', "junk": "')
        f.truncate(100_000_000)
    assert path.stat().st_size > MAX_SAVE_BYTES
    assert "too large" in refuse("play", "--resume", path, allowed=(tmp_path,))
    # and one byte over the cap is enough
    path.write_bytes(b" " * MAX_SAVE_BYTES + b"{}")
    assert "too large" in refuse("play", "--resume", path, allowed=(tmp_path,))


def test_a_folder_or_a_device_is_no_save(refuse, tmp_path):
    assert "cannot read" in refuse("play", "--resume", tmp_path, allowed=(tmp_path,))
    assert "no such save" in refuse("play", "--resume", tmp_path / "gone.json", allowed=(tmp_path,))
    assert "empty" in refuse("play", "--resume", "/dev/null", allowed=(tmp_path,))


def test_no_content_of_a_file_named_as_the_scenario_is_echoed(real, refuse, tmp_path):
    secret = tmp_path / "notes.txt"
    secret.write_text("SECRET-TOKEN: 1234\n")
    line = refuse("play", "--resume", write(tmp_path, edit(real, sealed=True, scenario=str(secret))),
                  allowed=(tmp_path,))
    assert "not read" in line and "SECRET" not in line
    disguised = tmp_path / "notes.scenario.yaml"  # a scenario's name, a secret's content
    disguised.write_text("SECRET-TOKEN one\nSECRET-TOKEN: 1234\n")
    line = refuse("play", "--resume", write(tmp_path, edit(real, sealed=True, scenario=str(disguised))),
                  allowed=(tmp_path,))
    assert "not valid" in line and "SECRET" not in line and "1234" not in line


def test_a_changed_scenario_is_told_apart_from_an_edited_save(real, refuse, tmp_path):
    scenario = tmp_path / "mine.scenario.yaml"
    text = resolve("tutorial").read_text()
    scenario.write_text(text)
    game = play_some(str(scenario), 3, ("Blue",), 2)
    save = tmp_path / "s.json"
    game.save(save)
    assert Game.resume(save).moves == game.moves
    scenario.write_text(text.replace("horizon: 26", "horizon: 30"))
    line = refuse("play", "--resume", save, allowed=(tmp_path,))
    assert "the scenario" in line and "has changed" in line and "edited" not in line


# --- the property -----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _places(tree, at=()):
    """Every place in a JSON tree: a tuple of keys and indexes."""
    yield at
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _places(v, (*at, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _places(v, (*at, i))


@st.composite
def mutated_saves(draw, base: dict) -> bytes:
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        places = [p for p in _places(data) if p]
        if not places:
            break
        place = draw(st.sampled_from(places))
        parent = data
        for key in place[:-1]:
            parent = parent[key]
        what = draw(st.sampled_from(["replace", "drop", "add"]))
        if what == "replace":
            parent[place[-1]] = draw(json_values)
        elif what == "drop":
            del parent[place[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(json_values)
        else:
            parent.append(draw(json_values))
    if draw(st.booleans()):
        try:
            reseal(data)  # reach the checks behind the seal
        except Exception:
            pass
    text = json.dumps(data, indent=draw(st.sampled_from([None, 2]))).encode()
    damage = draw(st.sampled_from(["none", "none", "none", "truncate", "flip"]))
    if damage == "truncate":
        text = text[: len(text) - draw(st.integers(0, len(text)))]
    elif damage == "flip":
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, max(len(text) - 1, 0)))
            byte = draw(st.sampled_from(list(b'0123456789-.eE{}[]",:\\ntrufalsNI \n\x00\x1b\xff')) | st.integers(0, 255))
            text = text[:i] + bytes([byte]) + text[i + 1:]
    return text


def _save_of(game: Game, tmp: Path) -> dict:
    game.save(tmp)
    return json.loads(tmp.read_text())


@pytest.fixture(scope="module")
def bases(real, tmp_path_factory) -> list[dict]:
    tmp = tmp_path_factory.mktemp("bases") / "s.json"
    tutorial = play_some("tutorial", 3, ("Blue", "Red"), 6)
    return [real, _save_of(tutorial, tmp)]


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_mutation_of_a_save_resumes_or_is_a_usage_error(bases, tmp_path, data):
    text = data.draw(mutated_saves(data.draw(st.sampled_from(bases))))
    path = tmp_path / "mutated.json"
    path.write_bytes(text)
    try:
        game = Game.resume(path)
    except UsageError as exc:
        message = str(exc)
        assert "\n" not in message and "\x1b" not in message, message
        return
    assert isinstance(game, Game) and game.setup.seed < 2**64


def test_the_save_version_is_3():
    assert SAVE_VERSION == 3
