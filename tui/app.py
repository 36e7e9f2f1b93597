"""The Textual app: set-up, the board, and what goes over it.

`ladder play` opens the set-up screen; with `--as` it goes straight to the board; `--resume`
continues a saved game; `--replay DIR --run I` steps through run I of a batch.
"""
from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from sim.format.errors import UsageError, printable
from sim.play.game import Game, Setup

from .board import BoardScreen
from .dialogs import MIN_HEIGHT, MIN_WIDTH, ConfirmScreen, TooSmallScreen
from .saves import save_path
from .setup import SetupScreen


class LadderApp(App):
    CSS_PATH = "ladder.tcss"
    INPUT_GUARD = 0.6  # seconds of keys ignored once a changed screen is drawn: a double Enter is not two moves
    TITLE = "Escalation Ladder"
    BINDINGS = [
        Binding("f1,question_mark", "help", "Help", id="app.help"),
        Binding("ctrl+p", "command_palette", "Commands", id="app.commands", show=False),
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("ctrl+c", "interrupt", "Interrupt", id="app.interrupt", show=False, priority=True, system=True),
    ]

    def __init__(self, first: Screen | None = None, scenario: str | None = None, seed: int | None = None,
                 saves: Path = Path("saves"), catch_sigint: bool = False):
        super().__init__()
        self.first = first
        self.scenario, self.seed = scenario, seed
        self.saves = saves
        self.catch_sigint = catch_sigint  # a real run: SIGINT (kill -INT) ends the app as Ctrl+C does
        self.guard_until = 0.0  # keys before this time.monotonic() are ignored (Ctrl+C is not)
        self.saved: tuple[Path, bool] | None = None  # on leaving: the game's save, and whether moves since are lost
        self.unfinished_report: Path | None = None  # on leaving a game before its end: its report so far

    def on_mount(self) -> None:
        if self.catch_sigint:
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self.action_interrupt)
        self.push_screen(self.first or SetupScreen(self.scenario, self.seed))
        self.check_size()

    def guard_input(self) -> None:
        """Ignore keys for a moment: the screen has just changed (a hand-over dismissed, a new
        decision, the end), so a key now was meant for what was there before. The moment counts
        from when the new screen is drawn: a person cannot answer what they have not seen."""
        def guard() -> None:
            self.guard_until = time.monotonic() + self.INPUT_GUARD

        guard()
        self.call_after_refresh(guard)

    async def on_event(self, event: events.Event) -> None:
        if (isinstance(event, events.Key) and not event.is_forwarded and event.key != "ctrl+c"
                and time.monotonic() < self.guard_until):
            event.stop()
            return
        await super().on_event(event)

    def action_interrupt(self) -> None:
        """Ctrl+C or SIGINT: quit at once, exit code 130 (the game is saved after every move)."""
        self.saved = self.game_saved()
        self.exit(return_code=130)  # at once: no report, which takes a moment

    async def action_quit(self) -> None:
        """Quit; if moves were made since the last save (it failed), only once that is confirmed."""
        if isinstance(self.screen, ConfirmScreen):
            return
        board = self.board()
        if board is not None and board.dirty:
            where = f"saved to {printable(board.save_path, 80)}" if board.save_path else "saved"
            self.push_screen(
                ConfirmScreen("Quit without saving?",
                              f"The game could not be {where} since your last moves: they are lost if you quit. "
                              "Quit anyway?"),
                lambda yes: yes and self.leave())
            return
        self.leave()

    def leave(self) -> None:
        self.saved = self.game_saved()
        board = self.board()
        if board is not None:
            self.unfinished_report = board.report_unfinished()
        self.exit()

    def board(self) -> BoardScreen | None:
        return next((s for s in reversed(self.screen_stack) if isinstance(s, BoardScreen)), None)

    def game_saved(self) -> tuple[Path, bool] | None:
        """The save of the game on the board, if one was written, and whether moves since are unsaved."""
        board = self.board()
        if board is None or not board.written or board.save_path is None:
            return None
        return board.save_path, board.dirty

    # --- screens --------------------------------------------------------------------------

    def start(self, setup: Setup) -> None:
        """From the set-up screen: the board of a new game, once its first save is written."""
        try:
            game = Game.start(setup)
        except UsageError as exc:
            self.notify(printable(exc, 200), severity="error")
            return
        why = folder_problem(self.saves)
        if why is None and not setup.humans:
            try:
                path = save_path(self.saves, game)  # only the report's name: watching saves no moves
            except OSError as exc:
                why = exc.strerror or str(exc)
        if why is not None:
            self.notify(f"Cannot save games in {printable(self.saves, 80)}: {printable(why, 80)}", severity="error")
            return
        if setup.humans:  # the save is made at the first move
            self.switch_screen(BoardScreen(game, None, saves=self.saves))
        else:
            self.switch_screen(BoardScreen(game, path))

    def new_game(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(SetupScreen())

    def on_resize(self, event: events.Resize) -> None:
        self.check_size(event.size)

    def check_size(self, size=None) -> None:
        width, height = size or self.size
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        covered = isinstance(self.screen, TooSmallScreen)
        if small and not covered:
            self.push_screen(TooSmallScreen())
        elif covered and not small:
            self.pop_screen()

    # --- help and commands ----------------------------------------------------------------

    def action_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("New game", "Back to the set-up screen", self.new_game)
        if isinstance(screen, BoardScreen):
            if not screen.watching:
                yield SystemCommand("Pass", "Make no move this turn", screen.action_pass_turn)
            else:
                yield SystemCommand("Play / pause", "Watch the bots play on, or stop", screen.action_play_pause)
                yield SystemCommand("Step forward", "One turn on", lambda: screen.action_step(1))
                yield SystemCommand("Step back", "One turn back", lambda: screen.action_step(-1))
            if screen.check_action("cycle_view", ()):
                yield SystemCommand("Next view", "The board as the next actor sees it, or the umpire (the truth)",
                                    screen.action_cycle_view)
            if screen.report is not None:
                yield SystemCommand("After-action report", "The end screen and its report", screen.action_end_screen)


def check_folder(folder: Path, flag: str = "--saves") -> None:
    """A UsageError unless games can be saved in `folder` (see folder_problem)."""
    why = folder_problem(folder)
    if why:
        raise UsageError(f"{flag} {printable(folder, 200)}: cannot save games there: {printable(why, 200)}")


def folder_problem(folder: Path) -> str | None:
    """Why games cannot be saved in `folder` (made when the first game is saved), or None: the
    nearest part of it that exists must be a folder we can write in. Nothing is left behind."""
    probe = folder.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    why = None
    if not probe.is_dir():
        why = f"{probe} is not a folder"
    elif not os.access(probe, os.W_OK | os.X_OK):
        why = f"{probe} is not writable"
    elif probe == folder.absolute():
        try:
            tempfile.TemporaryFile(dir=probe).close()
        except OSError as exc:
            why = exc.strerror or str(exc)
    return why


def run_app(args) -> int:
    """`ladder play`: everything that can go wrong with the arguments is reported before the
    screen takes over (a UsageError or ScenarioError from here is one line and exit 2): a bad
    save, a saves folder that cannot be written. The app's exit code: 0, 130 when interrupted
    (Ctrl+C, SIGINT), 1 if it failed."""
    from sim.format.scenario import open_scenario, parse_doctrines

    saves = Path(args.saves)
    first = None
    loaded = open_scenario(args.scenario) if args.scenario else None
    chosen = parse_doctrines(args.doctrine, loaded.scenario) if loaded else {}
    if args.resume:
        path = Path(args.resume)
        game = Game.resume(path)
        check_folder(path.parent, "--resume")
        if not os.access(path, os.W_OK):
            raise UsageError(f"--resume {printable(path, 200)}: cannot save the game there: the file is not writable")
        first = BoardScreen(game, path)
    elif args.replay:
        first = BoardScreen(replay_game(Path(args.replay), args.run_index), None, replay=True)
    elif args.players or args.watch:
        seed = random.randrange(10_000) if args.seed is None else args.seed
        game = Game.start(Setup(args.scenario, seed, args.players or (), chosen), loaded)
        check_folder(saves)
        if args.players:  # the save is made at the first move: a game never played leaves no file
            first = BoardScreen(game, None, saves=saves)
        else:  # watching: no moves to save, only the report at the end
            first = BoardScreen(game, save_path(saves, game))
    else:
        check_folder(saves)
    app = LadderApp(first, args.scenario, args.seed, saves, catch_sigint=True)
    app.run()
    code = app.return_code or 0
    said = "interrupted" if code == 130 else None
    if app.saved is not None and code in (0, 130):
        saved, lost = app.saved
        said = ((said + "; ") if said else "") + f"the game is saved: ladder play --resume {saved}"
        if lost:
            said += " (without the last moves, which could not be saved)"
    if app.unfinished_report is not None:
        said = ((said + "; ") if said else "") + f"the report so far: {app.unfinished_report}"
    if said:
        print(f"ladder: {said}", file=sys.stderr)
    return code


def replay_game(folder: Path, run: int) -> Game:
    from sim.montecarlo.folder import Folder

    job = Folder(folder).replay(run)
    return Game(Setup(job.name, job.seed, (), job.doctrines, run), job.scenario, job.name)


def board_drawn(spec: str, player: str) -> None:
    """`ladder play SPEC --as PLAYER`, headless, ending as soon as the board has been drawn:
    what `ladder bench --play` times, in a process of its own."""
    import argparse

    mount = BoardScreen.on_mount

    def on_mount(self) -> None:
        mount(self)
        self.call_after_refresh(self.app.exit)

    BoardScreen.on_mount = on_mount
    LadderApp.run = lambda self: App.run(self, headless=True)
    with tempfile.TemporaryDirectory() as saves:
        run_app(argparse.Namespace(scenario=spec, players=(player,), watch=False, seed=1, doctrine=[], resume=None,
                                   replay=None, run_index=None, saves=saves))


def detail_updates(spec: str, player: str, presses: int = 10) -> None:
    """`ladder play SPEC --as PLAYER`, headless at 80x24: once the board and its forecast are up,
    ↓ and ↑ pressed in turn `presses` times at a person's pace (so the highlight moves among even
    two rows), each timed until the detail pane shows the move highlighted and the screen is
    redrawn (the forecast it starts runs meanwhile, as in play). Prints the milliseconds as
    JSON: what `ladder bench --play` times, in a process of its own."""
    import json

    from .panels import MoveDetail, MovePicker

    times: list[float] = []

    async def measure(pilot) -> None:
        app = pilot.app
        await asyncio.sleep(app.INPUT_GUARD + 1.0)  # past the guard on a new decision; the first forecast done
        board = app.screen
        detail, picker = board.query_one(MoveDetail), board.query_one(MovePicker)
        for key in ("down", "up") * (presses // 2):
            before = picker.current()
            start = time.perf_counter()
            app.post_message(events.Key(key, None))
            while detail.option == before or detail.option != picker.current():
                if time.perf_counter() - start > 5:  # never: a bench that waits for ever
                    app.exit()
                    return
                await asyncio.sleep(0)
            drawn = asyncio.get_running_loop().create_future()
            app.call_after_refresh(drawn.set_result, None)
            await drawn
            times.append((time.perf_counter() - start) * 1000)
            await asyncio.sleep(0.3)  # a person reads a little before the next key
        app.exit()

    game = Game.start(Setup(spec, 1, (player,)))
    App.run(LadderApp(BoardScreen(game, None)), headless=True, size=(80, 24), auto_pilot=measure)
    if len(times) < presses // 2 * 2:
        sys.exit(f"the detail pane did not follow the key after {len(times)} presses")
    print(json.dumps({"ms": times}))
