"""Issue 18, "a board a student can learn from": each bug with a test that failed before its fix."""
from __future__ import annotations

import shutil
from pathlib import Path

from sim.play.game import Game, Setup
from tui.app import LadderApp
from tui.board import BoardScreen
from tui.dialogs import HandOverScreen
from tui.panels import MovePicker
from tui.setup import SetupScreen

SIZE = (80, 24)
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_a_scenario_file_given_to_play_is_the_one_started(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "mine.scenario.yaml"
    shutil.copy(SCENARIOS / "tutorial.scenario.yaml", mine)
    app = LadderApp(scenario=str(mine), seed=3)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        setup = app.screen
        assert isinstance(setup, SetupScreen)
        assert setup.spec == str(mine)
        await pilot.press("s")
        await settle(pilot)
        board = app.screen
        assert isinstance(board, BoardScreen)
        assert board.game.setup.scenario == str(mine)
        assert set(board.game.rules.actors) == {"Blue", "Red"}


async def test_a_bad_path_is_not_kept_nor_its_error_shown_again(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = LadderApp(scenario="tutorial", seed=3)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        setup = app.screen
        field = setup.query_one("#path")
        field.focus()
        field.value = "nowhere.scenario.yaml"
        await pilot.press("enter")
        await pilot.pause()
        assert setup.spec == "tutorial"
        assert field.value == ""
        assert len(app._notifications) == 1
        setup.query_one("#scenarios").focus()
        await pilot.press("up")  # another scenario: the error was about the path, now gone
        await pilot.pause()
        assert setup.spec != "tutorial"
        assert len(app._notifications) == 0
