"""Nothing lost to a stray key (issue 18): a use of force is confirmed, the last move can be
undone, and quitting neither loses moves nor leaves a save of a game never played."""
from __future__ import annotations

from sim.play.game import Game, Setup, force_level
from sim.format.scenario import open_scenario
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
