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


# --- issue 18: a board a student can learn from ----------------------------------------------


def korea_app(tmp_path, seed: int = 42) -> LadderApp:
    game = Game.start(Setup("korea-2019", seed, ("US",)))
    return LadderApp(BoardScreen(game, tmp_path / "game.json", rollouts=5, report_runs=20))


def shown(widget) -> str:
    return str(widget.render())


async def test_the_picker_lists_open_moves_then_passing_then_closed_ones_with_their_reason(tmp_path):
    from textual.widgets._footer import FooterKey

    app = korea_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        picker = app.screen.query_one(MovePicker)
        keys = [row.key.value for row in picker.ordered_rows]
        reasons = dict(app.screen.game.engine.why_not("US"))
        open_ = keys[: keys.index(MovePicker.PASS)]
        closed = keys[keys.index(MovePicker.PASS) + 1:]
        assert open_ and closed and set(open_ + closed) == set(reasons)
        assert all(reasons[k] is None for k in open_) and all(reasons[k] for k in closed)
        for key in closed:  # dimmed, with the reason under the name
            name = picker.get_cell(key, "move")
            assert name.style == "dim" and name.plain.endswith(f"\nnot open: {reasons[key]}")
        assert picker.get_cell("us_push_resolution", "move").plain.endswith("requires UNSC.agenda >= 5")
        footer = [k.description for k in app.screen.query(FooterKey)]
        assert "Take move" in footer  # the footer says Enter takes a move


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_every_move_is_shown_by_its_full_name_and_narrow_pickers_keep_what_matters(tmp_path, size):
    app = korea_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        picker = app.screen.query_one(MovePicker)
        rules = app.screen.game.rules
        for row in picker.ordered_rows:
            if row.key.value != MovePicker.PASS:
                label = rules.options[rules.option_index[row.key.value]].label
                assert picker.get_cell(row.key, "move").plain.split("\nnot open")[0] == label
                assert row.height >= 1
        long = max((o for o in rules.options if o.actor == "US"), key=lambda o: len(o.label))
        assert len(long.label) > 26 and picker.get_row(long.id)  # once cut at 26 characters
        titles = [str(c.label) for c in picker.columns.values()]
        assert titles == (["move", "rung"] if size == (80, 24) else ["move", "rung", "kind", "prep", "lag"])
        assert picker.virtual_size.width <= picker.scrollable_content_region.width  # no sideways scrolling


async def test_the_detail_pane_explains_the_highlighted_move_in_the_variables_units(tmp_path):
    from tui.panels import change

    app = korea_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        board = app.screen
        game, picker = board.game, board.query_one(MovePicker)
        picker.move_cursor(row=picker.get_row_index("us_sanction_300"))
        await settle(pilot)
        text = shown(board.query_one("#detail-text"))
        option = game.scenario.options[game.rules.option_index["us_sanction_300"]]
        scale = float(game.engine.state.sanction_scale(game.engine.turn)[0])
        assert text.startswith(option.label)
        assert f"DPRK economy {change(-6 * scale)}" in text  # the actor's variable by its label, in its units
        assert change(-6 * scale) == f"−{6 * scale:.1f}"
        assert "48" not in text  # not times the 8 turns the change is spread over
        assert "US credibility +3.0" in text and "Tension +2.0" in text
        assert "Trust between Washington and Pyongyang −2.0" in text
        assert "effects after up to 4 turns" in text and "success 100%" in text and "no preparation" in text
        assert f"Source: {game.scenario.sources[option.source.ref].title}" in text
        assert f"“{option.source.quote}”" in text
        assert " -" not in text.replace(" ->", "")  # a minus sign, never a hyphen (nor "-0")


async def test_the_detail_pane_follows_the_arrow_keys(tmp_path):
    app = korea_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        board = app.screen
        rules, picker = board.game.rules, board.query_one(MovePicker)
        detail = board.query_one("#detail-text")
        for _ in range(3):
            option = rules.options[rules.option_index[picker.current()]]
            assert shown(detail).startswith(option.label)
            await pilot.press("down")
            await pilot.pause()
        assert picker.current() == "us_un_appeal"
        described = rules.options[rules.option_index["us_all_options"]].description
        await pilot.press("up", "up")
        await pilot.pause()
        assert described and described in shown(detail)
        await pilot.press("end")
        await pilot.pause()
        assert "Not open now:" in shown(detail)


async def test_the_board_shows_the_worlds_variables_unabridged_and_actors_at_rest(tmp_path):
    app = korea_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        board = app.screen
        actors = shown(board.query_one("#actors-text"))
        for name in ("capability", "moratorium", "enforcement", "credibility"):  # once cut to six letters
            assert f" {name} " in actors, actors
        talks = actors[actors.index("\ntalks "):]  # the world's variables talks.*, under their group's name
        assert all(f" {name} " in talks for name in ("open", "progress", "trust")), actors
        assert "tension" not in actors  # the gauge above
        ladder = shown(board.query_one("#ladder")).splitlines()
        rest = next(line for line in ladder if line.strip().startswith("0 at rest"))
        assert board.game.engine.state.position[0, board.game.rules.actor_index["US"]] == 0
        assert "US" in rest and "China" in rest


async def test_i_shows_the_scenarios_brief_and_escape_closes_it(tmp_path):
    from tui.dialogs import BriefScreen

    app = korea_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        board = app.screen
        await pilot.press("i")
        await pilot.pause()
        assert isinstance(app.screen, BriefScreen)
        brief = shown(app.screen.query_one("#brief Static"))
        assert brief.endswith(board.game.scenario.description.strip())  # in full
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is board and board.game.moves == []


def forecast_of(war: tuple[float, float], tension: tuple[float, float] = (50.0, 52.0)):
    from sim.play.forecast import Forecast

    return Forecast(rollouts=1000, turns=12, war=sum(war) / 2, war_ci=war, deal=0.01, deal_ci=(0.0, 0.02),
                    other=0.0, tension=sum(tension) / 2, tension_ci=tension)


@pytest.mark.parametrize("war, said", [((0.08, 0.12), "vs passing: no clear difference"),
                                       ((0.13, 0.17), "vs passing: war higher")])
async def test_the_forecast_says_when_moves_cannot_be_told_apart(tmp_path, war, said):
    app = korea_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        board = app.screen
        await pilot.press("down")
        await settle(pilot)
        option = board.query_one(MovePicker).current()
        board.post_message(BoardScreen.ForecastReady((board.asked, None), forecast_of((0.09, 0.12))))
        board.post_message(BoardScreen.ForecastReady((board.asked, option), forecast_of(war)))
        await pilot.pause()
        lines = shown(board.query_one("#odds")).splitlines()
        assert lines[0].startswith("war ")  # the outcome most players weigh first, at the top
        assert lines[-1] == said
        assert ("no clear difference" in lines[-1]) == (war == (0.08, 0.12))
