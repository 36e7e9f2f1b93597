"""The board: one screen for a game being played, watched or replayed.

The board owns the `Game` and hands it down to its panels after every step, with the view on
screen (`Game.sight`): a person's own while people play (in hot seat, the deciding player's,
drawn once the hand-over is done), the umpire's (the truth) when watching, replaying or once the
game is over, where `v` shows each actor's in turn. The panels post messages back (a move
highlighted, chosen, an event opened). Forecasts run on worker threads
over rollouts forked here, so the live game is never touched off the app's thread.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header
from textual.worker import get_current_worker

from sim.format.errors import printable
from sim.play.forecast import Forecast, prepare
from sim.play.game import Game, write_file
from sim.play.narrative import since, topic_label

from .dialogs import BriefScreen, ConfirmScreen, EndScreen, HandOverScreen, SourceScreen
from .panels import (
    ActorsPanel,
    ForecastPanel,
    LadderPanel,
    MoveDetail,
    MovePicker,
    NewsFeed,
    OfferBanner,
    SinceSummary,
    TensionPanel,
)
from .saves import new_save, save_path

ROLLOUTS = 1000
WINDOW = 12  # turns a forecast looks ahead
MAX_TOASTS = 3  # announcements told at once: when the bots play fast, the latest
REPORT_RUNS = 1000  # bot-only games the after-action report compares the game with
# Seconds per turn when watching: from 5 s, slow enough for a class to read each turn aloud.
SPEEDS = (5.0, 3.0, 2.0, 1.0, 0.5, 0.25, 0.1)


class BoardScreen(Screen):
    BINDINGS = [
        Binding("p", "pass_turn", "Pass", id="board.pass"),
        Binding("a", "answer(0)", "Accept", id="board.accept"),
        Binding("r", "answer(1)", "Refuse", id="board.refuse"),
        Binding("x", "hide_since", "Hide summary", id="board.hide_since", show=False),
        Binding("u", "undo", "Undo", id="board.undo"),
        Binding("space", "play_pause", "Play/pause", id="board.play"),
        Binding("right,n", "step(1)", "Step", id="board.step"),
        Binding("left,b", "step(-1)", "Back", id="board.back"),
        Binding("plus,equals_sign", "speed(1)", "Faster", id="board.faster", show=False),
        Binding("minus", "speed(-1)", "Slower", id="board.slower", show=False),
        Binding("e", "end_screen", "Report", id="board.report"),
        Binding("i", "brief", "Brief", id="board.brief"),
        Binding("v", "cycle_view", "View", id="board.view"),
    ]

    class ForecastReady(Message):
        def __init__(self, key: tuple, forecast: Forecast) -> None:
            self.key = key
            self.forecast = forecast
            super().__init__()

    def __init__(self, game: Game, save: Path | None, replay: bool = False, rollouts: int = ROLLOUTS,
                 report_runs: int = REPORT_RUNS, saves: Path | None = None):
        """`save`: the game's save file (replaced at each save); or None and `saves`, a folder
        in which the save is made under a new name at the first move: a game in which no move was
        made leaves no file."""
        super().__init__()
        self.game = game
        self.rollouts, self.report_runs = rollouts, report_runs
        self.save_path = save
        self.saves = saves
        self.written = save is not None and save.exists()  # the save file is there (a resumed game's)
        self.dirty = False  # moves made since the last save
        self.confirming = False  # a use of force is being confirmed
        self.replay = replay
        self.watching = not game.setup.humans
        self.playing = self.watching and not replay
        self.speed = SPEEDS.index(0.5)
        self.last_actor: str | None = None
        # whose view the board shows (None: the umpire's, the truth): a person's own while people play
        self.viewer: str | None = game.setup.humans[0] if len(game.setup.humans) == 1 else None
        self.asked = 0  # decisions put to a person so far: forecasts are of one decision
        self.highlighted: str | None = None  # the option the detail and the forecast are of
        self.shown: tuple[int, str | None] | None = None  # (decision, option) the detail pane shows
        self.forecasts: dict[str | None, Forecast] = {}  # this decision's, by option (None: passing)
        self.report: tuple[str, Path | None] | None = None
        self.timer = None
        self.save_failed = False  # the last save failed
        self.told_offers: set[int] = set()  # proposals the player has been told of (by their number)
        self.end_screen: EndScreen | None = None  # made once: its report is long to lay out
        self.drawn = False  # the board has been drawn once
        # each player's decisions so far, for "since your last move": (events in the log then, the
        # variables then, its turn); an undo takes the decisions it goes back over off
        self.decided: dict[str, list[tuple[int, np.ndarray, int]]] = {}
        self.forecasts_taken: dict[int, Forecast] = {}  # the forecast shown for each move taken, by its index

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="≡")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield TensionPanel(id="tension")
                yield LadderPanel(id="ladder")
                yield ActorsPanel(id="actors")
            with Vertical(id="right"):
                with Vertical(id="news-pane"):  # the summary, when there is one, heads the news
                    if not self.watching:
                        yield SinceSummary(id="since")
                    yield NewsFeed(id="news")
                if not self.watching:
                    yield OfferBanner(id="offer")
                    yield MovePicker(id="picker")
                    yield MoveDetail(id="detail")
                    yield ForecastPanel(id="forecast")
        yield Footer()

    def on_mount(self) -> None:
        for pane, title in (("tension", "Tension"), ("ladder", "Ladder"), ("actors", "Actors"), ("news-pane", "News"),
                            ("picker", "Your move"), ("detail", "The move"), ("forecast", "Forecast")):
            for widget in self.query(f"#{pane}"):
                widget.border_title = title
        if self.watching:
            self.timer = self.set_interval(SPEEDS[self.speed], self.tick, pause=not self.playing)
            self.show_board()
            if self.game.finished:
                self.finish()
        else:
            self.proceed()

    # --- the flow of a game -------------------------------------------------------------------

    def proceed(self) -> None:
        """Play on to the next decision of a person, or the end."""
        decision = self.game.advance()
        self.autosave()
        if decision is None:
            self.viewer = None  # the game is over: the truth
            self.show_board()
            self.finish()
            return
        self.viewer = decision.actor
        if len(self.game.setup.humans) > 1 and decision.actor != self.last_actor:
            # the next player's view is drawn (and its news announced) only once the hand-over is done
            self.app.push_screen(HandOverScreen(decision.actor, self.game), lambda _: self.decide(decision.actor))
        else:
            self.decide(decision.actor)

    def decide(self, actor: str) -> None:
        self.show_board()
        self.ask(actor)

    def on_screen_resume(self) -> None:
        self.app.guard_input()  # back from the hand-over, a source or the end screen

    def ask(self, actor: str) -> None:
        self.app.guard_input()  # a new decision: the key that took the last move does not take this one
        self.last_actor = actor
        self.asked += 1
        self.forecasts = {}
        picker = self.query_one(MovePicker)
        again = self.game.waiting is not None and self.game.waiting.round > 0  # moves_per_turn, or a free answer
        picker.border_title = f"{actor}: your move" + (" (again this turn)" if again else "")
        picker.show(self.game, actor)
        picker.focus()
        self.query_one(OfferBanner).show(self.game, actor)
        self.show_since(actor)
        for offer in self.game.offers(actor):
            if offer.order not in self.told_offers:  # a short toast, out of the way of the answers
                self.told_offers.add(offer.order)
                self.notify(f"{offer.proposer} proposes {topic_label(self.game.rules, offer.topic)}",
                            title=f"{actor}: a proposal to answer", timeout=4)
        self.refresh_bindings()  # Undo: open once the player has a move to take back
        self.show_move(picker.current())

    def show_since(self, actor: str) -> None:
        """What happened since `actor`'s last decision (since the start at the first)."""
        game = self.game
        sight = game.sight(actor)
        events, now = sight.events, sight.vars.copy()
        decided = self.decided.setdefault(actor, [])
        seen, before, turn = decided[-1] if decided else (0, game.rules.initial, -1)
        noisy = [v for v in range(len(now)) if sight.seen(v).how == "noisy"]
        before = before.copy()
        before[noisy] = now[noisy]  # not told as a change: a noisy variable's moves are mostly its error redrawn
        decided.append((len(events), now, game.engine.turn))
        self.query_one(SinceSummary).show(since(game.rules, events[seen:], before, now, actor, turn))

    def action_hide_since(self) -> None:
        for summary in self.query(SinceSummary):
            summary.display = False

    def on_move_picker_chosen(self, message: MovePicker.Chosen) -> None:
        if self.game.waiting is None:
            return
        option = message.option
        if self.confirming:  # a key pressed before the question was up (a double Enter): no second question
            return
        if self.game.is_force(option):  # a use of force is asked again: a stray Enter does not start a war
            label = self.game.rules.options[self.game.rules.option_index[option]].label
            decision = self.game.waiting
            self.confirming = True

            def answered(yes: bool | None) -> None:
                self.confirming = False
                if yes:
                    self.take(option, decision)

            self.app.push_screen(
                ConfirmScreen(f"Use force: {label}?",
                              f"{decision.actor} crosses the use-of-force threshold with this move. Take it?"),
                answered)
            return
        self.take(option, self.game.waiting)

    def take(self, option: str | None, decision) -> None:
        """Take the waiting person's move (if that decision is still the one waiting)."""
        if self.game.waiting is None or self.game.waiting is not decision:
            return
        self.workers.cancel_group(self, "forecast")
        if option in self.forecasts:  # the report shows what the board forecast when the move was taken
            self.forecasts_taken[len(self.game.moves)] = self.forecasts[option]
        self.game.submit(option)
        self.dirty = True
        self.query_one(OfferBanner).display = False
        self.proceed()

    def action_undo(self) -> None:
        """Take back the player's last move: the game replayed without it, to that decision again."""
        if self.watching or not self.game.can_undo():
            return
        self.workers.cancel_group(self, "forecast")
        move = self.game.undo()
        self.forecasts_taken.pop(len(self.game.moves), None)
        del self.decided[move.actor][-2:]  # the decision left and the one undone, asked again below
        self.dirty = True
        self.autosave()
        self.show_board()
        rules = self.game.rules
        what = "pass" if move.option is None else rules.options[rules.option_index[move.option]].label
        self.notify(f"Undone: {what} ({rules.date(move.turn):%d %b %Y})", title=f"{move.actor}: move taken back",
                    timeout=4)
        self.ask(move.actor)

    def action_answer(self, which: int) -> None:
        """a / r: answer the offer in the banner, accepting (0) or refusing (1); where the scenario
        gives no move that refuses, not answering refuses: the player passes."""
        decision = self.game.waiting
        offers = self.game.offers(decision.actor) if decision is not None and not self.watching else []
        if not offers:
            return
        answers = offers[0].answers
        option = answers[which] if which < len(answers) else None
        why = self.query_one(MovePicker).reasons.get(option)
        if why:
            self.notify(f"Not open now: {why}", severity="warning")
            return
        self.post_message(MovePicker.Chosen(option))

    def action_pass_turn(self) -> None:
        if not self.watching and self.game.waiting is not None:
            self.post_message(MovePicker.Chosen(None))

    def autosave(self) -> None:
        """Save after every move; a save that fails (a full disk, the folder gone) is told, and
        the game goes on: the next move tries again."""
        if self.replay or self.watching or not (self.game.moves or self.written):
            return  # nothing played yet: no save
        try:
            if self.save_path is None:
                if self.saves is None:
                    return
                self.save_path = new_save(self.saves, self.game)
            else:
                self.game.save(self.save_path)
        except OSError as exc:
            if not self.save_failed:
                self.notify(f"The game could not be saved to {printable(self.save_path or self.saves, 80)}: "
                            f"{printable(exc.strerror or exc, 80)}. Play goes on; each move tries again.",
                            title="Not saved", severity="error", timeout=10)
            self.save_failed = True
        else:
            if self.save_failed:
                self.notify(f"The game is saved again to {printable(self.save_path, 80)}.", title="Saved")
            self.save_failed = False
            self.written, self.dirty = True, False

    def show_board(self, switched: bool = False) -> None:
        """Draw the board on the view on screen; `switched`: another view was asked for (not news)."""
        game = self.game
        sight = game.sight(self.viewer)
        self.query_one(TensionPanel).show(game, sight)
        self.query_one(LadderPanel).show(game, sight)
        self.query_one(ActorsPanel).show(game, sight)
        announced = self.query_one(NewsFeed).show(game, sight, switched)
        if self.drawn:  # the first drawing tells the game so far (a resumed game's): not news
            for title, text, severity in announced[-MAX_TOASTS:]:
                self.notify(text, title=title, severity=severity, timeout=6)
        self.drawn = True
        self.title = game.name
        self.sub_title = self.status()
        if self.hides():
            self.query_one("#news-pane").border_title = f"News · {self.view_name()}"

    def hides(self) -> bool:
        """Whether the actors' views may differ from the truth (else the board has one view)."""
        known = self.game.rules.knowledge
        return known.hides_variables or known.hides_moves

    def view_name(self) -> str:
        return f"{self.viewer}'s view" if self.viewer else "umpire's view (the truth)"

    def status(self) -> str:
        """The header's line: the date, who is to move or how the game is watched, whose view
        (last: at 80 columns what is cut is the view, which the news pane's title names too)."""
        view = f" · {self.view_name()}" if self.hides() else ""
        return self._status() + view

    def _status(self) -> str:
        game, rules = self.game, self.game.rules
        turn = game.engine.turn
        where = f"{rules.date(turn):%d %b %Y} ({turn + 1}/{rules.horizon})"
        if game.finished:
            outcome = rules.outcomes[game.engine.state.outcome[0]].label
            return f"{where} · ended: {outcome}"
        if game.waiting is not None:
            return f"{where} · {game.waiting.actor} to move"
        mode = "replay" if self.replay else "watching"
        state = "playing" if self.playing else "paused"
        return f"{where} · {mode}, {state} ({SPEEDS[self.speed]:g} s/turn)"

    # --- forecasts ----------------------------------------------------------------------------

    def on_move_picker_highlighted(self, message: MovePicker.Highlighted) -> None:
        self.show_move(message.option)

    def show_move(self, option: str | None) -> None:
        """The highlighted move explained at once; its forecast once the board is drawn."""
        if (self.asked, option) == self.shown:
            return  # the same move highlighted again (the picker redrawn at a new width)
        self.shown = (self.asked, option)
        picker = self.query_one(MovePicker)
        self.highlighted = option
        self.query_one(MoveDetail).show(self.game, option, picker.reasons.get(option))
        self.call_after_refresh(self.forecast, option)

    @property
    def shown_forecast(self) -> Forecast | None:
        return self.forecasts.get(self.highlighted)

    def forecast(self, option: str | None) -> None:
        """Forecast `option`, and passing (what it is compared with), unless done already for
        this decision: a worker runs what is missing, the highlighted move first."""
        decision = self.game.waiting
        if decision is None or option != self.highlighted:
            return  # moved on meanwhile
        panel = self.query_one(ForecastPanel)
        try:
            wanted = [(o, prepare(self.game.engine, decision.actor, o, self.rollouts, WINDOW))
                      for o in dict.fromkeys((option, None)) if o not in self.forecasts]
        except ValueError as exc:
            self.workers.cancel_group(self, "forecast")
            panel.unavailable(str(exc).split(": ", 1)[-1])
            return
        self.show_forecast()
        if wanted:
            self.run_worker(partial(self._forecast, wanted, self.asked), thread=True, exclusive=True, group="forecast")

    def _forecast(self, wanted: list, asked: int) -> None:
        worker = get_current_worker()
        for option, rollouts in wanted:
            result = rollouts.run(lambda: worker.is_cancelled)
            if result is None:
                return
            self.post_message(self.ForecastReady((asked, option), result))

    def on_board_screen_forecast_ready(self, message: ForecastReady) -> None:
        asked, option = message.key
        if asked == self.asked:
            self.forecasts[option] = message.forecast
            self.show_forecast()

    def show_forecast(self) -> None:
        panel = self.query_one(ForecastPanel)
        if self.shown_forecast is None:
            panel.waiting()
        else:
            panel.result(self.highlighted, self.shown_forecast, self.forecasts.get(None))

    def action_brief(self) -> None:
        self.app.push_screen(BriefScreen(self.game))

    # --- watching and replays -----------------------------------------------------------------

    def tick(self) -> None:
        if self.game.finished:
            self.playing = False
            self.timer.pause()
            return
        self.step(1)

    def step(self, by: int) -> None:
        self.game.goto(max(self.game.completed - 1 + by, -1))
        self.show_board()
        if self.game.finished and self.report is None:
            self.finish()

    def action_step(self, by: int) -> None:
        if self.watching:
            self.step(by)

    def action_play_pause(self) -> None:
        if not self.watching:
            return
        self.playing = not self.playing
        if self.playing:
            self.timer.resume()
        else:
            self.timer.pause()
        self.sub_title = self.status()

    def action_cycle_view(self) -> None:
        """v: the next view on the board, the umpire's then each actor's in turn."""
        if not self.check_action("cycle_view", ()):
            return
        views = [None, *self.game.rules.actors]
        self.viewer = views[(views.index(self.viewer) + 1) % len(views)]
        self.show_board(switched=True)

    def action_speed(self, by: int) -> None:
        if not self.watching:
            return
        self.speed = min(max(self.speed + by, 0), len(SPEEDS) - 1)
        self.timer.stop()
        self.timer = self.set_interval(SPEEDS[self.speed], self.tick, pause=not self.playing)
        self.sub_title = self.status()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """Show each mode's keys only: moves when playing, stepping when watching."""
        if action == "pass_turn":
            return not self.watching and not self.game.finished
        if action == "answer":  # only while an offer waits for the player's answer
            decision = self.game.waiting
            return not self.watching and decision is not None and bool(self.game.offers(decision.actor))
        if action == "undo":  # shown while playing; open once there is a move of the player's own to take back
            return False if self.watching or self.game.finished else self.game.can_undo() or None
        if action in ("play_pause", "step", "speed"):
            return self.watching
        if action == "cycle_view":  # a player sees its own view until the game is over
            return self.hides() and (self.watching or self.game.finished)
        if action == "end_screen":
            return self.report is not None
        return True

    # --- the end ------------------------------------------------------------------------------

    def finish(self) -> None:
        for banner in self.query(OfferBanner):
            banner.display = False
        for picker in self.query(MovePicker):
            picker.clear()
            picker.border_title = "Game over"
            self.query_one(MoveDetail).display = False
            self.query_one(ForecastPanel).display = False
        if self.playing:
            self.playing = False
            self.timer.pause()
        self.sub_title = self.status() + " · writing the after-action report…"
        self.refresh_bindings()
        self.write_report()

    @work(thread=True, exclusive=True, group="report")
    def write_report(self) -> None:
        from sim.play.debrief import debrief  # only at the end: keeps the start quick

        game = self.game
        text = debrief(game.engine, game.name, game.setup.humans, runs=self.report_runs, undone=len(game.undone),
                       moves=game.moves, forecasts=self.forecasts_taken)
        path, base = None, self.save_path
        if base is None and self.saves is not None:  # the game ended before a move was made
            base = save_path(self.saves, game)
        if base is not None and not self.replay:
            try:
                path = write_report(base.with_suffix(".report.md"), text)
                for view in self.players_views():  # and each player's, as it saw the game
                    write_report(base.with_suffix(f".{view}.report.md"), debrief(
                        game.engine, game.name, game.setup.humans, runs=self.report_runs, undone=len(game.undone), moves=game.moves,
                        forecasts=self.forecasts_taken, view=view))
            except OSError as exc:
                self.app.call_from_thread(
                    self.notify, f"The after-action report could not be saved: {printable(exc.strerror or exc, 80)}",
                    title="Not saved", severity="error", timeout=10)
        self.app.call_from_thread(self.reported, text, path)

    def report_unfinished(self) -> Path | None:
        """On leaving a game before its end: its report so far, next to its save (a game without a
        save, one watched or replayed, leaves none). The path written, or None."""
        from sim.play.debrief import debrief

        game = self.game
        if game.finished or self.watching or self.save_path is None or not self.written:
            return None
        # A game still to be played on: only as each player saw it, when the scenario hides things from them
        views = self.players_views() or [None]
        try:
            for view in views:
                text = debrief(game.engine, game.name, game.setup.humans, undone=len(game.undone), moves=game.moves,
                               forecasts=self.forecasts_taken, view=view)
                path = write_report(self.save_path.with_suffix(f".{view}.report.md" if view else ".report.md"), text)
            return path
        except OSError:
            return None  # leaving: there is no screen left to say it on; the save is what matters

    def players_views(self) -> list[str]:
        """The human players whose view differs from the truth: each gets a report of its own."""
        known = self.game.rules.knowledge
        return list(self.game.setup.humans) if known.hides_variables or known.hides_moves else []

    def reported(self, text: str, path: Path | None) -> None:
        self.report = (text, path)
        self.sub_title = self.status()
        self.refresh_bindings()
        self.action_end_screen()

    def action_end_screen(self) -> None:
        """The end screen, made the first time and kept (installed): reopened, it is as it was."""
        if self.report is None:
            return
        if self.end_screen is None:
            self.end_screen = EndScreen(self.game, *self.report)
            self.app.install_screen(self.end_screen, f"end-{id(self)}")
        if self.end_screen not in self.app.screen_stack:
            self.app.push_screen(self.end_screen)

    def on_unmount(self) -> None:
        if self.end_screen is not None and self.end_screen not in self.app.screen_stack:  # a new game
            self.app.uninstall_screen(self.end_screen)

    def on_news_feed_opened(self, message: NewsFeed.Opened) -> None:
        self.app.push_screen(SourceScreen(self.game, message.event))


def write_report(path: Path, text: str) -> Path:
    """Write the report under `path`, or `NAME-2.report.md`... if a file has that name: never over
    a file (a resumed game that ends again writes a second report). The path written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stem = path.name[: -len(".report.md")]
    for k in range(1, 1000):
        candidate = path if k == 1 else path.with_name(f"{stem}-{k}.report.md")
        try:
            write_file(candidate, text.encode("utf-8"), new=True)
            return candidate
        except FileExistsError:
            continue
    raise OSError(f"no free name for the report next to {path}")
