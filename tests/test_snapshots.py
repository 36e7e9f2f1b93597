"""Snapshots of the set-up screen, the board and the end screen at 80x24 and 120x40.

Seeded games, no clock, no saving (no file names with dates), and every worker finished
before the picture is taken. `pytest --snapshot-update` redraws them after a deliberate change.
"""
from __future__ import annotations

import pytest
from textual.worker import WorkerCancelled

from sim.play.game import Game, Setup
from tui.app import LadderApp
from tui.board import BoardScreen

SIZES = [(80, 24), (120, 40)]


async def settled(pilot) -> None:
    """Every worker done (a forecast made stale by a newer one ends cancelled)."""
    for _ in range(3):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:
            pass
        await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_setup_screen(snap_compare, size):
    assert snap_compare(LadderApp(scenario="korea-2019", seed=42), terminal_size=size, run_before=settled)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_board(snap_compare, size):
    game = Game.start(Setup("korea-2019", 42, ("US",)))

    async def two_turns_in(pilot) -> None:
        await settled(pilot)
        await pilot.press("p")
        await settled(pilot)
        await pilot.press("down")
        await settled(pilot)

    assert snap_compare(LadderApp(BoardScreen(game, None)), terminal_size=size, run_before=two_turns_in)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_end_screen(snap_compare, size):
    game = Game.start(Setup("tutorial", 3))
    game.advance()
    assert game.finished
    assert snap_compare(LadderApp(BoardScreen(game, None)), terminal_size=size, run_before=settled)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_board_with_an_offer_banner(snap_compare, size):
    """The tutorial as Red: Blue's offer of talks waits for an answer, with the since-your-last-move
    summary above the news."""
    game = Game.start(Setup("tutorial", 2, ("Red",)))

    async def at_the_offer(pilot) -> None:
        await settled(pilot)
        await pilot.press("p")
        await settled(pilot)
        pilot.app.clear_notifications()  # the toast covers the forecast: the board is the subject

    assert snap_compare(LadderApp(BoardScreen(game, None)), terminal_size=size, run_before=at_the_offer)
