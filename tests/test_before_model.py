"""A scenario that opts into none of the situational model (goals, rules, memory, several moves a
turn, the calendar, chance, drafting) plays exactly as it did before that model existed.

`tests/data/before-model/` holds what the engine produced before it (300 games of each scenario
as the batch's rows, and one recorded game as `ladder run --json`). A bundled crisis retuned
with the new features leaves this folder; the tutorial and the mechanics fixture never do."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from sim.cli import main
from sim.engine.rules import Rules
from sim.engine.stepping import Engine
from sim.format.scenario import open_scenario
from sim.montecarlo.chunks import rows

DATA = Path(__file__).parent / "data"
BEFORE = DATA / "before-model"
SCENARIOS = {"tutorial": "tutorial", "mechanics": str(DATA / "mechanics.scenario.yaml"),
             "korea-2017": "korea-2017", "korea-2019": "korea-2019", "korea-2022": "korea-2022"}
KEPT = sorted(p.name.removesuffix(".csv") for p in BEFORE.glob("*.csv"))
# What was added since those files were made: what ended each game (and, in a recorded game, whose view it is). (These scenarios declare no
# chance events, so they have no chance_* columns.) Everything else must be as it was.
ADDED_COLUMNS = ("cause",)
ADDED_FIELDS = ("cause", "view")
CAUSES = {"miscalculation", "condition", "horizon"}


def _table(name: str) -> str:
    loaded = open_scenario(SCENARIOS[name])
    table = rows(Engine(Rules(loaded.scenario, loaded.name), seed=7, runs=300, record=False).run())
    assert set(table["cause"]) <= CAUSES | {o.id for o in loaded.scenario.options if o.ends_game}
    assert not any(c.startswith("chance_") for c in table)
    table = {c: v for c, v in table.items() if c not in ADDED_COLUMNS}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(table))
    columns = [np.ma.filled(c.astype(object), "") if np.ma.isMaskedArray(c) else c for c in table.values()]
    for i in range(300):
        writer.writerow([repr(c[i].item()) if hasattr(c[i], "item") else c[i] for c in columns])
    return out.getvalue()


def test_the_scenarios_that_must_never_change_are_kept():
    assert {"tutorial", "mechanics"} <= set(KEPT)


@pytest.mark.parametrize("name", KEPT)
def test_300_games_are_what_they_were(name):
    assert _table(name) == (BEFORE / f"{name}.csv").read_text()


@pytest.mark.parametrize("name", KEPT)
def test_a_recorded_game_is_what_it_was(name, capsys):
    assert main(["run", SCENARIOS[name], "--seed", "3", "--json"]) == 0
    now = json.loads(capsys.readouterr().out)
    before = json.loads((BEFORE / f"{name}.game.json").read_text())
    # the outcome event's cause, and whose view the game is told from (None: the umpire's)
    assert [now.pop(f) for f in ADDED_FIELDS] == [now["events"][-1]["cause"], None]
    actors = list(open_scenario(SCENARIOS[name]).scenario.actors)
    # who saw each event (issue 17): with nothing hidden, every actor saw every event
    assert [ev.pop("seen_by") for ev in now["events"]] == [actors] * len(now["events"])
    assert [ev.pop("seen_at") for ev in now["events"]] == [dict.fromkeys(actors, ev["turn"]) for ev in now["events"]]
    assert now == before


# The digests these scenarios had before (saves and batch folders hold them): fields added since
# are left out of a digest while at their defaults, so what was saved then still resumes.
DIGESTS = {"tutorial": "3ebe5c37733aac14f971ca417773440231a8dccba394c9b0061415a615945ad5",
           "mechanics": "ad813d0135a7e8c503a2bfabb2fece930b8f8690e54dc9c090b005ae67e7d9bd"}


@pytest.mark.parametrize("name", sorted(DIGESTS))
def test_the_digest_is_what_it_was(name):
    from sim.format.model import digest

    assert digest(open_scenario(SCENARIOS[name]).scenario) == DIGESTS[name]


def test_a_new_field_changes_the_digest_only_when_used():
    from sim.format.model import digest
    from sim.format.scenario import validate
    from sim.format.source import parse_document

    text = (DATA / "mechanics.scenario.yaml").read_text()
    actor = "C: {name: Veto holder, doctrine: dove"
    same = validate(parse_document(text.replace(actor, actor + ", moves_per_turn: 1"), "same.yaml"))
    other = validate(parse_document(text.replace(actor, actor + ", moves_per_turn: 2"), "other.yaml"))
    assert digest(same) == DIGESTS["mechanics"] != digest(other)
