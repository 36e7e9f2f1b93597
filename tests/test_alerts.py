"""Issue 18, alerts: the offer banner and its keys, an offer lapsing, announcements of red lines,
thresholds and resolutions, the "since your last move" summary; and the report the board writes
(the forecasts it showed, a game left unfinished). Played on the tutorial and the small mechanics
fixture (the korea scenarios are being retuned: their numbers move)."""
from __future__ import annotations

import pytest
from conftest import DATA

from sim.play.game import Game, Setup
from tui.app import LadderApp
from tui.board import BoardScreen
from tui.panels import MovePicker

SIZE = (80, 24)
MECHANICS = str(DATA / "mechanics.scenario.yaml")


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def tutorial_as_red(tmp_path) -> LadderApp:
    """Blue offers Red talks at turn 0, answered at turn 1 (its last turn to answer)."""
    game = Game.start(Setup("tutorial", 2, ("Red",)))
    return LadderApp(BoardScreen(game, tmp_path / "game.json", rollouts=5, report_runs=20))


def news(board) -> list[str]:
    return [str(o.prompt) for o in board.query_one("#news").options]


async def to_the_offer(pilot):
    await settle(pilot)
    board = pilot.app.screen
    assert not board.query_one("#offer").display
    await pilot.press("p")
    await settle(pilot)
    return board


async def test_an_offer_opens_a_banner_with_its_terms_time_and_keys(tmp_path):
    app = tutorial_as_red(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        board = await to_the_offer(pilot)
        banner = board.query_one("#offer")
        told = str(banner.render())
        assert banner.display
        assert "Blue proposes Talks: Offer talks. Last turn to answer." in told  # the proposer, the topic, the move
        assert "silence refuses" in told
        # what accepting changes, by the variables' names as the detail pane gives them
        assert "If you accept: Progress toward a deal +20.0, Tension −8.0, Red's economy +2.0" in told
        assert "a  Accept" in told and "r  Refuse" in told
        assert told.index("r  Refuse") < told.index("If you accept")  # a height that cuts cuts the changes, not the keys
        assert [n.title for n in app._notifications] == ["Red: a proposal to answer"]
        picker = board.query_one(MovePicker)
        assert list(picker.reasons)[:2] == ["red_accept_talks", "red_refuse_talks"]  # the answers first


@pytest.mark.parametrize("key, option, said, title", [
    ("a", "red_accept_talks", "talks PASSED: Offer talks", "Talks passed"),
    ("r", "red_refuse_talks", "talks proposed by Blue REFUSED by Red: Offer talks", "Talks refused"),
])
async def test_the_banners_keys_answer_the_offer_and_it_closes(tmp_path, key, option, said, title):
    app = tutorial_as_red(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        board = await to_the_offer(pilot)
        await pilot.press(key)
        await settle(pilot)
        assert board.game.moves[-1].option == option
        assert not board.query_one("#offer").display
        assert any(said in line for line in news(board))
        assert title in [n.title for n in app._notifications]
        assert not any("never came" in line for line in news(board))  # an answer came


async def test_an_offer_left_unanswered_lapses_and_the_news_says_so(tmp_path):
    app = tutorial_as_red(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        board = await to_the_offer(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert board.game.moves[-1].option is None
        assert not board.query_one("#offer").display
        assert any("Red your answer never came: Blue's Talks offer lapsed" in line for line in news(board))
        assert "Red: the offer lapsed" in [n.title for n in app._notifications]
        await pilot.press("a")  # no offer now: a does nothing
        await settle(pilot)
        assert len(board.game.moves) == 2


async def test_red_lines_thresholds_and_resolutions_are_announced_and_stand_out(tmp_path):
    # seed 1: the resolution passes at turn 1; B's test crosses A's red line and a threshold at turn 2
    game = Game.start(Setup(MECHANICS, 1, ("A",)))
    app = LadderApp(BoardScreen(game, tmp_path / "game.json", rollouts=5, report_runs=20))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        board = app.screen
        picker = board.query_one(MovePicker)
        picker.move_cursor(row=list(picker.reasons).index("a-resolution"))
        await pilot.press("enter")
        await settle(pilot)
        for _ in range(2):
            await pilot.press("p")
            await settle(pilot)
        titles = [n.title for n in app._notifications]
        assert {"resolution passed", "B crossed A's red line", "Threshold crossed by B"} <= set(titles), titles
        feed = board.query_one("#news")
        standout = {str(o.prompt): o.prompt.spans for o in feed.options}
        for said in ("RED LINE CROSSED: No tests", "THRESHOLD: Intense crisis", "resolution PASSED"):
            line = next(text for text in standout if said in text)
            assert any(" on " in str(span.style) for span in standout[line]), line  # a background: it stands out


async def test_since_your_last_move_sums_up_the_others_what_landed_and_what_changed(tmp_path):
    app = tutorial_as_red(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        board = app.screen
        summary = board.query_one("#since")
        assert not summary.display  # the first decision: nothing has happened yet
        await pilot.press("p")
        await settle(pilot)
        lines = str(summary.render()).splitlines()
        assert summary.display and len(lines) == 3
        assert lines[0] == "The others: Blue Offer talks"
        assert lines[1] == "Landed: nothing"
        assert lines[2].startswith("Changed most: Tension -0.5 (now 39.5)")
        await pilot.press("x")  # dismissed until the next decision
        await pilot.pause()
        assert not summary.display
        await pilot.press("a")
        await settle(pilot)
        assert summary.display
        assert str(summary.render()).splitlines()[2].startswith("Changed most: Progress toward a deal +23")


# --- the report the board writes ---------------------------------------------------------


async def test_the_report_has_the_forecast_the_board_showed_for_each_move(tmp_path):
    from tui.dialogs import EndScreen

    app = tutorial_as_red(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        board = await to_the_offer(pilot)
        shown = board.shown_forecast  # the accepting move is highlighted, its forecast done
        assert board.highlighted == "red_accept_talks" and shown is not None
        await pilot.press("a")
        for _ in range(40):
            await settle(pilot)
            if isinstance(app.screen, EndScreen):
                break
            await pilot.press("p")
        report = app.screen.report
    flat = " ".join(report.split())
    assert (f"Red chose Accept Blue's offer of talks** (rung -2 Talks). Forecast then, over 12 turns (5 rollouts): "
            f"war {shown.war:.1%}") in flat
    assert (tmp_path / "game.report.md").read_text() == report


async def test_quitting_mid_game_leaves_a_report_that_says_it_is_unfinished(tmp_path):
    app = tutorial_as_red(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await to_the_offer(pilot)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.unfinished_report == tmp_path / "game.report.md"
    report = app.unfinished_report.read_text()
    assert "**Unfinished**: the game was left at turn 3" in " ".join(report.split())
    assert "Red chose Refuse talks" in report
    assert max(len(line) for line in report.splitlines()) <= 80


async def test_after_an_undo_the_summary_is_since_the_move_before_again(tmp_path):
    app = tutorial_as_red(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        board = await to_the_offer(pilot)
        summary = board.query_one("#since")
        before = str(summary.render())
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        assert str(summary.render()) == before


def test_a_proposal_the_player_cannot_answer_is_no_offer():
    """korea-2022's US is a veto member with no move to vote by: a resolution tabled waits for
    its answer, but there is nothing to ask the player (the banner once failed on it)."""
    game = Game.start(Setup("korea-2022", 11, ("US",)))
    game.advance()
    st, rules = game.engine.state, game.rules
    j, us = rules.topic_index["resolution"], rules.actor_index["US"]
    st.pend_until[0, j] = game.engine.turn + 2
    st.pend_option[0, j] = next(i for i, o in enumerate(rules.options) if o.proposes and o.proposes.topic == "resolution")
    st.awaiting[0, j, us] = True
    assert [o.topic for o in game.offers("US")] == []
    st.awaiting[0, j, :] = False
