"""The Textual app: set-up, the board, and what goes over it.

`ladder play` opens the set-up screen; with `--as` it goes straight to the board; `--resume`
continues a saved game; `--replay DIR --run I` steps through run I of a batch.
"""
from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Iterable

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from sim.game import Game, Setup

from .board import BoardScreen
from .dialogs import MIN_HEIGHT, MIN_WIDTH, TooSmallScreen
from .setup import SetupScreen


class LadderApp(App):
    CSS_PATH = "ladder.tcss"
    TITLE = "Escalation Ladder"
    BINDINGS = [
        Binding("f1,question_mark", "help", "Help", id="app.help"),
        Binding("ctrl+p", "command_palette", "Commands", id="app.commands", show=False),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(self, first: Screen | None = None, scenario: str | None = None, seed: int | None = None,
                 saves: Path = Path("saves")):
        super().__init__()
        self.first = first
        self.scenario, self.seed = scenario, seed
        self.saves = saves

    def on_mount(self) -> None:
        self.push_screen(self.first or SetupScreen(self.scenario, self.seed))
        self.check_size()

    # --- screens --------------------------------------------------------------------------

    def start(self, setup: Setup) -> None:
        """From the set-up screen: the board of a new game."""
        game = Game.start(setup)
        self.switch_screen(BoardScreen(game, save_path(self.saves, game)))

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
            if screen.report is not None:
                yield SystemCommand("After-action report", "The end screen and its report", screen.action_end_screen)


def save_path(folder: Path, game: Game) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return folder / f"{game.name}-seed{game.setup.seed}-{stamp}.json"


def run_app(args) -> int:
    """`ladder play`: everything that can go wrong with the arguments is reported before the
    screen takes over (a UsageError or ScenarioError from here is one line and exit 2)."""
    from sim.catalog import open_scenario
    from sim.cli import doctrines

    saves = Path(args.saves)
    first = None
    loaded = open_scenario(args.scenario) if args.scenario else None
    chosen = doctrines(args.doctrine, loaded.scenario) if loaded else {}
    if args.resume:
        first = BoardScreen(Game.resume(Path(args.resume)), Path(args.resume))
    elif args.replay:
        first = BoardScreen(replay_game(Path(args.replay), args.run_index), None, replay=True)
    elif args.players or args.watch:
        seed = random.randrange(10_000) if args.seed is None else args.seed
        game = Game.start(Setup(args.scenario, seed, args.players or (), chosen), loaded)
        first = BoardScreen(game, save_path(saves, game))
    LadderApp(first, args.scenario, args.seed, saves).run()
    return 0


def replay_game(folder: Path, run: int) -> Game:
    from sim.batch import Folder
    from sim.errors import UsageError

    batch = Folder(folder)
    m = batch.manifest()
    runs = m.get("runs_done") or m.get("runs") or 0
    if run >= runs:
        raise UsageError(f"--run {run}: the batch in {folder} has runs 0 to {runs - 1}")
    setup = Setup(m["scenario"], m["seed"], (), m["doctrines"], run)
    return Game(setup, batch.scenario(), m["scenario"])
