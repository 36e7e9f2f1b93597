"""The board as a student meets it: the scenario given is the one started, a second Enter is not a
move, offers announce themselves, colours and gauges that read right; each test failed before its fix."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

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


def hot_seat(tmp_path) -> LadderApp:
    game = Game.start(Setup("tutorial", 7, ("Red", "Blue")))
    return LadderApp(BoardScreen(game, tmp_path / "game.json", rollouts=5, report_runs=50))


@pytest.mark.input_guard
async def test_a_double_enter_at_the_hand_over_takes_no_move(tmp_path):
    app = hot_seat(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, HandOverScreen)
        await pilot.pause(0.7)  # the hand-over has been up a while
        pressed = time.monotonic()
        await pilot.press("enter")
        await pilot.pause(max(0.4 - (time.monotonic() - pressed), 0))  # a person's double press: 0.4 s apart
        await pilot.press("enter")
        await pilot.pause()
        board = app.screen
        assert isinstance(board, BoardScreen)
        assert board.game.moves == [] and board.game.waiting.actor == "Red"


@pytest.mark.input_guard
async def test_a_press_after_the_guard_acts(tmp_path):
    app = hot_seat(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.pause(0.7)
        await pilot.press("enter")
        await pilot.pause(0.8)
        await pilot.press("p")
        await pilot.pause()
        assert [(m.actor, m.option) for m in app.screen.game.moves] == [("Red", None)]
        assert isinstance(app.screen, HandOverScreen)  # Blue's turn
        await pilot.press("enter")  # at once: the Enter meant for Red's move does not hand over to Blue
        await pilot.pause()
        assert isinstance(app.screen, HandOverScreen)


async def test_an_offer_to_the_player_is_told_and_its_answers_come_first(tmp_path):
    game = Game.start(Setup("korea-2019", 10, ("US",)))  # the DPRK offers talks at turn 0
    app = LadderApp(BoardScreen(game, tmp_path / "game.json", rollouts=5, report_runs=20))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        board = app.screen
        assert not board.query_one("#offer").display
        await pilot.press("p")
        await settle(pilot)
        picker = board.query_one(MovePicker)
        assert list(picker.reasons)[:2] == ["us_accept_talks", "us_refuse_talks"]
        assert picker.reasons["us_accept_talks"] is None
        assert picker.current() == "us_accept_talks"  # the cursor is on Accept
        banner = board.query_one("#offer")
        told = str(banner.render())
        assert banner.display and "DPRK proposes talks" in told and "2 turns left" in told
        assert [n.title for n in app._notifications] == ["US: a proposal to answer"]
        await pilot.press("p")
        await settle(pilot)
        assert "this turn is the last" in str(board.query_one("#offer").render())
        await pilot.press("p")  # no answer: the talks are refused, by the US
        await settle(pilot)
        assert not board.query_one("#offer").display
        lines = [str(o.prompt) for o in board.query_one("#news").options]
        assert any("talks proposed by DPRK REFUSED by US (no answer)" in line for line in lines), lines


def test_the_narrative_says_who_refused_and_who_vetoed():
    from sim.play.debrief import _result
    from sim.play.narrative import describe, with_answers

    events = [
        {"kind": "proposal", "turn": 0, "actor": "DPRK", "subject": "offer", "topic": "talks", "to": ["US", "ROK"]},
        {"kind": "answer", "turn": 1, "actor": "ROK", "subject": "talks", "accept": False},
        {"kind": "resolved", "turn": 2, "actor": "DPRK", "subject": "offer", "topic": "talks", "passed": False,
         "why": "refused", "changes": {}},
        {"kind": "proposal", "turn": 3, "actor": "US", "subject": "res", "topic": "resolution", "to": ["China"]},
        {"kind": "answer", "turn": 3, "actor": "China", "subject": "resolution", "accept": False},
        {"kind": "resolved", "turn": 4, "actor": "US", "subject": "res", "topic": "resolution", "passed": False,
         "why": "vetoed by an actor", "changes": {}},
    ]
    told = [describe(ev, {"offer": "Offer talks", "res": "Table a resolution"}) for ev in with_answers(events)]
    assert told[2] == "talks proposed by DPRK REFUSED by US (no answer), ROK: Offer talks"
    assert told[5] == "resolution proposed by US VETOED by China: Table a resolution"
    assert _result(with_answers(events)[2], None) == "refused by US (no answer), ROK"


def news_lines_missing(news) -> list[str]:
    """The news lines whose wrapped lines are not all laid out at the feed's present width."""
    width = news.scrollable_content_region.width - news._get_left_gutter_width()
    missing = []
    for index, option in enumerate(news.options):
        needed = news._get_visual(option).get_height(news.styles, width)
        if news._heights[index] != needed:
            missing.append(str(option.prompt))
    return missing


async def test_news_lines_keep_every_wrapped_line(tmp_path):
    game = Game.start(Setup("korea-2019", 10, ("US",)))
    app = LadderApp(BoardScreen(game, tmp_path / "game.json", rollouts=5, report_runs=20))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        news = app.screen.query_one("#news")
        for _ in range(4):
            await pilot.press("p")
            await settle(pilot)
            assert news.max_scroll_y > 0  # more news than room: the scroll bar is there
            assert news_lines_missing(news) == []
            assert news.scroll_y == news.max_scroll_y, (news.scroll_y, news.size)  # the newest line in view


def test_each_actor_has_a_colour_of_its_own():
    from rich.color import ColorSystem
    from rich.style import Style
    from textual._ansi_theme import MONOKAI  # how Textual's default theme draws the 16 colours

    from sim.format.catalog import bundled
    from tui.panels import actor_style

    for name in bundled():
        game = Game.start(Setup(name, 1))
        colours = {a: Style.parse(actor_style(game, a)).color for a in game.rules.actors}
        drawn = {a: c.get_truecolor(MONOKAI) for a, c in colours.items()}
        assert len(set(drawn.values())) == len(drawn), (name, drawn)
        in_256 = {a: c.downgrade(ColorSystem.EIGHT_BIT).number for a, c in colours.items()}
        assert len(set(in_256.values())) == len(in_256), (name, in_256)


def test_ready_turn_counts_from_1_as_the_header_does():
    from sim.play.narrative import describe

    ev = {"kind": "prepare", "turn": 0, "actor": "DPRK", "subject": "x", "visible": True, "ready": 3}
    assert describe(ev, {"x": "Test"}) == "prepares: Test [indicators observed; ready turn 4]"


def test_changes_never_print_minus_0():
    from tui.panels import signed

    assert [signed(x) for x in (-0.5, -0.49, 0.0, 0.5, 0.51, -1.5, 2.4)] == ["", "", "", "", "+1", "-2", "+2"]


async def test_the_tension_gauge_and_history_keep_their_width_and_scale(tmp_path):
    from tui.panels import History

    game = Game.start(Setup("korea-2019", 5, ("US",)))
    app = LadderApp(BoardScreen(game, tmp_path / "game.json", rollouts=5, report_runs=20))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        board = app.screen
        var = game.scenario.variables[game.rules.var_names[game.rules.tension]]
        for _ in range(3):
            gauge = board.query_one("#gauge")
            assert gauge.render().cell_len == gauge.size.width > 40  # the whole width, every turn
            history = board.query_one("#tension-history")
            tensions = [float(x) for x in game.engine.state.tension_history[:, 0] if x == x]
            tensions = tensions or [float(game.engine.state.vars[0, game.rules.tension])]  # before the first turn ends
            want = "".join(History.BARS[min(int((t - var.min) / (var.max - var.min) * 8), 7)] for t in tensions)
            assert history.render().plain == want  # on the variable's range, not the data's min and max
            await pilot.press("p")
            await settle(pilot)


async def test_home_and_end_move_to_the_first_and_last_move(tmp_path):
    game = Game.start(Setup("korea-2019", 5, ("US",)))
    app = LadderApp(BoardScreen(game, tmp_path / "game.json", rollouts=5, report_runs=20))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        picker = app.screen.query_one(MovePicker)
        await pilot.press("down", "down", "down")
        assert picker.cursor_row == 3
        await pilot.press("end")
        assert picker.cursor_row == picker.row_count - 1
        await pilot.press("home")
        assert picker.cursor_row == 0


async def test_after_the_end_the_footer_offers_the_report_not_pass_and_it_is_made_once(tmp_path, monkeypatch):
    import sim.play.debrief
    from textual.widgets._footer import FooterKey

    from tui.dialogs import EndScreen

    calls = []
    debrief = sim.play.debrief.debrief
    monkeypatch.setattr(sim.play.debrief, "debrief", lambda *a, **k: calls.append(1) or debrief(*a, **k))
    game = Game.start(Setup("tutorial", 3, ("Blue",)))
    app = LadderApp(BoardScreen(game, tmp_path / "game.json", rollouts=5, report_runs=20))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for _ in range(100):
            if isinstance(app.screen, EndScreen):
                break
            await pilot.press("p")
            await settle(pilot)
        end = app.screen
        assert isinstance(end, EndScreen)
        await pilot.press("b")
        await settle(pilot)
        board = app.screen
        assert isinstance(board, BoardScreen)
        keys = [k.description for k in board.query(FooterKey)]
        assert "Report" in keys and "Pass" not in keys, keys
        for _ in range(2):
            await pilot.press("e")
            await settle(pilot)
            assert app.screen is end  # the same screen: nothing made again
            assert not end.query_one("#report").loading
            await pilot.press("b")
            await settle(pilot)
    assert calls == [1]
