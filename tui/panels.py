"""The panels of the board. Each shows part of a `Game` handed down by the board (attributes
down) and reports what the player does with messages (messages up)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.option_list import Option

from sim.format.words import plural
from sim.play import narrative
from sim.play.forecast import Forecast, differences
from sim.play.game import Game, Sight
from sim.play.narrative import describe, labels

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


def change(x: float) -> str:
    """A change to one decimal with a real minus sign ("−4.8", "+2.0"), or "" when that is 0.0."""
    n = round(x, 1)
    return f"{n:+.1f}".replace("-", "−") if n else ""


def var_label(game: Game, name: str) -> str:
    return narrative.var_label(game.scenario, name)


@dataclass(frozen=True)
class Rest:
    level: int
    label: str


AT_REST = Rest(0, "at rest")  # drawn when the ladder has no rung 0


class LadderPanel(Static):
    """The rungs from the top, each actor marked at its rung, this turn's moves starred."""

    HELP = """\
## The ladder
Rungs from the top (war) to the bottom (de-escalation), with the named thresholds.
Each actor is marked at the rung it stands on now (at rest, 0, before it climbs or once it has
cooled down); a `*` marks an actor that moved this turn. Both as seen from the view on screen:
a move not attributed to its actor moves it only on the views of those who know.
Positions cool down towards 0 a little each turn when nobody climbs.
"""

    def show(self, game: Game, sight: Sight) -> None:
        self.game, self.position = game, sight.position
        turn = game.engine.turn
        self.moved = {ev["actor"] for ev in sight.events if ev["kind"] == "move" and ev["turn"] == turn}
        self.refresh(layout=True)

    def render(self) -> Text:
        game = getattr(self, "game", None)
        if game is None:
            return Text("")
        ladder = game.scenario.ladder
        rungs = list(ladder.rungs)
        if all(r.level for r in rungs):  # where actors stand before they climb or once they cool down
            rungs.append(AT_REST)
        levels = sorted({r.level for r in rungs})
        here: dict[int, list[str]] = {}
        for a, actor in enumerate(game.rules.actors):
            pos = float(self.position[a])
            here.setdefault(min(levels, key=lambda lv: (abs(lv - pos), -lv)), []).append(actor)
        rungs = self._fit(sorted(rungs, key=lambda r: -r.level), here)
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
Where the tension is hidden from the view on screen, the gauge is what that actor believes and the
history is left out.
"""

    def compose(self) -> ComposeResult:
        yield Gauge(id="gauge")
        yield History(id="tension-history")

    def show(self, game: Game, sight: Sight) -> None:
        rules, st = game.rules, game.engine.state
        tension = float(sight.vars[rules.tension])
        var = game.scenario.variables[rules.var_names[rules.tension]]
        history = []
        if sight.seen(rules.tension).how == "exact":  # the true history would tell what the view hides
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


class ActorsPanel(VerticalScroll):
    HELP = """\
## Actors
Each actor's rung (its position on the ladder) and the variables it owns, with the change
since the turn began; variables that changed come first. Then the world's variables, which no
actor owns, by the group their name begins with (`talks`: talks.open, talks.progress...; the
tension is the gauge above). Scroll when they do not all fit.
On an actor's view, what is hidden from it reads as it sees it: `?` a variable private to its
owner, `≈52±5` one seen with an error (of that standard deviation), `50 (3t old)` one seen
3 turns late; the others' rungs are those it has seen.
"""

    def compose(self) -> ComposeResult:
        yield Static(id="actors-text")

    def show(self, game: Game, sight: Sight) -> None:
        self.game, self.sight = game, sight
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        """Each actor on a line of its own, its variables wrapped at whole "name value" pairs."""
        game = getattr(self, "game", None)
        if game is None:
            return
        rules, sight = game.rules, self.sight
        width = max(self.scrollable_content_region.width, 20)
        owned: dict[str | None, list[str]] = {}
        for name, var in game.scenario.variables.items():
            if rules.var_index[name] != rules.tension:
                owned.setdefault(var.owner, []).append(name)
        out = Text(no_wrap=True, overflow="ellipsis")
        heads = []
        for a, actor in enumerate(rules.actors):
            head = Text(f"{actor:<6}", style=actor_style(game, actor))
            head.append(f"{round(sight.position[a], 1) + 0.0:>4.1f}".replace("-", "−"), style="")  # + 0.0: no "-0.0"
            heads.append((head, owned.get(actor, [])))
        world: dict[str, list[str]] = {}  # the world's variables by the group their name begins with: talks.open
        for name in owned.get(None, []):
            world.setdefault(name.split(".", 1)[0] if "." in name else "world", []).append(name)
        heads += [(Text(f"{group:<6}", style="bold"), names) for group, names in world.items()]
        for n, (line, names) in enumerate(heads):
            if n:
                out.append("\n")
            # the change since the turn began, of what the view sees exactly (a hidden variable's would tell the truth)
            changes = {v: sight.vars[i] - game.before[i] if sight.seen(i).how == "exact" else 0.0
                       for v, i in ((v, rules.var_index[v]) for v in names)}
            for name in sorted(names, key=lambda v: not signed(changes[v])):  # what moved first
                short = name.split(".", 1)[-1]  # its actor's or its group's name is the line's head
                pair = Text(f" {short} {as_seen(sight, rules.var_index[name])}")
                if signed(changes[name]):
                    pair.append(signed(changes[name]), style="green" if changes[name] > 0 else "red")
                if line.cell_len + pair.cell_len > width:
                    out.append_text(line)
                    out.append("\n")
                    line = Text("     ")
                line.append_text(pair)
            out.append_text(line)
        self.query_one("#actors-text", Static).update(out)


def as_seen(sight: Sight, v: int) -> str:
    """A variable's value as the view on screen sees it: "50", "?" (private to its owner),
    "≈52±5" (seen with an error of that standard deviation), "50 (3t old)" (seen 3 turns late)."""
    seen, value = sight.seen(v), sight.vars[v]
    if seen.how == "private":
        return "?"
    if seen.how == "noisy":
        return f"≈{value:.0f}±{seen.amount:g}"
    if seen.how == "late":
        return f"{value:.0f} ({seen.amount:g}t old)"
    return f"{value:.0f}"


class NewsFeed(OptionList):
    """Every event the view on screen saw, as a dated line; Enter opens the event with its source quote."""

    HELP = """\
## News
Every event as a dated line: moves, their effects as they land, proposals and answers,
vetoes, failed tests, preparations seen, thresholds and red lines crossed. Only what the view on
screen saw: a covert preparation is news to others only once they detect it.
Red lines and thresholds crossed and proposals decided stand out (and are announced); an offer
you left unanswered is said to have lapsed.
Press **Enter** on a line to read the source the move or event comes from.
At each of your decisions the lines above the news sum up what happened since your last move:
the others' moves, what landed, what changed most. **x** hides them until your next decision.
"""

    class Opened(Message):
        def __init__(self, event: dict) -> None:
            self.event = event
            super().__init__()

    # The news lines that stand out (the board announces them too), by kind
    STANDOUT = {
        "red_line": "bold #ffffff on #870000",
        "threshold": "bold #000000 on #d7af00",
        "resolved": "bold #000000 on #87afd7",
        "lapsed": "bold #000000 on #d7af00",
        "outcome": "bold",
    }

    def show(self, game: Game, sight: Sight, switched: bool = False) -> list[tuple[str, str, str]]:
        """Add the events of `sight` not shown yet; the announcements among them, (title, text,
        severity), to be told aloud. None when the feed starts again: stepping back is not news,
        nor is another view asked for (`switched`), nor a view that saw other events than those
        shown (a hand-over in hot seat: the summary above the news tells the next player)."""
        events = sight.events
        names = labels(game.rules)
        shown = getattr(self, "_events", [])
        restarted = switched or events[: len(shown)] != shown
        if restarted:
            self.clear_options()
            shown = []
        announced = []
        for index, ev in enumerate(events[len(shown):], len(shown)):
            said = [(ev["kind"], ev["actor"], describe(ev, names))]
            said += [("lapsed", who, narrative.lapse_line(game.rules, ev)) for who in narrative.lapsed(ev, game.setup.humans)]
            for n, (kind, actor, text) in enumerate(said):
                if text is None:
                    continue
                line = Text(no_wrap=False)
                line.append(game.rules.date(ev["turn"]).strftime("%d %b "), style="dim")
                if actor:
                    line.append(f"{actor} ", style=actor_style(game, actor))
                line.append(text, style=self.STANDOUT.get(kind, ""))
                self.add_option(Option(line, id=f"ev{index}" + (f"-{n}" if n else "")))
                title = headline(game, kind, ev, actor)
                if title is not None:
                    announced.append((title, text, "information" if kind == "resolved" else "warning"))
        self._events = events
        if self.option_count:
            self.highlighted = self.option_count - 1
            self.scroll_end(animate=False)
            # and again once laid out: the feed may have shrunk meanwhile (the offer banner above
            # the moves), which left the newest line's last wrapped lines below the fold
            self.call_after_refresh(self.scroll_end, animate=False)
        return [] if restarted else announced

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
        self.post_message(self.Opened(self._events[int(message.option.id[2:].split("-")[0])]))


class SinceSummary(Static):
    """At each decision, the few lines a player needs first: what happened since their last move
    (x hides it until the next decision)."""

    def show(self, lines: list[str]) -> None:
        self.display = bool(lines)
        text = Text(no_wrap=True, overflow="ellipsis")
        for n, line in enumerate(lines):
            head, _, rest = line.partition(": ")
            text.append(("\n" if n else "") + head + ": ", style="bold")
            text.append(rest)
        self.update(text)


def headline(game: Game, kind: str, ev: dict, actor: str | None) -> str | None:
    """The title of an announcement, None for a news line that is not announced."""
    if kind == "red_line":
        crosser = game.rules.options[game.rules.option_index[ev["by"]]].actor
        return f"{crosser} crossed {actor}'s red line"
    if kind == "threshold":
        return f"Threshold crossed by {actor}"
    if kind == "resolved":
        verdict = "passed" if ev["passed"] else "refused" if ev["why"] == "refused" else "vetoed"
        return f"{narrative.topic_label(game.rules, ev['topic'])} {verdict}"
    if kind == "lapsed":
        return f"{actor}: the offer lapsed"
    return None


class OfferBanner(Static):
    """The proposal waiting longest for the player's answer: who offers what, what accepting
    changes (as the detail pane names it: actor and variable), how long is left, and the keys
    that answer it. Further offers are counted; each comes up once the first is answered."""

    def show(self, game: Game, actor: str | None) -> None:
        offers = game.offers(actor) if actor is not None else []
        self.display = bool(offers)
        if offers:
            self.update(offer_text(game, offers[0], len(offers) - 1))


BANNER_CHANGES = 3  # what accepting changes most; the detail pane has them all (Accept is highlighted)


def offer_text(game: Game, offer, more: int = 0) -> Text:
    """The banner: who proposes what and how long is left, the keys, then what accepting changes
    most (last: at 80x24 a long list is what the banner's height cuts, never the keys)."""
    rules = game.rules
    label = rules.options[rules.option_index[offer.option]].label
    text = Text()
    text.append(offer.proposer, style=actor_style(game, offer.proposer))
    text.append(f" proposes {narrative.topic_label(rules, offer.topic)}: {label}. ", style="bold")
    text.append("Last turn to answer." if offer.turns_left <= 1 else f"{offer.turns_left} turns left to answer.")
    if more:
        text.append(f" ({more} more offer{'s' * (more > 1)} after this.)")
    text.append("\n")
    text.append(" a ", style="reverse bold green")
    text.append(" Accept   ")
    text.append(" r ", style="reverse bold red")
    text.append(" Refuse   ")
    text.append("silence refuses", style="dim")
    changes = expected_changes(game, rules.option_index[offer.answers[0]])
    text.append("\nIf you accept: ", style="bold")
    for n, (name, delta, value, _) in enumerate(changes[:BANNER_CHANGES]):
        text.append(", " if n else "")
        text.append(f"{var_label(game, name)} ")
        if delta is None:
            text.append(f"set to {value:g}")
        else:
            text.append(change(delta), style="green" if delta > 0 else "red")
    if len(changes) > BANNER_CHANGES:
        text.append(f" and {len(changes) - BANNER_CHANGES} more")
    if not changes:
        text.append("no expected changes")
    return text


class MovePicker(DataTable):
    """The waiting person's moves: open ones first, then those closed now, dimmed, each with why."""

    HELP = """\
## Your move
Every move of the actor whose turn it is, by its full name, and its rung: the moves open now
first (answers to a proposal first of all: they lapse), then passing, then the moves not open
now, dimmed, each with the reason. On a wide terminal, their kind, turns of preparation and lag
of effects too. The pane below explains the highlighted move; the forecast follows it.

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
    WIDE = 60  # from this width on, kind, preparation and lag have columns of their own
    # (title, width) of the columns after the move's name; the narrow picker keeps the rung only
    COLUMNS = (("rung", 4), ("kind", 13), ("prep", 4), ("lag", 3))

    BINDINGS = [
        Binding("enter", "select_cursor", "Take move", id="picker.take"),
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
        self.game: Game | None = None
        self.reasons: dict[str, str | None] = {}

    def show(self, game: Game, actor: str) -> None:
        """The actor's moves, the cursor on the first."""
        reasons = dict(game.engine.why_not(actor))
        answers = [o for offer in game.offers(actor) for o in offer.answers if o in reasons]
        ordered = answers + [o for o in reasons if o not in answers]
        self.game = game
        self.reasons = {o: reasons[o] for o in sorted(ordered, key=lambda o: reasons[o] is not None)}  # stable
        self._fill(0)

    def clear(self, columns: bool = False):
        self.game = None
        return super().clear(columns)

    def on_resize(self) -> None:
        if self.game is not None:  # names wrap at the new width
            self._fill(self.cursor_row)

    def _fill(self, row: int) -> None:
        """The rows at the present width: each move's full name wraps in its column."""
        width = self.scrollable_content_region.width or self.WIDE
        columns = self.COLUMNS if width >= self.WIDE else self.COLUMNS[:1]
        self.show_header = width >= self.WIDE  # narrow, a line more for the moves: a name and its rung need no titles
        name_width = max(width - sum(w + 2 for _, w in columns) - 2, 16)  # 2: each cell's padding
        super().clear(columns=True)
        self.add_column("move", width=name_width, key="move")
        for title, w in columns:
            self.add_column(title, width=w, key=title)
        open_ = [o for o, why in self.reasons.items() if why is None]
        for opt_id in open_:
            self._add_move(opt_id, len(columns))
        self.add_row(Text("Pass: no move this turn"), *[""] * len(columns), key=self.PASS)  # the last open move
        for opt_id in [o for o, why in self.reasons.items() if why is not None]:
            self._add_move(opt_id, len(columns))
        self.move_cursor(row=min(row, self.row_count - 1))

    def _add_move(self, opt_id: str, columns: int) -> None:
        """A move's row: its full name (wrapped), and for a closed move, dimmed, the reason."""
        rules, why = self.game.rules, self.reasons[opt_id]
        i = rules.option_index[opt_id]
        o = rules.options[i]
        style = "dim" if why else ""
        name = Text(o.label, style=style)
        if why:
            name.append(f"\nnot open: {why}", style="dim italic")
        cells = [f"{int(rules.level[i]):+d}", o.category, str(o.prepare or ""), str(lag(self.game, i) or "")]
        self.add_row(name, *(Text(c, style=style) for c in cells[:columns]), key=opt_id, height=None)

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


def lag(game: Game, i: int) -> int:
    """Turns the last of a move's effects waits after the move happens."""
    return max((e.lag for e in game.rules.effects[i]), default=0)


def expected_changes(game: Game, i: int) -> list[tuple[str, float | None, float | None, float]]:
    """What a move is expected to change, as a doctrine weighs it: (variable, expected change in
    its units or None, the value it is set to or None, chance of that setting); the changes first,
    largest first. A sanction counts at the sanctions' present scale (enforcement now)."""
    rules, st = game.rules, game.engine.state
    total: dict[str, float] = {}
    sets = []
    for effect, odds in rules.expected_effects(i):
        name = rules.var_names[effect.var]
        if effect.delta is None:
            sets.append((name, None, effect.set, odds))
            continue
        scale = float(st.sanction_scale(game.engine.turn)[0]) if effect.sanction else 1.0
        total[name] = total.get(name, 0.0) + effect.delta * odds * scale
    deltas = [(name, delta, None, 1.0) for name, delta in sorted(total.items(), key=lambda kv: -abs(kv[1]))
              if change(delta)]
    return deltas + sets


class MoveDetail(VerticalScroll):
    """The highlighted move explained: what it is, where it comes from, when and how surely it
    works, and what it is expected to change. Scrolls when it is longer than the pane."""

    HELP = """\
## The move
The highlighted move: its description, its source with a quote, turns of preparation, lag and
duration, its chance of success, and the changes it is expected to bring, by actor and variable
in the variable's units (what a bot weighs: a change that may fail counts by its chance; a
sanction by how strictly sanctions are enforced now).
"""

    def compose(self) -> ComposeResult:
        yield Static(id="detail-text")

    def show(self, game: Game, option: str | None, why: str | None) -> None:
        self.option = option
        self.query_one("#detail-text", Static).update(explain(game, option, why))
        self.scroll_home(animate=False)


def effects_when(game: Game, i: int) -> str:
    lags = {e.lag for e in game.rules.effects[i]} or {0}
    if lags == {0}:
        return "effects at once"
    return f"effects after {'' if len(lags) == 1 else 'up to '}{plural(max(lags), 'turn')}"


def explain(game: Game, option: str | None, why: str | None) -> Text:
    """The text of the detail pane for `option` (None: passing); `why` it is closed, if it is."""
    if option is None:
        return Text.assemble(("Pass: no move this turn.", "bold"), "\nThe others move; positions cool toward 0. "
                             "The forecast compares every move with passing.")
    rules = game.rules
    i = rules.option_index[option]
    o = rules.options[i]
    text = Text(o.label, style="bold")
    if why:
        text.append(f"\nNot open now: {why}", style="yellow")
    facts = [f"rung {int(rules.level[i]):+d} {o.category}",
             f"prepare {plural(o.prepare, 'turn')}" if o.prepare else "no preparation",
             effects_when(game, i),
             f"lasts {plural(o.duration, 'turn')}" if o.duration else None,
             "success decided by the answers" if o.proposes else f"success {o.success:.0%}"]
    text.append("\n" + " · ".join(f for f in facts if f), style="dim")
    if o.description:
        text.append(f"\n{o.description}")
    if o.ends_game:
        outcome = next(x for x in rules.outcomes if x.id == o.ends_game)
        text.append(f"\nIf it succeeds the game ends: {outcome.label}.", style="bold red")
    changes = expected_changes(game, i)
    if changes or not o.ends_game:
        text.append("\nExpected changes:" if changes else "\nNo expected changes.", style="bold")
    for name, delta, value, odds in changes:
        text.append(f"\n  {var_label(game, name)} ")
        if delta is None:
            text.append(f"set to {value:g}" + (f" ({odds:.0%} chance)" if odds < 1 else ""))
        else:
            text.append(change(delta), style="green" if delta > 0 else "red")
    ref = o.source
    source = game.scenario.sources.get(ref.ref)
    text.append(f"\nSource: {source.title if source else ref.ref}", style="dim")
    text.append(f"\n“{ref.quote}”", style="italic")
    return text


class ForecastPanel(Vertical):
    HELP = """\
## Forecast
For the highlighted move, from 1,000 rollouts of the rest of the game with the bots playing
everyone else: the chance of war within the next turns first (what most players weigh first),
then of a deal, and the expected tension at the end of that window. The figures in brackets are
95 % intervals. The last line compares the move with passing: where the intervals overlap the
rollouts cannot tell the two apart, and it says "no clear difference".
"""

    def compose(self) -> ComposeResult:
        yield Static(id="odds")

    def waiting(self) -> None:
        self.query_one("#odds", Static).update(Text("forecasting…", style="dim italic"))

    def result(self, option: str | None, f: Forecast, baseline: Forecast | None) -> None:
        text = Text()
        text.append(f"war {f.war:.1%}", style="bold red")
        text.append(f" ({f.war_ci[0]:.1%}–{f.war_ci[1]:.1%})".replace("%–", "–"))
        text.append(f" in {f.turns} turns\n", style="dim")
        text.append(f"deal {f.deal:.1%}", style="bold green")
        text.append(f" ({f.deal_ci[0]:.1%}–{f.deal_ci[1]:.1%})".replace("%–", "–"))
        text.append(f" · tension {f.tension:.0f} ({f.tension_ci[0]:.0f}–{f.tension_ci[1]:.0f})\n")
        text.append_text(compared(option, f, baseline))
        self.query_one("#odds", Static).update(text)

    def unavailable(self, why: str) -> None:
        self.query_one("#odds", Static).update(Text(f"not open now: {why}", style="yellow"))


def compared(option: str | None, f: Forecast, baseline: Forecast | None) -> Text:
    """The line comparing a move's forecast with passing's."""
    if option is None:
        return Text("passing: what the other moves are compared with", style="dim")
    if baseline is None:
        return Text("vs passing: forecasting…", style="dim italic")
    ways = differences(f, baseline)
    if not any(ways.values()):
        return Text("vs passing: no clear difference", style="bold")
    text = Text("vs passing: ")
    said = [f"{name} {'higher' if way > 0 else 'lower'}" for name, way in ways.items() if way]
    text.append(", ".join(said), style="bold")
    return text
