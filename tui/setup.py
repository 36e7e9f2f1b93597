"""The set-up screen: a scenario, who plays whom, the bots' doctrines and the seed."""
from __future__ import annotations

import datetime as dt
import random

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, Static

from sim.engine.rng import SEEDS
from sim.format.catalog import bundled
from sim.format.errors import ScenarioError, UsageError
from sim.format.scenario import Loaded, open_scenario
from sim.format.words import plural
from sim.play.game import Setup


class SetupScreen(Screen):
    BINDINGS = [
        Binding("space", "toggle_player", "Person/bot", id="setup.player"),
        Binding("d", "cycle_doctrine", "Doctrine", id="setup.doctrine"),
        Binding("s", "start", "Start", id="setup.start"),
    ]
    HELP = """\
## Set-up
1. Pick a scenario in the top table (or type the path of a scenario file and press Enter).
2. In the players table, **space** switches an actor between a person and a bot, and **d**
   changes a bot's doctrine. No person: you watch the bots play. Several: hot seat.
3. Change the seed if you want another game (the same seed gives the same game).
4. **s** (or the Start button) starts.
"""

    def __init__(self, scenario: str | None = None, seed: int | None = None):
        super().__init__()
        self.first = scenario
        self.seed = random.randrange(10_000) if seed is None else seed
        self.loaded: Loaded | None = None
        self.spec: str | None = None
        self.humans: set[str] = set()
        self.doctrines: dict[str, str] = {}
        self.cursor_key: str | None = None  # the scenario row under the cursor when last looked at

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="≡")
        yield DataTable(id="scenarios", cursor_type="row")
        yield Input(placeholder="…or the path of a scenario file, then Enter", id="path", compact=True)
        yield Static(id="description")
        yield DataTable(id="players", cursor_type="row")
        with Horizontal(id="start-row"):
            yield Static("Seed ", id="seed-label")
            yield Input(str(self.seed), id="seed", type="integer", compact=True)
            yield Button("Start ▶", id="start", variant="primary", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "new game"
        self.query_one("#scenarios").border_title = "Scenario"
        self.query_one("#players").border_title = "Players"
        table = self.query_one("#scenarios", DataTable)
        table.add_columns("scenario", "title", "starts")
        for name, path in bundled().items():
            s = open_scenario(str(path)).scenario
            table.add_row(name, s.title, f"{start(s):%b %Y}", key=name)
        players = self.query_one("#players", DataTable)
        players.add_columns("actor", "", "played by", "doctrine")
        if self.first and self.first not in bundled():
            self.query_one("#path", Input).value = self.first
            self.choose(self.first)
        else:
            if self.first:
                table.move_cursor(row=list(bundled()).index(self.first))
            self.choose(self.first or next(iter(bundled())))
        # the table highlights its cursor row once its rows are in: that is not a choice (a file
        # given to `ladder play` stays chosen); only moving the cursor is
        self.cursor_key = self.first if self.first in bundled() else next(iter(bundled()))
        table.focus()

    def choose(self, spec: str) -> None:
        try:
            loaded = open_scenario(spec)
        except (ScenarioError, UsageError) as exc:
            first = exc.problems[0] if isinstance(exc, ScenarioError) else exc
            self.notify(str(first), severity="error", timeout=8)
            self.query_one("#path", Input).value = ""  # a bad path does not stay as if chosen
            return
        self.app.clear_notifications()  # an error about an earlier choice is no longer news
        self.loaded, self.spec = loaded, spec
        if spec in bundled():
            self.query_one("#path", Input).value = ""
        self.humans = set()
        self.doctrines = {a: spec.doctrine for a, spec in loaded.scenario.actors.items()}
        s = loaded.scenario
        text = Text(s.title, style="bold")
        text.append(f"  {start(s):%d %b %Y}, {plural(s.clock.horizon, 'turn')} of {plural(s.clock.turn_days, 'day')}\n")
        text.append(" ".join(s.description.split()))
        self.query_one("#description", Static).update(text)
        self.show_players()

    def show_players(self, row: int = 0) -> None:
        players = self.query_one("#players", DataTable)
        players.clear()
        for actor, spec in self.loaded.scenario.actors.items():
            person = actor in self.humans
            players.add_row(
                Text(actor, style="bold"),
                spec.name,
                Text("person", style="bold green") if person else "bot",
                Text("–", style="dim") if person else self.doctrines[actor],
                key=actor,
            )
        players.move_cursor(row=row)

    def on_data_table_row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        if message.data_table.id == "scenarios" and message.row_key.value != self.cursor_key:
            self.cursor_key = message.row_key.value
            if message.row_key.value != self.spec:
                self.choose(message.row_key.value)

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        if message.data_table.id == "scenarios":
            if message.row_key.value != self.spec:  # Enter on a scenario chooses it, after a path too
                self.choose(message.row_key.value)
            self.query_one("#players").focus()
        else:
            self.action_toggle_player()

    def on_input_submitted(self, message: Input.Submitted) -> None:
        if message.input.id == "path" and message.value.strip():
            self.choose(message.value.strip())
        elif message.input.id == "seed":
            self.action_start()

    def on_button_pressed(self, message: Button.Pressed) -> None:
        self.action_start()

    def _actor(self) -> str | None:
        players = self.query_one("#players", DataTable)
        if self.loaded is None or not players.row_count:
            return None
        return players.coordinate_to_cell_key(players.cursor_coordinate).row_key.value

    def action_toggle_player(self) -> None:
        actor = self._actor()
        if actor is not None:
            self.humans ^= {actor}
            self.show_players(self.query_one("#players", DataTable).cursor_row)

    def action_cycle_doctrine(self) -> None:
        actor = self._actor()
        if actor is None or actor in self.humans:
            return
        presets = list(self.loaded.scenario.doctrines)
        self.doctrines[actor] = presets[(presets.index(self.doctrines[actor]) + 1) % len(presets)]
        self.show_players(self.query_one("#players", DataTable).cursor_row)

    def action_start(self) -> None:
        if self.loaded is None:
            return
        text = self.query_one("#seed", Input).value.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 20 and int(text) < SEEDS):
            self.notify("The seed is a whole number from 0 to 2**64 - 1.", severity="error")
            return
        defaults = {a: spec.doctrine for a, spec in self.loaded.scenario.actors.items()}
        changed = {a: d for a, d in self.doctrines.items() if d != defaults[a] and a not in self.humans}
        humans = tuple(a for a in self.loaded.scenario.actors if a in self.humans)
        self.app.start(Setup(self.spec, int(text), humans, changed))


def start(scenario) -> dt.date:
    return dt.date.fromisoformat(str(scenario.clock.start))
