"""The after-action report: a finished game in Markdown, set against bot-only games of its scenario.

The report is a view of the game's event log (the timeline tells events as the news feed does)
plus a batch of bot-only games of the same scenario and seed, every actor played by the doctrine
the game gave it (a human's side by the doctrine it would have had as a bot), so that the game's
outcome, peak rungs and length can be placed in their distribution. Markdown tables read well
as plain text too.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..engine.state import State
from ..engine.stats import wilson
from ..engine.stepping import Engine
from ..format.words import plural
from .narrative import describe, labels, refusers, sources, with_answers

# What the timeline tells; effects landing and ending are left to the news feed.
TIMELINE = ("inject", "window_open", "window_close", "chance", "prepare", "move", "proposal", "resolved", "red_line", "threshold", "outcome")
QUANTILES = (0.1, 0.5, 0.9)


def debrief(engine: Engine, name: str, humans: Iterable[str], runs: int = 1000, undone: int = 0) -> str:
    """The report on world 0 of a finished engine; `runs` bot-only games for the comparison;
    `undone`: how many moves the players took back (the timeline has only the moves kept)."""
    if not engine.finished:
        raise ValueError("the game is not over yet")
    events = with_answers(engine.log.for_world(0))
    bots = Engine(engine.rules, seed=engine.seed, runs=runs, doctrines=engine.doctrine_names, record=False).run()
    sections = [
        _heading(engine, name),
        _players(engine, set(humans), undone),
        _timeline(engine, events),
        _thresholds(engine, events, bots.state),
        _red_lines(engine, events, bots.state),
        _outcome(engine, events),
        _comparison(engine, bots.state),
        _sources(engine, events),
    ]
    return "\n\n".join(sections) + "\n"


def _heading(engine: Engine, name: str) -> str:
    rules, st = engine.rules, engine.state
    end = int(st.end_turn[0])
    return (
        f"# After-action report: {rules.scenario.title}\n\n"
        f"Scenario `{name}`, seed {engine.seed}, run {int(st.run[0])}. "
        f"Played from {rules.date(0)} to the week of {rules.date(end)}: "
        f"{end + 1} of {plural(rules.horizon, 'turn')} of {plural(rules.scenario.clock.turn_days, 'day')}."
    )


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


def _timeline(engine: Engine, events: list[dict]) -> str:
    rules = engine.rules
    names, refs = labels(rules), sources(rules)
    rows = []
    for ev in events:
        text = describe(ev, names) if ev["kind"] in TIMELINE else None
        if text is None:
            continue
        i = rules.option_index.get(ev["subject"])
        rung = rules.rung[rules.options[i].rung] if i is not None else None
        src = refs.get(ev["subject"])
        rows.append((
            rules.date(ev["turn"]).isoformat(),
            ev["actor"] or "",
            text,
            "" if rung is None else f"{rung.level} {rung.label}",
            _result(ev, rules),
            "" if src is None else f'{src.ref}: "{src.quote}"',
        ))
    return "## Timeline\n\n" + _table(("Date", "Actor", "Event", "Rung", "Result", "Source"), rows)


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


def _thresholds(engine: Engine, events: list[dict], bots: State) -> str:
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
        rows.append((t.label, t.level, date, by, _share((bots.threshold_turn[:, j] >= 0).sum(), bots.size)))
    if not rows:
        return "## Thresholds\n\nThe scenario's ladder names no thresholds."
    return "## Thresholds\n\n" + _table(("Threshold", "Level", "Crossed", "By", "Bot-only games crossing"), rows)


def _red_lines(engine: Engine, events: list[dict], bots: State) -> str:
    rules = engine.rules
    names = labels(rules)
    crossed = {ev["subject"]: ev for ev in events if ev["kind"] == "red_line"}
    rows = []
    for j, line in enumerate(rules.red_lines):
        ev = crossed.get(line.id)
        date = rules.date(ev["turn"]).isoformat() if ev else "not crossed"
        by = f"{rules.options[rules.option_index[ev['by']]].actor}: {names[ev['by']]}" if ev else ""
        rows.append((line.label, line.owner, date, by, _share(bots.red_line[:, j].sum(), bots.size)))
    if not rows:
        return "## Red lines\n\nThe scenario declares no red lines."
    return "## Red lines\n\n" + _table(("Red line", "Drawn by", "Crossed", "By", "Bot-only games crossing"), rows)


def _outcome(engine: Engine, events: list[dict]) -> str:
    rules, st = engine.rules, engine.state
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
    text = f"## Outcome\n\n**{outcome.label}** in the week of {rules.date(end)} (turn {end + 1}): {why}."
    if outcome.description:
        text += f" {outcome.description}"
    rows = [(v, f"{rules.initial[i]:.1f}", f"{st.vars[0, i]:.1f}") for i, v in enumerate(rules.var_names)]
    return text + "\n\n" + _table(("Variable", "Start", "End"), rows)


def _comparison(engine: Engine, bots: State) -> str:
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
        f"The same scenario and seed played {n:,} times by the bots alone, each actor by the doctrine "
        "listed under Players.",
        f"This game ended in **{rules.outcomes[mine].label}**, which happened in {rows[mine][2]} of the "
        f"bot-only games (95 % interval {rows[mine][3]}).",
        _table(("Outcome", "Games", "Share", "95 % interval", ""), rows),
        "Peak rung of each actor: this game's against the bot-only games'.",
        _table(
            ("Actor", "This game", "Median", "10th–90th percentile", "Games lower", "Games equal"),
            [(actor, _rung(rules, st.peak[0, a]), *_place(st.peak[0, a], bots.peak[:, a])) for a, actor in enumerate(rules.actors)],
        ),
    ]
    end = int(st.end_turn[0])
    median, spread, lower, equal = _place(end + 1, bots.end_turn + 1)
    parts.append(
        f"Length: this game ended on turn {end + 1}; the bot-only games at a median of turn {median} "
        f"(10th–90th percentile {spread}); {lower} of them ended earlier, {equal} on the same turn."
    )
    return "\n\n".join(parts)


def _sources(engine: Engine, events: list[dict]) -> str:
    s = engine.rules.scenario
    refs = sources(engine.rules)
    cited = sorted({refs[ev["subject"]].ref for ev in events if ev["kind"] in TIMELINE and ev["subject"] in refs})
    lines = []
    for ref in cited:
        src = s.sources[ref]
        about = ", ".join(x for x in (src.author, src.date, src.url) if x)
        lines.append(f"- `{ref}`: {src.title}" + (f" ({about})" if about else ""))
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
    cell = lambda value: str(value).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
