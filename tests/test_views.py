"""Views of a game (issue 17): `ladder run` and `ladder replay` as one actor saw the game, the
after-action report's "what each side knew", and events.parquet's `seen_by`."""
import json
import re
import sqlite3

import pyarrow.parquet as pq
import pytest
from conftest import DATA, ladder, one_error_line

import sim
from sim.engine.rules import Rules
from sim.engine.stepping import Engine
from sim.format.scenario import load
from sim.play.debrief import debrief

KNOWLEDGE = DATA / "knowledge.scenario.yaml"
SCHEMER = "  schemer: {description: Tests covertly and hacks., options: {b-test: 50, b-hack: 5}, pass: 0}\n"


def _variant(folder, name: str, horizon: int):
    """The knowledge bench with a doctrine for B that prepares its covert test and hacks."""
    text = KNOWLEDGE.read_text()
    text = text.replace("doctrines:\n", "doctrines:\n" + SCHEMER).replace("horizon: 30", f"horizon: {horizon}")
    path = folder / f"{name}.scenario.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    """Three turns: B's covert test, prepared on turn 1, is never carried out; only a detection reveals it."""
    return _variant(tmp_path_factory.mktemp("views"), "short", 3)


@pytest.fixture(scope="module")
def long(tmp_path_factory):
    return _variant(tmp_path_factory.mktemp("views"), "long", 30)


def _game(capsys, path, seed, *more):
    code, out, err = ladder(capsys, "run", str(path), "--seed", str(seed), "--doctrine", "B=schemer", *more)
    assert code == 0, err
    return out


def test_a_covert_preparation_is_in_an_actors_view_only_once_it_detected_it(capsys, short):
    told = {True: 0, False: 0}
    for seed in range(30):
        truth = json.loads(_game(capsys, short, seed, "--json"))
        prepared = [e for e in truth["events"] if e["kind"] == "prepare"]
        assert len(prepared) == 1 and prepared[0]["seen_at"]["B"] == prepared[0]["turn"]  # B knows at once
        assert "Hack" in _game(capsys, short, seed, "--view", "B")
        detected = any(e["kind"] == "detected" and e["actor"] == "A" for e in truth["events"])
        assert ("A" in prepared[0]["seen_by"]) == detected  # the record of the preparation says who learned of it
        told[detected] += 1
        text = _game(capsys, short, seed, "--view", "A")
        record = _game(capsys, short, seed, "--view", "A", "--json")
        assert text.splitlines()[0].endswith(", as A saw it")
        assert ("Covert test" in text) == detected and ('"b-test"' in record) == detected, seed
        assert "Hack" not in text and '"b-hack"' not in record  # not attributed: A never saw it
        assert "detects indicators: B preparing Covert test" in text or not detected
        view = json.loads(record)
        assert view["view"] == "A" and truth["view"] is None
        assert view["final_state"]["B.resolve"] is None and truth["final_state"]["B.resolve"] == 50.0  # private to B
        assert view == sim.run(sim.load(short), seed=seed, doctrines={"B": "schemer"}, view="A").record
    assert told[True] and told[False], told


def _learned(report: str) -> list[str]:
    """Each item of "What each side knew": its actor and subject, and who learned of it when."""
    section = report.split("## What each side knew\n\n", 1)[1].split("\n## ", 1)[0].strip()
    items = re.sub(r"\n  ", " ", section.split("\n\n")[1]).split("\n")  # after the introduction
    return [re.sub(r"^- \*\*[0-9-]+\*\* \(turn \d+\) ", "", item) for item in items]


def test_what_each_side_knew_gives_the_turn_each_actor_learned_of_each_hidden_move(long):
    rules = Rules(load(long).scenario, "long")
    for seed in (1, 2):
        engine = Engine(rules, seed=seed, runs=[0], doctrines={"B": "schemer"}).run()
        records = engine.log.records
        # from the log: turns B prepared its test, the turns each actor detected each preparation, moves carried out
        prepared = [(ev.turn, int(ev.data["ready"])) for ev in records if ev.kind == "prepare"]
        detected = {(ev.actor, int(ev.data["ready"][0])): ev.turn for ev in records if ev.kind == "detected"}
        happened = {ev.turn for ev in records if ev.kind == "move" and ev.subject == "b-test"}
        hacks = [ev.turn for ev in records if ev.kind == "move" and ev.subject == "b-hack"]
        assert prepared and hacks and detected and happened

        def when(actor, ready):
            if (actor, ready) in detected:
                return f"turn {detected[actor, ready] + 1} (detected)"
            return f"turn {ready + 1} (when it happened)" if ready in happened else "never"

        expected = {}
        for turn, ready in prepared:
            expected[turn, "prepare"] = f"A {when('A', ready)}; B turn {turn + 1} (its own); C {when('C', ready)}."
        for turn in hacks:
            expected[turn, "hack"] = f"A never; B turn {turn + 1} (its own); C never."
        report = debrief(engine, "long", (), runs=10)
        items = _learned(report)
        told = [(turn, kind) for turn, kind in sorted(expected, key=lambda k: (k[0], k[1] == "hack"))]
        assert len(items) == len(told)
        for item, key in zip(items, told):
            assert item.startswith("B: prepares: Covert test" if key[1] == "prepare" else "B: Hack"), item
            assert item.endswith("Learned of it: " + expected[key]), (item, expected[key])
        # A's version: the preparations it detected, with its turn alone (one it saw only carried
        # out is a move of its timeline, its preparation unknown to it), and no hack
        mine = _learned(debrief(engine, "long", (), runs=10, view="A"))
        heads = [(i.split(" Learned of it: ")[0], re.search(r"Learned of it: A (turn \d+ \([a-z ]+\)|never)", i)[1]) for i in items]
        assert mine == [f"{head} Learned of it: A {when}." for head, when in heads if when.endswith("(detected)")]
        assert "Hack" not in debrief(engine, "long", (), runs=10, view="A")


def test_a_scenario_hiding_nothing_has_no_section_and_every_view_is_the_umpires(capsys):
    scenario = str(DATA / "mechanics.scenario.yaml")
    actors = list(load(scenario).scenario.actors)
    umpire = json.loads(ladder(capsys, "run", scenario, "--seed", "4", "--json")[1])
    text = ladder(capsys, "run", scenario, "--seed", "4")[1].splitlines()
    assert not any("[seen by" in line for line in text)
    for actor in actors:
        view = json.loads(ladder(capsys, "run", scenario, "--seed", "4", "--view", actor, "--json")[1])
        assert view == {**umpire, "view": actor}
        assert ladder(capsys, "run", scenario, "--seed", "4", "--view", actor)[1].splitlines()[1:] == text[1:]
    rules = Rules(load(scenario).scenario, "mechanics")
    engine = Engine(rules, seed=4, runs=[0]).run()
    assert "What each side knew" not in debrief(engine, "mechanics", (), runs=10)


def test_an_unknown_view_is_one_line(capsys, short, tmp_path):
    line = one_error_line(capsys, "run", str(short), "--view", "AA")
    assert line == "ladder: error: --view 'AA': unknown actor (did you mean 'A'?)"
    assert "one of: A, B, C" in one_error_line(capsys, "run", str(short), "--view", "Zed")
    assert ladder(capsys, "batch", str(short), "--runs", "3", "--out", str(tmp_path / "b"), "--workers", "1", "--no-report")[0] == 0
    assert "--view 'AA': unknown actor" in one_error_line(capsys, "replay", str(tmp_path / "b"), "--run", "1", "--view", "AA")
    with pytest.raises(sim.UsageError, match="--view 'AA': unknown actor"):
        sim.run(sim.load(short), view="AA")


@pytest.fixture(scope="module")
def batch(long, tmp_path_factory):
    out = tmp_path_factory.mktemp("views") / "batch"
    result = sim.batch(sim.load(long), runs=40, seed=3, doctrines={"B": "schemer"}, out=out, events=True, report=False)
    return out, result


def test_replay_tells_a_run_of_a_batch_as_each_actor_saw_it(capsys, long, batch):
    out, _ = batch
    for actor in ("A", "B", None):
        view = ("--view", actor) if actor else ()
        for json_flag in ((), ("--json",)):
            replayed = ladder(capsys, "replay", str(out), "--run", "7", *view, *json_flag)
            played = ladder(capsys, "run", str(long), "--seed", "3", "--run", "7", "--doctrine", "B=schemer", *view, *json_flag)
            assert replayed == played


def test_events_parquet_says_who_saw_each_event(long, batch):
    _, result = batch
    events = result.events.to_pydict()
    seen = set(zip(events["kind"], events["subject"], events["actor"], events["seen_by"]))
    assert {s for k, subject, a, s in seen if k == "detected"} == {"A", "C"}
    assert {(a, s) for k, subject, a, s in seen if k == "detected"} == {("A", "A"), ("C", "C")}
    assert {s for k, subject, a, s in seen if subject == "b-hack"} == {"B"}
    # a covert preparation: B, and whoever detected it by the end of the game
    assert {s for k, subject, a, s in seen if k == "prepare"} == {"B", "A,B", "B,C", "A,B,C"}
    assert {s for k, subject, a, s in seen if k == "move" and subject != "b-hack"} == {"A,B,C"}
    for run in (0, 39):  # each row as the single game lists it
        game = sim.run(sim.load(long), seed=3, run=run, doctrines={"B": "schemer"})
        rows = [s for r, s in zip(events["run"], events["seen_by"]) if r == run]
        assert rows == [",".join(ev["seen_by"]) for ev in game.events]
    db = sqlite3.connect(":memory:")  # queried unquoted, as a plain string
    db.execute("CREATE TABLE events (kind, seen_by)")
    db.executemany("INSERT INTO events VALUES (?, ?)", zip(events["kind"], events["seen_by"]))
    (a_saw,) = db.execute("SELECT count(*) FROM events WHERE ',' || seen_by || ',' LIKE '%,A,%'").fetchone()
    assert a_saw == sum("A" in s.split(",") for s in events["seen_by"]) < len(events["seen_by"])
    assert pq.read_schema(batch[0] / "events.parquet").field("seen_by").type == "string"
