"""Nothing lost to a stray key (issue 18): a use of force is confirmed, the last move can be
undone, and quitting neither loses moves nor leaves a save of a game never played."""
from __future__ import annotations

import json

import numpy as np
import pytest

from sim.format.errors import UsageError
from sim.format.scenario import open_scenario
from sim.play.game import Game, Setup, force_level
from tui.app import LadderApp
from tui.board import BoardScreen
from tui.dialogs import ConfirmScreen
from tui.panels import MovePicker

SIZE = (80, 24)


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_the_use_of_force_is_the_threshold_named_so_or_the_highest():
    assert force_level(open_scenario("korea-2019").scenario) == 12
    assert force_level(open_scenario("tutorial").scenario) == 6
    game = Game.start(Setup("korea-2019", 5, ("US",)))
    assert game.is_force("us_preventive_strike") and not game.is_force("us_deploy_assets")
    assert not game.is_force(None)


async def test_a_use_of_force_is_taken_only_once_confirmed(tmp_path):
    game = Game.start(Setup("tutorial", 3, ("Blue",)))
    app = LadderApp(BoardScreen(game, tmp_path / "game.json", rollouts=5, report_runs=20))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in range(4):  # the strike is open from turn 4
            await pilot.press("p")
            await settle(pilot)
        board = app.screen
        picker = board.query_one(MovePicker)
        row = list(picker.reasons).index("blue_strike")
        picker.move_cursor(row=row)
        decision = game.waiting
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "Strike" in str(app.screen.query_one("#confirm-title").render())
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is board and len(game.moves) == 4 and game.waiting is decision
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert game.moves[-1].option == "blue_strike" and len(game.moves) == 5


async def test_a_move_below_the_use_of_force_is_not_asked_again(tmp_path):
    game = Game.start(Setup("tutorial", 3, ("Blue",)))
    app = LadderApp(BoardScreen(game, tmp_path / "game.json", rollouts=5, report_runs=20))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        picker = app.screen.query_one(MovePicker)
        first = next(k for k, why in enumerate(picker.reasons.values()) if why is None)
        picker.move_cursor(row=first)
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmScreen) and len(game.moves) == 1


def state_arrays(game: Game) -> dict:
    st = game.engine.state
    return {k: v.copy() for k, v in vars(st).items() if isinstance(v, np.ndarray)}


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_undo_restores_the_state_before_the_move():
    game = Game.start(Setup("korea-2019", 5, ("US",)))
    for _ in range(3):
        game.advance()
        game.submit(None)
    decision = game.advance()
    before, log, now = state_arrays(game), game.engine.log.for_world(0), game.engine.env.now
    option = next(o for o, why in game.engine.why_not("US") if why is None)
    game.submit(option)
    game.advance()
    assert game.can_undo()
    undone = game.undo()
    assert undone.option == option and undone.turn == decision.turn
    assert_same_state(before, state_arrays(game))
    assert game.engine.log.for_world(0) == log and game.engine.env.now == now
    assert game.undone == [undone] and len(game.moves) == 3
    assert game.waiting.actor == "US" and game.waiting.turn == decision.turn


def test_a_save_after_an_undo_resumes_to_the_same_game_and_the_report_counts_it(tmp_path):
    from sim.play.debrief import debrief

    game = Game.start(Setup("tutorial", 3, ("Blue",)))
    game.advance()
    game.submit(next(o for o, why in game.engine.why_not("Blue") if why is None))
    game.advance()
    game.undo()
    game.submit(None)
    game.advance()
    path = tmp_path / "game.json"
    game.save(path)
    saved = json.loads(path.read_text())
    assert saved["version"] == 3 and len(saved["undone"]) == 1 and len(saved["moves"]) == 1
    resumed = Game.resume(path)
    resumed.advance()  # to the decision the game was saved at, as the board does
    assert resumed.moves == game.moves and resumed.undone == game.undone
    assert_same_state(state_arrays(game), state_arrays(resumed))
    saved["undone"] = []
    path.write_text(json.dumps(saved))
    with pytest.raises(UsageError, match="the moves undone were edited"):
        Game.resume(path)
    while game.advance() is not None:
        game.submit(None)
    report = debrief(game.engine, game.name, game.setup.humans, runs=20, undone=len(game.undone))
    assert "1 move undone" in report
    assert "undone" not in debrief(game.engine, game.name, game.setup.humans, runs=20)


def test_in_hot_seat_a_player_cannot_undo_anothers_move():
    game = Game.start(Setup("tutorial", 3, ("Red", "Blue")))
    game.advance()
    assert not game.can_undo()
    game.submit(None)
    game.advance()
    assert not game.can_undo()  # Blue to move; the last move was Red's


async def test_u_undoes_the_last_move_on_the_board(tmp_path):
    game = Game.start(Setup("tutorial", 3, ("Blue",)))
    app = LadderApp(BoardScreen(game, tmp_path / "game.json", rollouts=5, report_runs=20))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("u")  # nothing to undo yet
        await settle(pilot)
        assert game.moves == [] and game.undone == []
        before = state_arrays(game)
        await pilot.press("p")
        await settle(pilot)
        assert len(game.moves) == 1
        await pilot.press("u")
        await settle(pilot)
        assert game.moves == [] and len(game.undone) == 1 and app.screen.game.waiting.turn == 0
        assert_same_state(before, state_arrays(game))
    saved = json.loads((tmp_path / "game.json").read_text())
    assert saved["moves"] == [] and len(saved["undone"]) == 1


# --- quitting: no save of a game never played; where the game is saved -------------------------

def run_ladder_play(monkeypatch, tmp_path, script, scenario="tutorial", player="Blue"):
    """`ladder play SCENARIO --as PLAYER` through run_app, its app driven by `script(pilot)`
    (headless, 80x24); the exit code."""
    import argparse

    from textual.app import App

    import tui.app

    async def auto_pilot(pilot):
        await settle(pilot)
        await script(pilot)

    monkeypatch.setattr(tui.app.LadderApp, "run", lambda self: App.run(self, headless=True, size=SIZE,
                                                                       auto_pilot=auto_pilot))
    return tui.app.run_app(argparse.Namespace(
        scenario=scenario, players=(player,), watch=False, seed=3, doctrine=[], resume=None, replay=None,
        run_index=None, saves=str(tmp_path / "saves")))


def test_quitting_right_after_the_start_leaves_no_save(monkeypatch, tmp_path, capsys):
    async def quit_at_once(pilot):
        await pilot.press("q")

    assert run_ladder_play(monkeypatch, tmp_path, quit_at_once) == 0
    assert not (tmp_path / "saves").exists() or not list((tmp_path / "saves").iterdir())
    assert "saved" not in capsys.readouterr().err


def test_quitting_after_a_move_says_where_the_game_and_its_report_so_far_are_saved(monkeypatch, tmp_path, capsys):
    async def one_move_then_quit(pilot):
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("q")

    assert run_ladder_play(monkeypatch, tmp_path, one_move_then_quit) == 0
    save, report = sorted((tmp_path / "saves").iterdir())
    assert save.name.startswith("tutorial-seed3-") and save.suffix == ".json"
    assert report == save.with_suffix(".report.md") and "**Unfinished**" in report.read_text()
    assert capsys.readouterr().err == (f"ladder: the game is saved: ladder play --resume {save}; "
                                       f"the report so far: {report}\n")
    assert len(Game.resume(save).moves) == 1


async def test_a_game_started_from_the_set_up_screen_is_saved_at_its_first_move(tmp_path):
    saves = tmp_path / "saves"
    app = LadderApp(scenario="tutorial", seed=9, saves=saves)
    async with app.run_test(size=SIZE) as pilot:
        app.screen.query_one("#players").focus()
        await pilot.press("down", "space", "s")
        await settle(pilot)
        board = app.screen
        assert isinstance(board, BoardScreen) and not board.watching
        assert not saves.exists() or not list(saves.iterdir())
        await pilot.press("p")
        await settle(pilot)
        assert [p.name for p in saves.iterdir()] == [board.save_path.name]


async def test_quitting_with_moves_not_saved_asks_first(tmp_path, monkeypatch):
    import errno
    import os

    import sim.play.game

    save = tmp_path / "game.json"
    game = Game.start(Setup("tutorial", 7, ("Blue",)))
    app = LadderApp(BoardScreen(game, save, rollouts=5, report_runs=20))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("q")  # saved: quits at once
        await settle(pilot)
        assert not app.is_running and app.saved == (save, False)
    app = LadderApp(BoardScreen(Game.resume(save), save, rollouts=5, report_runs=20))

    def full(path, data, new=False):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        monkeypatch.setattr(sim.play.game, "write_file", full)
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("q")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen) and app.is_running
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen) and app.is_running
        await pilot.press("q")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert not app.is_running and app.saved == (save, True)


async def test_a_double_enter_on_a_use_of_force_asks_once(tmp_path):
    """Both Enters arrive before the question is up: the second asks no second question."""
    game = Game.start(Setup("tutorial", 3, ("Blue",)))
    app = LadderApp(BoardScreen(game, tmp_path / "game.json", rollouts=5, report_runs=20))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in range(4):
            await pilot.press("p")
            await settle(pilot)
        board = app.screen
        board.post_message(MovePicker.Chosen("blue_strike"))
        board.post_message(MovePicker.Chosen("blue_strike"))
        await settle(pilot)
        assert sum(isinstance(s, ConfirmScreen) for s in app.screen_stack) == 1
        await pilot.press("n")
        await settle(pilot)
        assert app.screen is board and len(game.moves) == 4
        board.post_message(MovePicker.Chosen("blue_strike"))  # asked again once answered
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
