"""The panels of the board. Each shows part of a `Game` handed down by the board (attributes
down) and reports what the player does with messages (messages up)."""
from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.option_list import Option

from sim.play.forecast import Forecast
from sim.play.game import Game
from sim.play.narrative import describe, labels, with_answers

# Colours of their own, not the terminal's 16 (which a theme maps as it likes: Textual's default
# draws red and magenta alike), each an xterm-256 colour so a 256-colour terminal keeps them apart.
ACTOR_STYLES = ("bold #ff5f5f", "bold #5f87ff", "bold #5fd7d7", "bold #ffd75f", "bold #d787ff", "bold #87d75f",
                "bold #ffaf5f")


def actor_style(game: Game, actor: str) -> str:
    return ACTOR_STYLES[game.rules.actor_index[actor] % len(ACTOR_STYLES)]


def signed(x: float) -> str:
    """A change rounded to a whole number with its sign, or "" when that is 0 (never "-0")."""
    n = round(x)
    return f"{n:+d}" if n else ""


class LadderPanel(Static):
    """The rungs from the top, each actor marked at its rung, this turn's moves starred."""

    HELP = """\
## The ladder
Rungs from the top (war) to the bottom (de-escalation), with the named thresholds.
Each actor is marked at the rung it stands on now; a `*` marks an actor that moved this turn.
Positions cool down towards 0 a little each turn when nobody climbs.
"""

    def show(self, game: Game) -> None:
        self.game = game
        turn = game.engine.turn
        self.moved = {ev.actor for ev in game.engine.log.records if ev.kind == "move" and ev.turn == turn}
        self.refresh(layout=True)

    def render(self) -> Text:
        game = getattr(self, "game", None)
        if game is None:
            return Text("")
        ladder, st = game.scenario.ladder, game.engine.state
        levels = sorted({r.level for r in ladder.rungs})
        here: dict[int, list[str]] = {}
        for a, actor in enumerate(game.rules.actors):
            pos = float(st.position[0, a])
            if pos:
                here.setdefault(min(levels, key=lambda lv: (abs(lv - pos), -lv)), []).append(actor)
        rungs = self._fit(sorted(ladder.rungs, key=lambda r: -r.level), here)
        thresholds = len(rungs) + len(ladder.thresholds) <= self.size.height
        width = max(self.size.width, 20)
        out = Text(no_wrap=True, overflow="ellipsis")
        for r in rungs:
            for t in ladder.thresholds:
                if thresholds and t.level == r.level:
                    out.append(f"  ── {t.label} ".ljust(width, "─")[:width] + "\n", style="dim yellow")
            marks = Text()
            for actor in here.get(r.level, []):
                marks.append(" " + actor + ("*" if actor in self.moved else ""), style=actor_style(game, actor))
            crossed = any(t.level <= r.level for t in ladder.thresholds)
            room = max(width - 4 - marks.cell_len, 4)
            label = r.label if len(r.label) <= room else r.label[: room - 1] + "…"
            out.append(f"{r.level:>3} ", style="yellow" if crossed else "dim")
            out.append(label.ljust(room), style="" if r.level in here else "dim")
            out.append_text(marks)
            out.append("\n")
        out.rstrip()
        return out

    def _fit(self, rungs: list, here: dict) -> list:
        """As many rungs as there is room for: those with actors on them, then their neighbours."""
        room = max(self.size.height, 1)
        if len(rungs) <= room:
            return rungs
        centres = list(here) or [0]
        near = sorted(rungs, key=lambda r: (r.level not in here, min(abs(r.level - c) for c in centres), -r.level))
        kept = {id(r) for r in near[:room]}
        return [r for r in rungs if id(r) in kept]


class TensionPanel(Vertical):
    HELP = """\
## Tension
The tension of the crisis, its history turn by turn (on the same scale as the gauge), and the
hazard of war by miscalculation at this tension: the chance, each turn, that the crisis slips into war.
"""

    def compose(self) -> ComposeResult:
        yield Gauge(id="gauge")
        yield History(id="tension-history")

    def show(self, game: Game) -> None:
        rules, st = game.rules, game.engine.state
        tension = float(st.vars[0, rules.tension])
        var = game.scenario.variables[rules.var_names[rules.tension]]
        history = [float(x) for x in st.tension_history[:, 0] if not math.isnan(x)]
        self.query_one(Gauge).show(tension, var.min, var.max, float(rules.hazard(tension)))
        self.query_one(History).show(history or [tension], var.min, var.max)


def share_style(share: float) -> str:
    return "red" if share > 0.66 else "yellow" if share > 0.33 else "green"


class Gauge(Static):
    """The tension, a bar of its share of the variable's range, and the hazard: drawn at the
    widget's width each time, so the bar is as wide on every turn."""

    def show(self, value: float, low: float, high: float, hazard: float) -> None:
        self.value, self.low, self.high, self.hazard = value, low, high, hazard
        self.refresh()

    def render(self) -> Text:
        if not hasattr(self, "value"):
            return Text("")
        share = min(max((self.value - self.low) / ((self.high - self.low) or 1), 0.0), 1.0)
        head, tail = f"{self.value:5.1f} ", f" war hazard {self.hazard:6.2%}/turn"
        if self.size.width - len(head) - len(tail) < 8:  # 80 columns
            tail = f" hazard {self.hazard:6.2%}/turn"
        bar = max(self.size.width - len(head) - len(tail), 4)
        filled = round(share * bar)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(head, style="bold")
        text.append("█" * filled, style=share_style(share))
        text.append("░" * (bar - filled), style="dim")
        text.append(tail)
        return text


class History(Static):
    """A variable turn by turn on its declared range (a Sparkline scales to the data's own
    minimum and maximum, so that a change of half a point would fill it): one column a turn,
    the latest turns when there are more than columns."""

    BARS = "▁▂▃▄▅▆▇█"

    def show(self, data: list[float], low: float, high: float) -> None:
        self.data, self.low, self.high = data, low, high
        self.refresh()

    def render(self) -> Text:
        data = getattr(self, "data", [])
        text = Text(no_wrap=True)
        for x in data[-max(self.size.width, 1):]:
            share = min(max((x - self.low) / ((self.high - self.low) or 1), 0.0), 1.0)
            text.append(self.BARS[min(int(share * len(self.BARS)), len(self.BARS) - 1)], style=share_style(share))
        return text


class ActorsPanel(Static):
    HELP = """\
## Actors
Each actor's rung (its position on the ladder) and the variables it owns, with the change
since the turn began; variables that changed come first. Names are cut to six letters.
"""

    def show(self, game: Game) -> None:
        rules, st = game.rules, game.engine.state
        owned: dict[str, list[str]] = {}
        for name, var in game.scenario.variables.items():
            owned.setdefault(var.owner, []).append(name)
        out = Text(no_wrap=True, overflow="ellipsis")
        for a, actor in enumerate(rules.actors):
            out.append(f"{actor:<6}", style=actor_style(game, actor))
            out.append(f"{round(st.position[0, a], 1) + 0.0:>4.1f}")  # no "-0.0"
            names = owned.get(actor, [])
            changes = {n: st.vars[0, rules.var_index[n]] - game.before[rules.var_index[n]] for n in names}
            for name in sorted(names, key=lambda n: not signed(changes[n])):  # what moved first
                out.append(f" {name.split('.', 1)[-1][:6]} {st.vars[0, rules.var_index[name]]:.0f}")
                if signed(changes[name]):
                    out.append(signed(changes[name]), style="green" if changes[name] > 0 else "red")
            out.append("\n")
        out.rstrip()
        self.update(out)


class NewsFeed(OptionList):
    """Every event as a dated line; Enter opens the event with its source quote."""

    HELP = """\
## News
Every event as a dated line: moves, their effects as they land, proposals and answers,
vetoes, failed tests, preparations seen, thresholds and red lines crossed.
Press **Enter** on a line to read the source the move or event comes from.
"""

    class Opened(Message):
        def __init__(self, event: dict) -> None:
            self.event = event
            super().__init__()

    def show(self, game: Game) -> None:
        events = with_answers(game.engine.log.for_world(0))
        names = labels(game.rules)
        shown = getattr(self, "_events", [])
        if events[: len(shown)] != shown:  # stepped back: start again
            self.clear_options()
            shown = []
        for ev in events[len(shown):]:
            text = describe(ev, names)
            if text is None:
                continue
            line = Text(no_wrap=False)
            line.append(game.rules.date(ev["turn"]).strftime("%d %b "), style="dim")
            if ev["actor"]:
                line.append(f"{ev['actor']} ", style=actor_style(game, ev["actor"]))
            line.append(text, style="bold" if ev["kind"] in ("threshold", "red_line", "outcome") else "")
            self.add_option(Option(line, id=f"ev{len(shown) + events[len(shown):].index(ev)}"))
        self._events = events
        if self.option_count:
            self.highlighted = self.option_count - 1
            self.scroll_end(animate=False)
            # and again once laid out: the feed may have shrunk meanwhile (the offer banner above
            # the moves), which left the newest line's last wrapped lines below the fold
            self.call_after_refresh(self.scroll_end, animate=False)

    def action_page_down(self) -> None:
        self._page(super().action_page_down)

    def action_page_up(self) -> None:
        self._page(super().action_page_up)

    def _page(self, action) -> None:
        try:
            action()
        except KeyError:  # Textual's OptionList pages by lines it lays out lazily: none yet
            pass

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        message.stop()
        self.post_message(self.Opened(self._events[int(message.option.id[2:])]))


class OfferBanner(Static):
    """The proposals waiting for the player's answer: who offers what, and for how long."""

    def show(self, game: Game, actor: str | None) -> None:
        offers = game.offers(actor) if actor is not None else []
        self.display = bool(offers)
        text = Text(no_wrap=False)
        for n, offer in enumerate(offers):
            if n:
                text.append("\n")
            text.append(offer_line(game, offer))
        self.update(text)


def offer_line(game: Game, offer) -> Text:
    label = game.rules.options[game.rules.option_index[offer.option]].label
    text = Text()
    text.append(offer.proposer, style=actor_style(game, offer.proposer))
    text.append(f" proposes {offer.topic}: {label}. ", style="bold")
    left = "this turn is the last" if offer.turns_left <= 1 else f"{offer.turns_left} turns left"
    text.append(f"Answer below: {left}; no answer refuses.")
    return text


class MovePicker(DataTable):
    """The waiting person's options: what each is, what it does, why it is not open now."""

    HELP = """\
## Your move
Every move of the actor whose turn it is: rung, kind, turns of preparation, lag of its
effects and what it is expected to change. Dimmed moves are not open now; the last column
says why. The forecast below follows the highlighted move.

- **Enter** takes the highlighted move and ends your turn
- **p** passes (does nothing this turn)
- **u** undoes your last move: the game goes back to that decision (the report counts the moves undone)
"""

    class Highlighted(Message):
        def __init__(self, option: str | None) -> None:
            self.option = option
            super().__init__()

    class Chosen(Message):
        def __init__(self, option: str | None) -> None:
            self.option = option
            super().__init__()

    PASS = "(pass)"

    BINDINGS = [
        Binding("home", "first_row", "First", show=False),
        Binding("end", "last_row", "Last", show=False),
    ]

    def action_first_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns("move", "rung", "kind", "prep", "lag", "open?", "expected")

    def show(self, game: Game, actor: str) -> None:
        """The actor's moves; the answers to proposals put to it first (they lapse if not taken)."""
        rules = game.rules
        reasons = dict(game.engine.why_not(actor))
        first = [o for offer in game.offers(actor) for o in offer.answers if o in reasons]
        self.reasons = {o: reasons[o] for o in first} | reasons
        self.clear()
        for opt_id, why in self.reasons.items():
            i = rules.option_index[opt_id]
            o = rules.options[i]
            style = "dim" if why else ""
            cells = [
                o.label if len(o.label) <= 26 else o.label[:25] + "…",
                f"{int(rules.level[i]):+d}",
                o.category[:4],
                str(o.prepare or ""),
                str(max((e.lag for e in rules.effects[i]), default=0) or ""),
                why or "yes",
                expected(game, i),
            ]
            self.add_row(*(Text(c, style=style, no_wrap=True) for c in cells), key=opt_id)
        self.add_row(Text("Pass: no move this turn"), "", "", "", "", "yes", "", key=self.PASS)
        self.move_cursor(row=0)

    def current(self) -> str | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return None if key == self.PASS else key

    def on_data_table_row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        message.stop()
        self.post_message(self.Highlighted(self.current()))

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        message.stop()
        option = self.current()
        if option is not None and self.reasons.get(option):
            self.app.notify(f"Not open now: {self.reasons[option]}", severity="warning")
            return
        self.post_message(self.Chosen(option))


def expected(game: Game, i: int) -> str:
    """The expected changes of a move, largest first: what a doctrine weighs."""
    rules = game.rules
    total: dict[str, float] = {}
    for effect, odds in rules.expected_effects(i):
        if effect.delta is not None:
            name = rules.var_names[effect.var].split(".", 1)[-1]
            total[name] = total.get(name, 0.0) + effect.delta * odds * max(effect.over, 1)
    parts = sorted(total.items(), key=lambda kv: -abs(kv[1]))
    return ", ".join(f"{name} {signed(delta)}" for name, delta in parts if signed(delta)) or "–"


class ForecastPanel(Vertical):
    HELP = """\
## Forecast
The expected changes the highlighted move brings (what a bot would weigh), and
the chance of war and of a deal within the next turns, and the
expected tension at the end of that window, from 1,000 rollouts of the rest of the game with
the bots playing everyone else. The figures in brackets are 95 % intervals.
"""

    def compose(self) -> ComposeResult:
        yield Static(id="detail")
        yield Static(id="odds")

    def _show(self, game: Game, option: str | None, odds: Text) -> None:
        self.query_one("#detail", Static).update(self._detail(game, option))
        self.query_one("#odds", Static).update(odds)

    def waiting(self, game: Game, option: str | None) -> None:
        self._show(game, option, Text("forecasting…", style="dim italic"))

    def result(self, game: Game, option: str | None, f: Forecast) -> None:
        line = Text()
        line.append(f"war {f.war:.1%}", style="bold red")
        line.append(f" ({f.war_ci[0]:.1%}–{f.war_ci[1]:.1%})  ".replace("%–", "–"))
        line.append(f"deal {f.deal:.1%}", style="bold green")
        line.append(f" ({f.deal_ci[0]:.1%}–{f.deal_ci[1]:.1%})\n".replace("%–", "–"))
        line.append(f"tension {f.tension:.0f} ({f.tension_ci[0]:.0f}–{f.tension_ci[1]:.0f})")
        line.append(f" in {f.turns} turns · {f.rollouts:,} rollouts", style="dim")
        self._show(game, option, line)

    def unavailable(self, game: Game, option: str | None, why: str) -> None:
        self._show(game, option, Text(f"not open now: {why}", style="yellow"))

    @staticmethod
    def _detail(game: Game, option: str | None) -> Text:
        if option is None:
            return Text("Pass: no move this turn.", style="italic")
        rules = game.rules
        i = rules.option_index[option]
        o, lag = rules.options[i], max((e.lag for e in rules.effects[i]), default=0)
        text = Text("expected: ", style="dim")
        text.append(expected(game, i))
        if o.prepare:
            text.append(f" · ready in {o.prepare} turns", style="dim")
        if lag:
            text.append(f" · effects after {lag} turns", style="dim")
        return text
