"""The after-action report: a game in Markdown, to teach from, set against bot-only games of its scenario.

The report is a view of the game's event log (the timeline tells events as the news feed does):
the players' decisions with the forecast the board showed when each was taken and what followed,
the turning points (thresholds, red lines, the largest rises in tension), charts of the crisis on
labelled scales, and a batch of bot-only games of the same scenario and seed, every actor played
by the doctrine the game gave it (a human's side by the doctrine it would have had as a bot), so
that the game's outcome, peak rungs and length can be placed in their distribution. A game left
unfinished is reported up to where it was left, without the comparison. In a scenario that hides
moves, "what each side knew" gives the turn each actor learned of each hidden move. The report is
the umpire's, or one actor's (`view`): the events it saw and the values it believed.

It is read as plain text and on the end screen at 80 columns: every line fits in WIDTH (a table
that would not is written as a list), and text wraps at spaces (a date is never cut).
"""
from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from ..engine.knowledge import seen_events
from ..engine.state import State
from ..engine.stats import wilson
from ..engine.stepping import Engine
from ..format.words import plural
from .forecast import Forecast
from .game import Move
from .narrative import believed, describe, labels, refusers, sources, var_label, with_answers

# What the timeline tells; effects landing and ending are left to the news feed.
TIMELINE = ("inject", "window_open", "window_close", "chance", "detected", "prepare", "move", "proposal", "resolved", "red_line", "threshold", "outcome")
QUANTILES = (0.1, 0.5, 0.9)
WIDTH = 80  # the report's lines, as a terminal shows them
TABLE_WIDTH = 64  # a wider table is written as a list: the end screen pads and rules its cells
TURNING_POINTS = 3  # the largest rises in tension the report names
AFTER = 4  # turns after a decision its "what followed" covers
CHART_ROWS = 8
CHART_COLUMNS = 60


def debrief(engine: Engine, name: str, humans: Iterable[str], runs: int = 1000, undone: int = 0,
            moves: Sequence[Move] = (), forecasts: Mapping[int, Forecast] | None = None, view: str | None = None) -> str:
    """The report on world 0 of an engine, finished or not (a game left before its end is
    reported up to its last turn, without the bot-only games: they would be set against an
    outcome it did not have); `runs` bot-only games for the comparison; `undone`: how many moves
    the players took back (the timeline has only the moves kept); `moves`: the players' moves
    kept, and `forecasts`: the forecast shown for each when it was taken, by its index; `view`:
    the report as that actor saw the game (default: the umpire's, everything)."""
    events = engine.log.for_world(0)
    knew = _what_each_side_knew(engine, events, view)  # from the whole log: it tells who never learned
    if view is not None:
        events = seen_events(events, view, engine.rules)
    events = with_answers(events)
    humans = set(humans)
    bots = None
    if engine.finished:
        bots = Engine(engine.rules, seed=engine.seed, runs=runs, doctrines=engine.doctrine_names, record=False).run().state
    sections = [
        _heading(engine, name, view),
        _players(engine, humans, undone),
        _decisions(engine, events, moves, forecasts or {}),
        _turning_points(engine, events),
        _charts(engine),
        _timeline(engine, events, humans),
        _thresholds(engine, events, bots),
        _red_lines(engine, events, bots),
        knew,
        _outcome(engine, events, view),
        _comparison(engine, bots),
        _sources(engine, events),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def played(engine: Engine) -> int:
    """The last turn of world 0 played (its end, or the turn under way when it was left)."""
    st = engine.state
    return int(st.end_turn[0]) if engine.finished else engine.turn


def _heading(engine: Engine, name: str, view: str | None) -> str:
    rules, st = engine.rules, engine.state
    end = played(engine)
    head = (f"Scenario `{name}`, seed {engine.seed}, run {int(st.run[0])}. "
            f"Played from {rules.date(0)} to the week of {rules.date(end)}: "
            f"{end + 1} of {plural(rules.horizon, 'turn')} of {plural(rules.scenario.clock.turn_days, 'day')}.")
    if not engine.finished:
        head += (f" **Unfinished**: the game was left at turn {end + 1} ({rules.date(end)}); this report tells it "
                 "up to there, with no outcome and no comparison with bot-only games.")
    if view is not None:
        head += (f" **As {view} saw it**: the timeline, thresholds, red lines, hidden moves and final values are "
                 f"what {view} saw and believed; the tension and rungs (turning points, charts) and the "
                 "comparison with bot-only games are the umpire's.")
    return f"# After-action report: {rules.scenario.title}\n\n" + _wrap(head)


def _players(engine: Engine, humans: set[str], undone: int = 0) -> str:
    rules = engine.rules
    rows = []
    for actor, spec in rules.scenario.actors.items():
        doctrine = engine.doctrine_names[actor]
        if actor in humans:
            rows.append((actor, spec.name, "human", f"({doctrine} in the bot-only games)"))
        else:
            rows.append((actor, spec.name, "bot", doctrine))
    text = "## Players\n\n" + _table(("Actor", "Name", "Played by", "Doctrine"), rows)
    if undone:
        text += f"\n\n{plural(undone, 'move')} undone: taken back by the players and played again."
    return text


def _decisions(engine: Engine, events: list[dict], moves: Sequence[Move], forecasts: Mapping[int, Forecast]) -> str:
    """The players' moves, each with the forecast shown when it was taken and what followed;
    their passes counted."""
    if not moves:
        return ""
    rules = engine.rules
    names = labels(rules)
    items, passes = [], {}
    for index, move in enumerate(moves):
        if move.option is None:
            passes[move.actor] = passes.get(move.actor, 0) + 1
            continue
        i = rules.option_index[move.option]
        rung = rules.rung[rules.options[i].rung]
        text = (f"**{rules.date(move.turn)}, turn {move.turn + 1}: {move.actor} chose {names[move.option]}** "
                f"(rung {rung.level} {rung.label}). ")
        f = forecasts.get(index)
        if f is None:
            text += "No forecast was on the board when it was taken. "
        else:
            text += (f"Forecast then, over {plural(f.turns, 'turn')} ({f.rollouts:,} rollouts): "
                     f"war {f.war:.1%} ({f.war_ci[0]:.1%}–{f.war_ci[1]:.1%}), deal {f.deal:.1%}, "
                     f"tension {f.tension:.0f} ({f.tension_ci[0]:.0f}–{f.tension_ci[1]:.0f}). ")
        text += "What followed: " + _followed(engine, events, move) + "."
        items.append(_item(text))
    said = ", ".join(f"{actor} {plural(n, 'time')}" for actor, n in passes.items())
    tail = f"\n\n{_wrap(f'Passed: {said}.')}" if said else ""
    return "## The players' decisions\n\n" + ("\n".join(items) or "No move but passing.") + tail


def _followed(engine: Engine, events: list[dict], move: Move) -> str:
    """What came of a player's move: its result, then the turning points of the next AFTER turns,
    and the tension then. Only what the log has after the move (what came before it in its turn
    did not follow from it)."""
    rules = engine.rules
    names = labels(rules)
    start = next((k for k, ev in enumerate(events) if ev["turn"] == move.turn and ev["actor"] == move.actor
                  and ev["kind"] in ("move", "prepare", "proposal", "answer")), len(events))
    said = []
    for ev in events[start:]:
        if ev["turn"] >= move.turn + AFTER:
            break
        if ev["actor"] == move.actor and ev["subject"] == move.option and ev["kind"] in ("move", "prepare", "resolved"):
            said.append(_result(ev, rules) or "proposed")
        elif ev["kind"] in ("threshold", "red_line", "resolved", "outcome"):
            who = f"{ev['actor']}: " if ev["actor"] else ""
            said.append(f"{who}{describe(ev, names)} ({rules.date(ev['turn'])})")
    history = engine.state.tension_history[:, 0]
    later = min(move.turn + AFTER, played(engine))
    if later > move.turn and not math.isnan(history[later]):
        said.append(f"tension {history[move.turn]:.1f} at the end of the turn, {history[later]:.1f} "
                    f"at the end of turn {later + 1}")
    return "; ".join(said) or "nothing of note"


def _turning_points(engine: Engine, events: list[dict]) -> str:
    """Thresholds and red lines crossed and the largest rises in tension, in the order they came."""
    rules = engine.rules
    names = labels(rules)
    points = []
    for ev in events:
        if ev["kind"] == "threshold":
            points.append((ev["turn"], f"{ev['actor']} crossed the threshold {names[ev['subject']]}"))
        elif ev["kind"] == "red_line":
            by = rules.options[rules.option_index[ev["by"]]]
            points.append((ev["turn"], f"{by.actor} crossed a red line drawn by {ev['actor']}: "
                                       f"{names[ev['subject']]} ({by.label})"))
    history = engine.state.tension_history[: played(engine) + 1, 0].astype(float)
    rises = np.diff(np.concatenate(([rules.initial[rules.tension]], history)))
    for turn in np.argsort(-np.nan_to_num(rises, nan=0.0), kind="stable")[:TURNING_POINTS]:
        if not rises[turn] > 0:
            break
        then = [f"{ev['actor'] + ' ' if ev['actor'] else ''}{names[ev['subject']]}" for ev in events
                if ev["turn"] == turn and ev["kind"] in ("move", "inject", "chance", "resolved") and ev["subject"] in names]
        cause = f": {', '.join(then)}" if then else ""
        points.append((int(turn), f"tension rose {rises[turn]:.1f} to {history[turn]:.1f}{cause}"))
    if not points:
        return "## Turning points\n\nNo threshold or red line was crossed and the tension never rose."
    points.sort(key=lambda p: p[0])
    return "## Turning points\n\n" + "\n".join(_item(f"**{rules.date(t)}** (turn {t + 1}): {text}.") for t, text in points)


def _charts(engine: Engine) -> str:
    rules, st = engine.rules, engine.state
    end = played(engine)
    var = rules.scenario.variables[rules.var_names[rules.tension]]
    levels = [r.level for r in rules.rungs] + [0]
    tension = _chart(f"{var_label(rules.scenario, rules.var_names[rules.tension])} at the end of each turn "
                     f"(scale {var.min:g} to {var.max:g})", st.tension_history[: end + 1, 0], var.min, var.max, rules)
    rungs = _chart("The highest rung any actor stood on at the end of each turn (ladder levels)",
                   st.position_history[: end + 1, 0].max(axis=1), min(levels), max(levels), rules)
    return "## Charts\n\n" + tension + "\n\n" + rungs


def _chart(title: str, values: np.ndarray, low: float, high: float, rules) -> str:
    """A bar chart in text: one column a turn (several turns to a column when there are more
    than CHART_COLUMNS: their highest), the scale on the left, turns and dates below."""
    values = np.asarray(values, dtype=float)
    per = math.ceil(len(values) / CHART_COLUMNS)  # turns to a column
    wide = max(CHART_COLUMNS // len(values), 1)  # columns to a turn, when there are few turns
    columns = []
    for k in range(0, len(values), per):
        chunk = values[k:k + per]
        columns += [np.nan if np.isnan(chunk).all() else float(np.nanmax(chunk))] * wide
    span = (high - low) or 1.0
    bars = " ▁▂▃▄▅▆▇█"
    rows = []
    for r in range(CHART_ROWS, 0, -1):  # each row an eighth of the scale, from the top
        line = ""
        for x in columns:
            fill = 0.0 if np.isnan(x) else (min(max(x, low), high) - low) / span * CHART_ROWS - (r - 1)
            line += bars[int(round(min(max(fill, 0.0), 1.0) * 8))]
        mark = f"{low + span * r / CHART_ROWS:g}" if r in (CHART_ROWS, CHART_ROWS // 2) else ""
        rows.append(f"{mark:>6} ┤{line}".rstrip())
    rows.append(f"{low:>6g} ┼" + "─" * len(columns))
    last = len(values)
    rows.append("        " + "turn 1".ljust(len(columns) - len(f"turn {last}")) + f"turn {last}")
    rows.append("        " + f"{rules.date(0)}".ljust(len(columns) - 10) + f"{rules.date(last - 1)}")
    if per > 1:
        rows.append(f"        (each column {per} turns: their highest)")
    return _wrap(title) + "\n\n```\n" + "\n".join(rows) + "\n```"


def _timeline(engine: Engine, events: list[dict], humans: set[str]) -> str:
    """Every event of note, dated, each move with its rung, result and source quoted; the
    players' moves marked."""
    rules = engine.rules
    names, refs = labels(rules), sources(rules)
    items = []
    for ev in events:
        text = describe(ev, names) if ev["kind"] in TIMELINE else None
        if text is None:
            continue
        i = rules.option_index.get(ev["subject"])
        actor = ev["actor"] or ""
        if actor in humans and ev["kind"] in ("move", "prepare", "proposal"):
            actor += " (player)"
        line = f"**{rules.date(ev['turn'])}** {actor}{': ' if actor else ''}{text}"
        if i is not None and ev["kind"] in ("move", "prepare", "proposal", "resolved"):
            rung = rules.rung[rules.options[i].rung]
            line += f" (rung {rung.level} {rung.label})"
        result = "" if ev["kind"] == "resolved" and ev["passed"] else _result(ev, rules)  # "PASSED" said it
        line += f"; {result}." if result else "."
        src = refs.get(ev["subject"])
        if src is not None and ev["kind"] != "resolved":  # the proposal quoted its source already
            title = rules.scenario.sources[src.ref].title if src.ref in rules.scenario.sources else src.ref
            line += f" Source: {title}: “{src.quote}”"
        items.append(_item(line))
    return "## Timeline\n\n" + "\n".join(items)


def _result(ev: dict, rules) -> str:
    if ev["kind"] == "move":
        return "succeeded" if ev["success"] else "failed"
    if ev["kind"] == "resolved":
        who = refusers(ev)
        if who is not None:
            return f"{'refused' if ev['why'] == 'refused' else 'vetoed'} by {who}"
        return "passed" if ev["passed"] else ev["why"]
    if ev["kind"] == "prepare":
        return f"ready {rules.date(ev['ready'])}"
    return ""


def _thresholds(engine: Engine, events: list[dict], bots: State | None) -> str:
    rules = engine.rules
    names = labels(rules)
    crossed: dict[str, tuple[str, str]] = {}
    last_move: dict[str, str] = {}  # the move that took an actor over a threshold is logged just before it
    for ev in events:
        if ev["kind"] == "move":
            last_move[ev["actor"]] = names[ev["subject"]]
        elif ev["kind"] == "threshold":
            crossed[ev["subject"]] = (rules.date(ev["turn"]).isoformat(), f"{ev['actor']}: {last_move[ev['actor']]}")
    rows = []
    for j, t in enumerate(rules.scenario.ladder.thresholds):
        date, by = crossed.get(t.id, ("not crossed", ""))
        rows.append((t.label, t.level, date, by) + (() if bots is None else
                                                     (_share((bots.threshold_turn[:, j] >= 0).sum(), bots.size),)))
    if not rows:
        return "## Thresholds\n\nThe scenario's ladder names no thresholds."
    return "## Thresholds\n\n" + _table(("Threshold", "Level", "Crossed", "By", "Bot-only games crossing"), rows)


def _red_lines(engine: Engine, events: list[dict], bots: State | None) -> str:
    rules = engine.rules
    names = labels(rules)
    crossed = {ev["subject"]: ev for ev in events if ev["kind"] == "red_line"}
    rows = []
    for j, line in enumerate(rules.red_lines):
        ev = crossed.get(line.id)
        date = rules.date(ev["turn"]).isoformat() if ev else "not crossed"
        by = f"{rules.options[rules.option_index[ev['by']]].actor}: {names[ev['by']]}" if ev else ""
        rows.append((line.label, line.owner, date, by) + (() if bots is None else
                                                          (_share(bots.red_line[:, j].sum(), bots.size),)))
    if not rows:
        return "## Red lines\n\nThe scenario declares no red lines."
    return "## Red lines\n\n" + _table(("Red line", "Drawn by", "Crossed", "By", "Bot-only games crossing"), rows)


def _what_each_side_knew(engine: Engine, events: list[dict], view: str | None) -> str:
    """Each hidden move of the game (a covert preparation, a move not attributed to its actor)
    and the turn each actor learned of it: its own actor at once, a detector when it detected the
    preparation, the others when the move happened if they saw it, else never. In `view`'s
    report, the hidden moves that actor learned of and when. Nothing when the scenario hides no move."""
    rules = engine.rules
    known = rules.knowledge
    if not known.hides_moves:
        return ""
    names = labels(rules)
    unknown = "never" if engine.finished else "not yet"
    items = []
    for n, ev in enumerate(events):
        i = rules.option_index.get(ev["subject"])
        if ev["kind"] == "prepare" and not ev["visible"]:
            # the same preparation is detected, and carried out, with the turn it was ready for
            later = [e for e in events[n + 1:] if e["subject"] == ev["subject"] and e["kind"] == "move" and e["turn"] == ev["ready"]]
        elif ev["kind"] == "move" and known.unattributed[i] and i not in known.covert_index:
            later = []  # a covert one is told with its preparation
        else:
            continue
        # its actor at once, a detector when it detected the preparation (the record's `seen_at`),
        # then those who saw the move carried out
        learned = {a: f"turn {t + 1} ({'its own' if a == ev['actor'] else 'detected'})" for a, t in ev["seen_at"].items()}
        for e in later:
            for a in e["seen_by"]:
                learned.setdefault(a, f"turn {e['turn'] + 1} (when it happened)")
        if view is not None and view not in ev["seen_at"]:
            continue  # a hidden preparation the viewer saw only carried out is a move in its timeline, nothing more
        said = "; ".join(f"{a} {learned.get(a, unknown)}" for a in (rules.actors if view is None else [view]))
        items.append(_item(f"**{rules.date(ev['turn'])}** (turn {ev['turn'] + 1}) {ev['actor']}: {describe(ev, names)}. "
                           f"Learned of it: {said}."))
    if view is not None:
        intro = f"The moves hidden from some actors that {view} learned of before they happened, or made itself, and the turn it did."
    else:
        intro = ("The moves hidden from some actors (prepared covertly, or not attributed to their actor), "
                 "and the turn each actor learned of them.")
    return "## What each side knew\n\n" + _wrap(intro) + "\n\n" + ("\n".join(items) or "No move was hidden.")


def _outcome(engine: Engine, events: list[dict], view: str | None) -> str:
    rules, st = engine.rules, engine.state
    values = ["unknown" if x is None else f"{x:.1f}" for x in (st.vars[0] if view is None else believed(engine, view))]
    rows = [(var_label(rules.scenario, v), f"{rules.initial[i]:.1f}", values[i]) for i, v in enumerate(rules.var_names)]
    if not engine.finished:
        return (f"## Where it was left\n\nNo outcome: the game was left at turn {played(engine) + 1}.\n\n"
                + _table(("Variable", "Start", "Then"), rows))
    outcome = rules.outcomes[st.outcome[0]]
    end = int(st.end_turn[0])
    cause = next(ev["cause"] for ev in events if ev["kind"] == "outcome")
    if cause == "miscalculation":
        why = f"war by miscalculation, at tension {st.vars[0, rules.tension]:.0f}"
    elif cause == "horizon":
        why = "the crisis was still unresolved at the scenario's horizon"
    elif cause == "condition":
        why = f"its condition held: `{outcome.when}`"
    else:  # a move that ends the game
        move = rules.options[rules.option_index[cause]]
        why = f"{move.actor}'s move: {move.label}"
    text = f"**{outcome.label}** in the week of {rules.date(end)} (turn {end + 1}): {why}."
    if outcome.description:
        text += f" {outcome.description}"
    return "## Outcome\n\n" + _wrap(text) + "\n\n" + _table(("Variable", "Start", "End"), rows)


def _comparison(engine: Engine, bots: State | None) -> str:
    if bots is None:
        return ""
    rules, st = engine.rules, engine.state
    n = bots.size
    mine = int(st.outcome[0])
    counts = np.bincount(bots.outcome, minlength=len(rules.outcomes))
    rows = []
    for k, o in enumerate(rules.outcomes):
        lo, hi = wilson(int(counts[k]), n)
        rows.append((o.label, int(counts[k]), _share(counts[k], n), f"{lo:.1%}–{hi:.1%}", "this game" if k == mine else ""))
    parts = [
        f"## Against {n:,} bot-only games",
        _wrap(f"The same scenario and seed played {n:,} times by the bots alone, each actor by the doctrine "
              "listed under Players."),
        _wrap(f"This game ended in **{rules.outcomes[mine].label}**, which happened in {rows[mine][2]} of the "
              f"bot-only games (95 % interval {rows[mine][3]})."),
        _table(("Outcome", "Games", "Share", "95 % interval", ""), rows),
        "Peak rung of each actor: this game's against the bot-only games'.",
        _table(
            ("Actor", "This game", "Median", "10th–90th percentile", "Games lower", "Games equal"),
            [(actor, _rung(rules, st.peak[0, a]), *_place(st.peak[0, a], bots.peak[:, a])) for a, actor in enumerate(rules.actors)],
        ),
    ]
    end = int(st.end_turn[0])
    median, spread, lower, equal = _place(end + 1, bots.end_turn + 1)
    parts.append(_wrap(
        f"Length: this game ended on turn {end + 1}; the bot-only games at a median of turn {median} "
        f"(10th–90th percentile {spread}); {lower} of them ended earlier, {equal} on the same turn."
    ))
    return "\n\n".join(parts)


def _sources(engine: Engine, events: list[dict]) -> str:
    s = engine.rules.scenario
    refs = sources(engine.rules)
    cited = sorted({refs[ev["subject"]].ref for ev in events if ev["kind"] in TIMELINE and ev["subject"] in refs})
    lines = []
    for ref in cited:
        src = s.sources[ref]
        about = ", ".join(x for x in (src.author, src.date, src.url) if x)
        lines.append(_item(f"`{ref}`: {src.title}" + (f" ({about})" if about else "")))
    return "## Sources\n\n" + ("\n".join(lines) if lines else "No source is cited by this game's events.")


# --- helpers --------------------------------------------------------------------------------


def _place(value: float, sample: np.ndarray) -> tuple[str, str, str, str]:
    """Median, 10th–90th percentile, share lower and share equal: `value` within `sample`."""
    p10, p50, p90 = np.quantile(sample, QUANTILES, method="inverted_cdf")  # as batch summaries do
    n = len(sample)
    return f"{p50:g}", f"{p10:g}–{p90:g}", _share((sample < value).sum(), n), _share((sample == value).sum(), n)


def _rung(rules, level: float) -> str:
    """A peak position, with the name of the rung at that level if there is one."""
    names = [r.label for r in rules.rungs if r.level == level]
    return f"{level:g} ({names[0]})" if names else f"{level:g}"


def _share(count, n: int) -> str:
    return f"{count / n:.1%}"


def _table(header: tuple, rows: list[tuple]) -> str:
    """A Markdown table, or, when it would be wider than TABLE_WIDTH, a list: each row an item
    led by its first cell, the others named by their column (empty cells left out)."""
    cell = lambda value: str(value).replace("|", "\\|")  # noqa: E731
    rows = [tuple(cell(v) for v in row) for row in rows]
    header = header[: max((len(row) for row in rows), default=len(header))]  # columns some rows lack
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    if max(map(len, lines)) <= TABLE_WIDTH:
        return "\n".join(lines)
    items = []
    for row in rows:
        rest = "; ".join(f"{name.lower()} {value}" if name else value for name, value in zip(header[1:], row[1:]) if value)
        items.append(_item(f"**{row[0]}**" + (f": {rest}" if rest else "")))
    return "\n".join(items)


def _wrap(text: str, indent: str = "") -> str:
    """`text` wrapped to WIDTH at spaces only: a date or a figure is never cut."""
    return "\n".join(textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=" " * len(indent),
                                    break_long_words=False, break_on_hyphens=False))


def _item(text: str) -> str:
    """A list item wrapped to WIDTH, its continuation lines under its text."""
    return _wrap(text, "- ")
