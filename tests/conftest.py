from pathlib import Path

import pytest

from sim.cli import main
from sim.engine.rules import Rules
from sim.engine.stepping import Engine
from sim.format.scenario import load

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def no_input_guard(request, monkeypatch):
    """Pilot presses keys faster than a person: the app's pause after a screen change (its guard
    against a double Enter) is off, except in tests marked `input_guard`, which test it."""
    if "input_guard" not in request.keywords:
        from tui.app import LadderApp

        monkeypatch.setattr(LadderApp, "INPUT_GUARD", 0.0)


@pytest.fixture(scope="session")
def mechanics() -> Rules:
    loaded = load(DATA / "mechanics.scenario.yaml")
    return Rules(loaded.scenario, loaded.name)


def play(engine: Engine, moves: dict, until_turn: int | None = None) -> Engine:
    """Drive human actors by a script {(turn, actor): option_id}; unscripted decisions pass."""
    while True:
        decision = engine.advance(until_turn)
        if decision is None:
            return engine
        engine.submit(decision.actor, moves.get((decision.turn, decision.actor)))


def var(engine: Engine, name: str, world: int = 0) -> float:
    return float(engine.state.vars[world, engine.rules.var_index[name]])


def ladder(capsys, *argv) -> tuple[int, str, str]:
    """The command run in-process: exit code, stdout, stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(capsys, *argv) -> str:
    """Bad input: exit 2, nothing on stdout, one line on stderr and no traceback; the line."""
    code, out, err = ladder(capsys, *argv)
    assert code == 2 and out == "", (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]
