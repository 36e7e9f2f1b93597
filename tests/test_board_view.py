"""The board on a view (issue 17): a person sees the game as its actor knows it (others' hidden
variables as it sees them, only the news it saw, a forecast from what it knows); watching and
replays show the truth, with a key to see it as any actor does."""
from __future__ import annotations

import html
import re
import time
from pathlib import Path

import pytest

from sim.play.forecast import Rollouts, forecast
from sim.play.game import Game, Setup
from tui.app import LadderApp
from tui.board import BoardScreen
from tui.dialogs import HandOverScreen
from tui.panels import MovePicker, NewsFeed

KNOWLEDGE = str(Path(__file__).parent / "data" / "knowledge.scenario.yaml")
UNDETECTED = 3  # a seed in which A does not detect B's covert test before it happens (checked in the tests)
DETECTED = 2  # one in which A detects it the turn after it begins
SIZE = (80, 24)


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def screen_text(app) -> str:
    """What the terminal shows, line by line: the screenshot's text put back at its columns (its
    cells are 12.2 units wide; runs of blanks are not written as text)."""
    width, height = app.size
    rows = [[" "] * width for _ in range(height)]
    runs = re.findall(r'<text [^>]*x="([\d.]+)"[^>]*clip-path="url\(#terminal-\d+-line-(\d+)\)">([^<]*)</text>',
                      app.export_screenshot())
    for x, line, text in runs:
        column = round(float(x) / 12.2)
        text = html.unescape(text).replace("\xa0", " ")
        rows[int(line)][column:column + len(text)] = text
    return "\n".join("".join(row).rstrip() for row in rows)


def actor_line(text: str, actor: str) -> str:
    """The actors panel's line of `actor` (its rung, then its variables)."""
    return next(line for line in text.splitlines() if line.startswith(f" {actor}      "))


def detected(game: Game, actor: str) -> bool:
    return any(ev["kind"] == "detected" and ev["actor"] == actor for ev in game.engine.log.for_world(0))


def news(app) -> str:
    return "\n".join(str(o.prompt) for o in app.screen.query_one(NewsFeed).options)


async def handed_over(pilot, actor: str) -> None:
    assert isinstance(pilot.app.screen, HandOverScreen) and pilot.app.screen.actor == actor
    await pilot.press("enter")
    await settle(pilot)


async def b_prepares_the_test(pilot) -> None:
    """Hot seat, A and B: A passes, B starts its covert test; A is to decide at the next turn."""
    await handed_over(pilot, "A")
    await pilot.press("p")
    await settle(pilot)
    await handed_over(pilot, "B")
    pilot.app.screen.post_message(MovePicker.Chosen("b-test"))
    await settle(pilot)
    await handed_over(pilot, "A")


def hot_seat(seed: int) -> tuple[Game, LadderApp]:
    game = Game.start(Setup(KNOWLEDGE, seed, ("A", "B")))
    return game, LadderApp(BoardScreen(game, None, rollouts=5, report_runs=10))


async def test_an_undetected_covert_preparation_is_not_on_the_others_board():
    game, app = hot_seat(UNDETECTED)
    async with app.run_test(size=SIZE) as pilot:
        await b_prepares_the_test(pilot)
        assert (game.waiting.actor, game.waiting.turn) == ("A", 1) and not detected(game, "A")
        text = screen_text(app)
        assert "A's view" in text
        assert "Covert" not in text  # nor in the news, the summary, the ladder or the detail
        assert " resolve ? " in actor_line(text, "B")  # private to B
        assert "economy ≈" in actor_line(text, "B") and "stock 0 (3t old)" in text
        await pilot.press("p")
        await settle(pilot)
        await handed_over(pilot, "B")
        text = screen_text(app)
        assert "B's view" in text and "Covert test" in news(app)
        assert " resolve 50 economy 50" in actor_line(text, "B")  # its own, exact


async def test_a_detected_preparation_is_news_to_its_detector_only():
    game, app = hot_seat(DETECTED)
    async with app.run_test(size=SIZE) as pilot:
        await b_prepares_the_test(pilot)
        while not detected(game, "A"):
            await pilot.press("p")  # A
            await settle(pilot)
            await handed_over(pilot, "B")
            await pilot.press("p")
            await settle(pilot)
            await handed_over(pilot, "A")
        assert game.engine.turn < 3  # before the test happens (then everyone sees it)
        assert "Covert test" in news(app)
        assert not detected(game, "C")


async def test_the_view_key_shows_the_game_as_each_actor_sees_it():
    game = Game.start(Setup(KNOWLEDGE, UNDETECTED))
    app = LadderApp(BoardScreen(game, None, replay=True))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in range(3):
            await pilot.press("right")
        await settle(pilot)
        board = app.screen
        assert "umpire's view" in board.sub_title and re.search(r" resolve \d", actor_line(screen_text(app), "B"))
        assert "v View" in screen_text(app)  # in the footer
        seen = []
        for _ in range(4):
            await pilot.press("v")
            await settle(pilot)
            seen.append((board.viewer, actor_line(screen_text(app), "B")))
        assert [viewer for viewer, _ in seen] == ["A", "B", "C", None]
        assert [bool(re.search(r" resolve \d", line)) for _, line in seen] == [False, True, False, True]
        assert [" resolve ? " in line for _, line in seen] == [True, False, True, False]
        assert "umpire's view" in board.sub_title


@pytest.mark.input_guard
async def test_a_second_view_key_a_moment_later_shows_the_next_view():
    game = Game.start(Setup(KNOWLEDGE, UNDETECTED))
    app = LadderApp(BoardScreen(game, None, replay=True))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.pause(0.7)  # the board has been up a while
        pressed = time.monotonic()
        await pilot.press("v")
        await pilot.pause(max(0.4 - (time.monotonic() - pressed), 0))  # a person's double press
        await pilot.press("v")
        await settle(pilot)
        board = app.screen
        assert board.viewer == "B" and "B's view" in board.sub_title
        assert re.search(r" resolve \d", actor_line(screen_text(app), "B"))


async def test_a_player_cannot_switch_to_another_view_while_the_game_is_on():
    game, app = hot_seat(UNDETECTED)
    async with app.run_test(size=SIZE) as pilot:
        await b_prepares_the_test(pilot)
        await pilot.press("v")
        await settle(pilot)
        assert app.screen.viewer == "A" and "Covert" not in screen_text(app)
        assert "View" not in screen_text(app).splitlines()[-1]  # not in the footer


def test_the_forecast_of_a_player_is_of_what_it_knows():
    """A has not detected B's test: its forecast is of a game without it, B's own of one with it."""
    game = Game.start(Setup(KNOWLEDGE, UNDETECTED, ("A", "B")))
    for turn, actor, option in ((0, "A", None), (0, "B", "b-test"), (1, "A", None)):
        assert (game.advance().turn, game.waiting.actor) == (turn, actor)
        game.submit(option)
    assert (game.advance().turn, game.waiting.actor) == (1, "B") and not detected(game, "A")
    knowing = forecast(game.engine, "B", None, rollouts=200)
    truth = Rollouts(game.engine.fork(200, force={"B": None}), 1, 12).run()
    assert knowing == truth  # B knows all there is to know here
    game = Game.start(Setup(KNOWLEDGE, UNDETECTED, ("A", "B")))
    for option in (None, "b-test"):
        game.advance()
        game.submit(option)
    assert game.advance().actor == "A"
    unaware = forecast(game.engine, "A", None, rollouts=200)
    truth = Rollouts(game.engine.fork(200, force={"A": None}), 1, 12).run()
    assert unaware.tension_ci[1] < truth.tension_ci[0]  # the test's +5 tension is not in A's forecast


def test_in_a_scenario_that_hides_nothing_every_actor_sees_the_truth():
    game = Game.start(Setup("tutorial", 42, ("Blue",)))
    for _ in range(10):
        game.advance()
        game.submit(None)
    game.advance()
    truth = game.sight(None)
    assert len(truth.events) > 5
    for actor in game.rules.actors:
        sight = game.sight(actor)
        assert sight.events == truth.events
        assert (sight.vars == truth.vars).all() and (sight.position == truth.position).all()


async def test_once_the_game_is_over_the_players_see_the_truth_and_every_view():
    game = Game.start(Setup(KNOWLEDGE, UNDETECTED, ("A",)))
    while game.advance() is not None:
        game.submit(None)
    app = LadderApp(BoardScreen(game, None, rollouts=5, report_runs=10))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        board = app.screen_stack[1]
        assert board.viewer is None and "umpire's view" in board.sub_title
        app.pop_screen()  # the end screen: back to the board
        await settle(pilot)
        await pilot.press("v")
        await settle(pilot)
        assert board.viewer == "A" and " resolve ? " in actor_line(screen_text(app), "B")


async def test_each_player_gets_the_after_action_report_as_it_saw_the_game(tmp_path):
    game = Game.start(Setup(KNOWLEDGE, UNDETECTED, ("A", "B")))
    while (decision := game.advance()) is not None:
        game.submit("b-test" if decision.actor == "B" and decision.turn == 0 else None)
    assert not detected(game, "A")  # A never learned of B's covert test...
    app = LadderApp(BoardScreen(game, tmp_path / "game.json", rollouts=5, report_runs=10))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
    umpire, a, b = (tmp_path / f"game{part}.report.md" for part in ("", ".A", ".B"))
    assert "Covert test" in umpire.read_text() and "What each side knew" in umpire.read_text()
    assert "Covert test" in b.read_text()
    prepared = next(e for e in game.engine.log.for_world(0) if e["kind"] == "prepare")
    assert prepared["turn"] == 0 and "A" not in prepared["seen_by"]
    # ...until it happened, in turn 3: A's report has the test, never its preparation
    assert "prepares: Covert test" not in a.read_text() and "prepares: Covert test" in b.read_text()
