"""The Textual app. For now a shell: the bundled scenarios and how to run them headless."""
from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header, Static

from sim.catalog import bundled, open_scenario


class LadderApp(App):
    CSS_PATH = "ladder.tcss"
    TITLE = "Escalation Ladder"
    BINDINGS = [("q", "quit", "Quit")]

    def __init__(self, scenario: str | None = None):
        super().__init__()
        self.scenario = scenario

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            "The board is coming. Meanwhile: `ladder run NAME --seed N` plays a game headless.",
            id="notice",
        )
        yield DataTable(id="scenarios", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("scenario", "title", "starts", "turns")
        for name, path in bundled().items():
            s = open_scenario(str(path)).scenario
            table.add_row(name, s.title, s.clock.start, str(s.clock.horizon), key=name)
        if self.scenario:
            self.sub_title = self.scenario


def run_app(scenario: str | None = None) -> int:
    if scenario is not None:
        open_scenario(scenario)  # a bad name or file is reported before the screen takes over
    LadderApp(scenario).run()
    return 0
