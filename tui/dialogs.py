"""Screens shown over the board: the hot-seat hand-over, an event's source, the brief, the end, "too small"."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Markdown, Sparkline, Static

from sim.play.game import Game
from sim.play.narrative import describe, labels, sources

MIN_WIDTH, MIN_HEIGHT = 80, 24


class HandOverScreen(Screen):
    """Hides the board between two people sharing the keyboard."""

    BINDINGS = [Binding("enter", "ready", "Ready", id="handover.ready")]

    def __init__(self, actor: str, game: Game):
        super().__init__()
        self.actor = actor
        self.game = game

    def compose(self) -> ComposeResult:
        name = self.game.scenario.actors[self.actor].name
        with Vertical(id="handover"):
            yield Static(Text(f"Hand over to {name} ({self.actor})", style="bold"), id="handover-title")
            yield Static(
                "The board is hidden so the next player does not see the last one choose.\n"
                f"Pass the keyboard to whoever plays {self.actor}, then press Enter."
            )
        yield Footer()

    def on_screen_resume(self) -> None:
        self.app.guard_input()  # the Enter that ended the last player's move does not hand over

    def action_ready(self) -> None:
        self.dismiss(True)


class SourceScreen(ModalScreen):
    """One event of the news feed with the text its move or event comes from."""

    BINDINGS = [Binding("escape,enter,q", "close", "Close", id="source.close")]

    def __init__(self, game: Game, event: dict):
        super().__init__()
        self.game = game
        self.event = event

    def compose(self) -> ComposeResult:
        game, ev = self.game, self.event
        rules = game.rules
        text = Text()
        text.append(f"{rules.date(ev['turn']):%d %B %Y}  {ev['actor'] or ''}\n", style="bold")
        text.append((describe(ev, labels(rules)) or ev["kind"]) + "\n\n")
        subject = ev["subject"]
        if subject in rules.option_index and rules.options[rules.option_index[subject]].description:
            text.append(rules.options[rules.option_index[subject]].description + "\n\n", style="italic")
        ref = sources(rules).get(subject)
        if ref is not None:
            source = game.scenario.sources.get(ref.ref)
            title = source.title if source is not None else ref.ref
            text.append(f"Source: {title}\n", style="dim")
            text.append(f"“{ref.quote}”", style="italic")
        else:
            text.append("No source quote for this event.", style="dim")
        with Vertical(id="source"):
            yield Static(text)
        yield Footer()

    def action_close(self) -> None:
        self.dismiss()


class BriefScreen(ModalScreen):
    """The scenario's brief: the situation the game starts from, in full (scrolls when long)."""

    BINDINGS = [Binding("escape,i,q", "close", "Close", id="brief.close")]

    def __init__(self, game: Game):
        super().__init__()
        self.game = game

    def compose(self) -> ComposeResult:
        scenario, rules = self.game.scenario, self.game.rules
        text = Text(f"{scenario.title}\n", style="bold")
        text.append(f"from {rules.date(0):%d %B %Y}, {rules.horizon} turns\n\n", style="dim")
        text.append(scenario.description.strip())
        with VerticalScroll(id="brief"):
            yield Static(text)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#brief").border_title = "Brief"

    def action_close(self) -> None:
        self.dismiss()


class ConfirmScreen(ModalScreen[bool]):
    """A question that must be answered before something that cannot be taken back: Enter or y
    says yes, Escape or n no (dismissed with True or False)."""

    BINDINGS = [
        Binding("enter,y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("escape,n", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, text: str, id: str | None = None):
        super().__init__(id=id)
        self.title_text, self.text = title, text

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(Text(self.title_text, style="bold"), id="confirm-title")
            yield Static(self.text)
            yield Static(Text("Enter/y: yes   Escape/n: no", style="dim"), id="confirm-keys")
        yield Footer()

    def on_mount(self) -> None:
        self.app.guard_input()  # the key that asked (a double Enter) does not answer

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class EndScreen(Screen):
    """The outcome, the crisis over time, and the after-action report."""

    BINDINGS = [
        Binding("b,escape", "back", "Board", id="end.board"),
        Binding("n", "new_game", "New game", id="end.new"),
        Binding("q", "app.quit", "Quit", id="end.quit"),
    ]

    def __init__(self, game: Game, report: str, path: Path | None):
        super().__init__()
        self.game = game
        self.report = report
        self.path = path

    def compose(self) -> ComposeResult:
        rules, st = self.game.rules, self.game.engine.state
        end = int(st.end_turn[0])
        outcome = rules.outcomes[st.outcome[0]]
        head = Text(f"{outcome.label.upper()}", style="bold red" if outcome.kind == "war" else "bold green")
        head.append(f"  on {rules.date(end):%d %B %Y}, turn {end + 1} of {rules.horizon}", style="")
        if self.path is not None:
            head.append(f"\nReport saved to {self.path}", style="dim")
        tension = st.tension_history[: end + 1, 0]
        peak = st.position_history[: end + 1, 0].max(axis=1)
        tension, peak = tension[~np.isnan(tension)].tolist(), peak[~np.isnan(peak)].tolist()
        yield Static(head, id="end-title")
        with Vertical(id="timeline"):
            yield Static(spark_label("tension", tension), classes="spark-label")
            yield Sparkline(tension or [0.0], id="end-tension")
            yield Static(spark_label("highest rung", peak), classes="spark-label")
            yield Sparkline(peak or [0.0], id="end-rungs")
        with VerticalScroll(id="report"):
            yield Markdown(id="report-text")
        yield Footer()

    def on_mount(self) -> None:
        """The report is laid out after the screen is up, a spinner showing meanwhile (a long
        report takes a second or more)."""
        self.query_one("#report").loading = True
        self.run_worker(self._fill(), group="report-text")

    async def _fill(self) -> None:
        await self.query_one("#report-text", Markdown).update(self.report)
        self.query_one("#report").loading = False

    def on_screen_resume(self) -> None:
        self.app.guard_input()

    def action_back(self) -> None:
        self.dismiss()

    def action_new_game(self) -> None:
        self.app.new_game()


def spark_label(name: str, values: list[float]) -> str:
    """A sparkline's scale: it spans its data's own lowest to highest, so both are said."""
    if not values:
        return name
    return f"{name}, turns 1–{len(values)}: lowest {min(values):.1f} (bottom), highest {max(values):.1f} (top)"


class TooSmallScreen(ModalScreen):
    """Covers everything while the terminal is smaller than the board needs."""

    def compose(self) -> ComposeResult:
        yield Static(id="too-small")

    def on_mount(self) -> None:
        self.show_size()

    def on_resize(self) -> None:
        self.show_size()

    def show_size(self) -> None:
        w, h = self.app.size
        self.query_one("#too-small", Static).update(
            f"The terminal is too small: {w}×{h}.\nEscalation Ladder needs at least {MIN_WIDTH}×{MIN_HEIGHT}."
        )
