"""The Textual app driven by Pilot: whole games, hot seat, watching, saves, replays, storms."""
from __future__ import annotations

import json
import random

from conftest import one_error_line

from sim.cli import main
from sim.play.forecast import forecast
from sim.play.game import Game, Setup
from tui.app import LadderApp, replay_game
from tui.board import ROLLOUTS, WINDOW, BoardScreen
from tui.dialogs import ConfirmScreen, EndScreen, HandOverScreen, TooSmallScreen
from tui.panels import MovePicker
from tui.setup import SetupScreen

SIZE = (80, 24)


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def play_out(pilot, choose, limit: int = 200):
    """Answer every decision with `choose(board)` (a row of the picker); the end screen's game."""
    for _ in range(limit):
        await pilot.pause()
        screen = pilot.app.screen
        if isinstance(screen, BoardScreen) and screen.game.finished:
            await settle(pilot)
            screen = pilot.app.screen
        if isinstance(screen, EndScreen):
            return screen.game
        if isinstance(screen, (HandOverScreen, ConfirmScreen)):  # a use of force is confirmed
            await pilot.press("enter")
            continue
        board = screen
        picker = board.query_one(MovePicker)
        picker.move_cursor(row=choose(board))
        await pilot.press("enter")
    raise AssertionError("the game did not end")


def first_open(board: BoardScreen) -> int:
    """The first row: the first open move, or passing when no move is open."""
    return 0


def board_app(tmp_path, scenario="tutorial", humans=("Blue",), seed=7, rollouts=100, **kw) -> LadderApp:
    """A game on the board; fewer rollouts and report games than in play, to keep tests quick."""
    game = Game.start(Setup(scenario, seed, humans))
    return LadderApp(BoardScreen(game, tmp_path / "game.json", rollouts=rollouts, report_runs=200, **kw))


async def test_one_actor_plays_to_an_outcome(tmp_path):
    app = board_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await play_out(pilot, first_open)
        end = app.screen
        game = end.game
        assert game.finished
        outcome = game.rules.outcomes[game.engine.state.outcome[0]]
        assert outcome.label.upper() in str(end.query_one("#end-title").render())
        assert "Monte Carlo" in end.report or "bot-only" in end.report
    saved = json.loads((tmp_path / "game.json").read_text())
    assert saved["finished"] and len(saved["moves"]) == len(game.moves) > 0
    assert (tmp_path / "game.report.md").read_text() == end.report
    assert all(m.actor == "Blue" for m in game.moves)


async def test_hot_seat_hands_over_between_players(tmp_path):
    app = board_app(tmp_path, humans=("Red", "Blue"))
    seen = []
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(6):
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, HandOverScreen), "each player is handed the keyboard"
            seen.append(screen.actor)
            await pilot.press("enter")
            await settle(pilot)
            board = app.screen
            assert isinstance(board, BoardScreen) and board.game.waiting.actor == screen.actor
            await pilot.press("p")
    assert seen == ["Red", "Blue"] * 3


async def test_watching_slows_to_five_seconds_a_turn_and_speeds_back(tmp_path):
    app = LadderApp(BoardScreen(Game.start(Setup("tutorial", 3)), tmp_path / "w.json", report_runs=200))
    async with app.run_test(size=SIZE) as pilot:
        board = app.screen
        await pilot.press("space")  # paused: the speed changes, the game does not move
        turn = board.game.completed
        for _ in range(10):
            await pilot.press("minus")
        assert board.timer._interval == 5.0 and "(5 s/turn)" in board.sub_title
        for _ in range(10):
            await pilot.press("plus")
        assert board.timer._interval == 0.1 and "(0.1 s/turn)" in board.sub_title
        assert board.game.completed == turn


async def test_watch_mode_plays_to_the_end(tmp_path):
    game = Game.start(Setup("tutorial", 3))
    app = LadderApp(BoardScreen(game, tmp_path / "w.json", report_runs=200))
    async with app.run_test(size=SIZE) as pilot:
        board = app.screen
        assert board.watching and board.playing
        await pilot.press("space")  # pause, then step by hand
        assert not board.playing
        for _ in range(game.rules.horizon + 1):
            if isinstance(app.screen, EndScreen):
                break
            await pilot.press("right")
            await settle(pilot)
        assert isinstance(app.screen, EndScreen)
    direct = Game.start(Setup("tutorial", 3))
    direct.advance()
    assert (game.engine.state.outcome[0], game.engine.state.end_turn[0]) == (
        direct.engine.state.outcome[0], direct.engine.state.end_turn[0])


async def test_save_quit_resume_reaches_the_same_end(tmp_path):
    def policy(board: BoardScreen) -> int:  # varied but deterministic moves
        picker = board.query_one(MovePicker)
        open_ = [k for k, why in enumerate(picker.reasons.values()) if why is None]  # then passing: one row more
        return (open_ + [len(open_)])[board.game.engine.turn % (len(open_) + 1)]

    whole = board_app(tmp_path / "a", scenario="korea-2022", humans=("US",), seed=11)
    async with whole.run_test(size=SIZE) as pilot:
        uninterrupted = await play_out(pilot, policy)

    first = board_app(tmp_path / "b", scenario="korea-2022", humans=("US",), seed=11)
    async with first.run_test(size=SIZE) as pilot:
        for _ in range(5):
            await settle(pilot)
            first.screen.query_one(MovePicker).move_cursor(row=policy(first.screen))
            await pilot.press("enter")
        await settle(pilot)
        await pilot.press("q")
    save = tmp_path / "b" / "game.json"
    assert len(json.loads(save.read_text())["moves"]) == 5
    resumed = LadderApp(BoardScreen(Game.resume(save), save, rollouts=100, report_runs=200))
    async with resumed.run_test(size=SIZE) as pilot:
        game = await play_out(pilot, policy)
    assert game.moves == uninterrupted.moves
    assert game.engine.log.for_world(0) == uninterrupted.engine.log.for_world(0)


async def test_replay_steps_forward_and_back(tmp_path, capsys):
    out = tmp_path / "batch"
    assert main(["batch", "tutorial", "--runs", "20", "--seed", "4", "--out", str(out), "--workers", "1"]) == 0
    capsys.readouterr()
    game = replay_game(out, 6)
    app = LadderApp(BoardScreen(game, None, replay=True))
    async with app.run_test(size=SIZE) as pilot:
        board = app.screen
        assert not board.playing
        for _ in range(5):
            await pilot.press("right")
        assert game.completed == 5
        tension_at_5 = game.engine.state.vars[0].copy()
        await pilot.press("right", "right", "left", "left")
        assert game.completed == 5
        assert (game.engine.state.vars[0] == tension_at_5).all()
        await pilot.press("left")
        assert game.completed == 4
    told = json.loads(_run_json(capsys, ["replay", str(out), "--run", "6", "--json"]))
    whole = replay_game(out, 6)
    whole.advance()
    assert told["end_turn"] == int(whole.engine.state.end_turn[0])


def _run_json(capsys, argv) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


async def test_the_forecast_shown_is_the_engines(tmp_path):
    app = board_app(tmp_path, scenario="korea-2019", humans=("US",), seed=5, rollouts=ROLLOUTS)
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(3):  # a few turns in, so the state is not the initial one
            await settle(pilot)
            await pilot.press("p")
        await settle(pilot)
        await pilot.press("down", "down")
        await settle(pilot)
        board = app.screen
        option = board.query_one(MovePicker).current()
        shown = board.shown_forecast
        moves = list(board.game.moves)
    assert shown is not None and shown.rollouts == ROLLOUTS
    again = Game.start(Setup("korea-2019", 5, ("US",)))
    again.advance()
    for move in moves:
        again.submit(move.option)
        again.advance()
    direct = forecast(again.engine, "US", option, ROLLOUTS, WINDOW)
    assert shown == direct


async def test_too_small_terminal_shows_a_notice(tmp_path):
    app = board_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.resize_terminal(60, 20)
        await pilot.pause()
        assert isinstance(app.screen, TooSmallScreen)
        await pilot.press("p")  # keys do nothing while the notice covers the board
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert isinstance(app.screen, BoardScreen)
        assert app.screen.game.moves == []


async def test_setup_screen_starts_the_chosen_game(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = LadderApp(scenario="tutorial", seed=9)
    async with app.run_test(size=SIZE) as pilot:
        setup = app.screen
        assert isinstance(setup, SetupScreen)
        setup.query_one("#players").focus()
        await pilot.press("down", "space")  # Blue is played by a person
        await pilot.press("up", "d")  # Red's doctrine changes
        await pilot.press("s")
        await settle(pilot)
        board = app.screen
        assert isinstance(board, BoardScreen)
        game = board.game
        assert game.setup.humans == ("Blue",) and game.setup.seed == 9
        assert game.setup.doctrines["Red"] != game.scenario.actors["Red"].doctrine
        assert game.waiting.actor == "Blue"
        await pilot.press("p")  # the save is made at the first move
        await settle(pilot)
    assert list((tmp_path / "saves").glob("tutorial-seed9-*.json"))


async def test_a_storm_of_keys_and_resizes(tmp_path, monkeypatch, seed=1):
    monkeypatch.chdir(tmp_path)
    rnd = random.Random(seed)
    keys = ["up", "down", "left", "right", "enter", "escape", "tab", "space", "p", "d", "s", "n", "b", "e",
            "f1", "question_mark", "plus", "minus", "x", "1", "home", "end", "pageup", "pagedown"]
    app = LadderApp(scenario="tutorial", seed=seed)
    async with app.run_test(size=SIZE) as pilot:
        for i in range(300):
            if i % 25 == 0:
                await pilot.resize_terminal(rnd.choice([40, 79, 80, 120, 200]), rnd.choice([10, 23, 24, 40, 60]))
            await pilot.press(rnd.choice(keys))
        await settle(pilot)
        assert app.is_running


def _fails(capsys, argv, *expected) -> None:
    line = one_error_line(capsys, *argv)
    for text in expected:
        assert text in line


def test_bad_saves_and_flags_are_one_line_and_exit_2(tmp_path, capsys):
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"format": "escalation-ladder-save",\n "version": 1,\n "moves": [}')
    _fails(capsys, ["play", "--resume", str(corrupt)], f"{corrupt}:3:", "corrupt save")
    _fails(capsys, ["play", "--resume", str(tmp_path / "none.json")], "no such save file")
    other = tmp_path / "other.json"
    other.write_text('{"format": "escalation-ladder-save", "version": 99}')
    _fails(capsys, ["play", "--resume", str(other)], "version 99")
    _fails(capsys, ["play", "--replay", str(tmp_path)], "--run")
    _fails(capsys, ["play", "tutorial", "--as", "Green"], "Green", "Red, Blue")
    _fails(capsys, ["play", "--as", "Red"], "SCENARIO")


def test_a_save_of_a_changed_scenario_is_refused(tmp_path, capsys):
    from sim.format.catalog import resolve

    scenario = tmp_path / "mine.scenario.yaml"
    text = resolve("tutorial").read_text()
    scenario.write_text(text)
    game = Game.start(Setup(str(scenario), 3, ("Blue",)))
    game.advance()
    game.submit(None)
    save = tmp_path / "s.json"
    game.save(save)
    assert Game.resume(save).moves == game.moves
    scenario.write_text(text.replace("horizon: 26", "horizon: 30"))
    _fails(capsys, ["play", "--resume", str(save)], "has changed")
