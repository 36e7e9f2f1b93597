"""One game told as text (a dated line per event) or as JSON: views of the event log."""
from __future__ import annotations

import textwrap

from ..engine.knowledge import seen_events
from ..engine.stepping import Engine
from ..format.words import plural

WIDTH = 80
ACTOR_WIDTH = 5


def game_record(engine: Engine, scenario: str, world: int = 0, view: str | None = None) -> dict:
    """The `ladder run --json` document for one world of an engine that has finished: the
    umpire's (the truth, each event with who saw it), or, with `view`, what that actor saw (the
    events it saw, less changes of variables hidden from it; the final state as it believes it,
    a private variable of another as null; positions as it saw them, others' peaks null when a
    move may have gone unattributed, since it cannot know them)."""
    rules, st = engine.rules, engine.state
    events = engine.log.for_world(world)
    values, positions, peaks = st.vars[world], st.position[world], st.peak[world].astype(object)
    if view is not None:
        events = seen_events(events, view, rules)
        values, positions = believed(engine, view, world), engine.view(view).position[world]
        if rules.knowledge.unattributed.any():
            peaks[:] = None
            peaks[rules.actor_index[view]] = st.peak[world, rules.actor_index[view]]
    outcome = st.outcome[world]
    return {
        "scenario": scenario,
        "seed": engine.seed,
        "run": int(st.run[world]),
        "view": view,
        "doctrines": engine.doctrine_names,
        "outcome": rules.outcomes[outcome].id if outcome >= 0 else None,
        "end_turn": int(st.end_turn[world]),
        "end_date": rules.date(int(st.end_turn[world])).isoformat() if outcome >= 0 else None,
        "cause": rules.causes[st.cause[world]] if outcome >= 0 else None,
        "events": [{"date": rules.date(ev["turn"]).isoformat(), **ev} for ev in events],
        "final_state": {name: _rounded(values[i], 3) for i, name in enumerate(rules.var_names)},
        "positions": {actor: _rounded(positions[i], 2) for i, actor in enumerate(rules.actors)},
        "peak_positions": {actor: _rounded(peaks[i], 2) for i, actor in enumerate(rules.actors)},
    }


def believed(engine: Engine, actor: str, world: int = 0) -> list[float | None]:
    """Every variable as `actor` believes it now, None for another's private variable: of that
    it holds only the starting value, not a belief."""
    rules = engine.rules
    a = rules.actor_index[actor]
    values = engine.view(actor).vars[world].tolist()
    for v in rules.knowledge.hidden[a]:
        if rules.knowledge.seen(a, int(v)).how == "private":
            values[v] = None
    return values


def _rounded(value, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def narrate(engine: Engine, world: int = 0, view: str | None = None) -> list[str]:
    """A readable line (wrapped to 80 columns) per event, ending with the outcome: the umpire's
    (every event, one that not every actor saw marked with who saw it), or, with `view`, the
    events that actor saw, less changes of variables hidden from it."""
    rules = engine.rules
    names = labels(rules)
    events = engine.log.for_world(world)
    if view is not None:
        events = seen_events(events, view, rules)
    lines = []
    for ev in with_answers(events):
        text = describe(ev, names)
        if text is None:
            continue
        # who saw a detection goes without saying: its detector alone
        if view is None and len(ev["seen_by"]) < len(rules.actors) and ev["kind"] != "detected":
            text += f" [seen by {', '.join(ev['seen_by']) or 'no one'}]"
        head = f"{rules.date(ev['turn']).isoformat()}  {(ev['actor'] or '').ljust(ACTOR_WIDTH)} "
        lines += textwrap.wrap(
            text, WIDTH, initial_indent=head, subsequent_indent=" " * len(head), break_on_hyphens=False
        )
    return lines


def labels(rules) -> dict[str, str]:
    """Display names of everything an event can name: options, injects, chance events, thresholds,
    red lines, outcomes."""
    s = rules.scenario
    out = {o.id: o.label for o in rules.options}
    out |= {i.id: i.label for i in s.injects}
    out |= {w.id: w.label for w in s.calendar}
    out |= {c.id: c.label for c in rules.chance}
    out |= {t.id: t.label for t in s.ladder.thresholds}
    out |= {r.id: r.label for r in rules.red_lines}
    return out | {o.id: o.label for o in rules.outcomes}


def sources(rules) -> dict:
    """The source everything that cites one cites, by id: options, injects, chance events, red lines."""
    s = rules.scenario
    refs = {o.id: o.source for o in rules.options}
    refs |= {i.id: i.source for i in s.injects if i.source}
    refs |= {w.id: w.source for w in s.calendar if w.source}
    refs |= {c.id: c.source for c in rules.chance}
    return refs | {r.id: r.source for r in rules.red_lines if r.source}


def topic_label(rules, topic: str) -> str:
    """A proposal topic as the scenario names it ("talks" when it gives no label)."""
    spec = rules.scenario.mechanics.proposals.get(topic)
    return spec.label if spec is not None and spec.label else topic


def var_label(scenario, name: str) -> str:
    """A variable as a reader names it: its label, else its owner's display name and its own name."""
    var = scenario.variables[name]
    if var.label:
        return var.label
    if var.owner:
        return f"{scenario.actors[var.owner].name} {name.split('.', 1)[-1].replace('_', ' ')}"
    return name


def lapsed(ev: dict, actors) -> list[str]:
    """Which of `actors` never answered the proposal a `resolved` event closes (see with_answers):
    for them the offer lapsed."""
    if ev["kind"] != "resolved":
        return []
    return [a for a, yes in (ev.get("answers") or {}).items() if yes is None and a in actors]


def lapse_line(rules, ev: dict) -> str:
    return f"your answer never came: {ev['actor']}'s {topic_label(rules, ev['topic'])} offer lapsed"


def since(rules, events: list[dict], before, after, actor: str, turn: int) -> list[str]:
    """What a player should know at a decision, in three short lines (none when nothing
    happened): the others' moves; what landed (red lines, thresholds and proposals decided first,
    then the player's own prepared moves, events and lagged effects); and the variables that moved
    most (by their share of their range). From `events` since the player's last decision, taken
    at `turn`, and the variables then (`before`) and now (`after`)."""
    names = labels(rules)
    moves = [f"{ev['actor']} {names[ev['subject']]}" + ("" if ev.get("success", True) else " (failed)")
             for ev in events if ev["kind"] in ("move", "proposal") and ev["actor"] != actor]
    first = [describe(ev, names) for ev in events if ev["kind"] in ("red_line", "threshold", "resolved")]
    mine = [f"your {names[ev['subject']]}" + ("" if ev["success"] else " (failed)")
            for ev in events if ev["kind"] == "move" and ev["actor"] == actor and ev["turn"] > turn]
    news = [describe(ev, names) for ev in events if ev["kind"] in ("inject", "chance", "window_open")]
    effects = [f"{names[ev['subject']]}: {ev['var']} {ev['delta']:+.1f}"
               for ev in events if ev["kind"] == "effect" and abs(ev["delta"]) >= 0.05]
    landed = first + mine + news + effects
    rise = [after[i] - before[i] for i in range(len(rules.var_names))]
    span = [(v.max - v.min) or 1.0 for v in map(rules.scenario.variables.get, rules.var_names)]
    biggest = sorted(range(len(rise)), key=lambda i: -abs(rise[i]) / span[i])[:3]
    changed = [f"{var_label(rules.scenario, rules.var_names[i])} {rise[i]:+.1f} (now {after[i]:.1f})"
               for i in biggest if abs(rise[i]) >= 0.05]
    if not (moves or landed or changed):
        return []  # nothing to sum up: the first decision of a game
    return [
        "The others: " + ("; ".join(moves) or "no moves"),
        "Landed: " + ("; ".join(landed) or "nothing"),
        "Changed most: " + ("; ".join(changed) or "nothing"),
    ]


def with_answers(events: list[dict]) -> list[dict]:
    """The events, each resolved proposal given `answers`: who it was put to and what each
    answered (True, False, or None for no answer), so that a refusal can say who refused."""
    out, asked = [], {}
    for ev in events:
        if ev["kind"] == "proposal":
            asked[ev["topic"]] = dict.fromkeys(ev["to"])
        elif ev["kind"] == "answer" and ev["actor"] in asked.get(ev["subject"], {}):
            asked[ev["subject"]][ev["actor"]] = ev["accept"]
        elif ev["kind"] == "resolved" and ev["topic"] in asked:
            ev = {**ev, "answers": asked.pop(ev["topic"])}
        out.append(ev)
    return out


def refusers(ev: dict) -> str | None:
    """Who refused or vetoed a resolved proposal, by its answers ("US (no answer), ROK") or
    the veto drawn ("Russia"); None when that is not known."""
    answers = ev.get("answers")
    if ev["passed"]:
        return None
    if ev["why"].startswith("vetoed by ") and ev["why"] != "vetoed by an actor":
        return ev["why"][len("vetoed by "):]
    if not answers or ev["why"] not in ("refused", "vetoed by an actor"):
        return None
    if ev["why"] == "refused":  # no one accepted: silence refuses too
        who = [a + (" (no answer)" if yes is None else "") for a, yes in answers.items() if not yes]
    else:
        who = [a for a, yes in answers.items() if yes is False]
    return ", ".join(who) or None


def _changes(changes: dict | None) -> str:
    parts = [f"{var} {delta:+.1f}" for var, delta in (changes or {}).items() if abs(delta) >= 0.05]
    return f" ({', '.join(parts)})" if parts else ""


def describe(ev: dict, labels: dict) -> str | None:
    """One event in plain language, or None for one that another line already tells."""
    kind, label = ev["kind"], labels.get(ev["subject"], ev["subject"])
    if kind == "inject":
        return f"EVENT: {label}{_changes(ev.get('changes'))}"
    if kind in ("window_open", "window_close"):
        return f"CALENDAR: {ev['news']}{_changes(ev.get('changes'))}"
    if kind == "chance":
        return f"CHANCE: {ev['news']}{_changes(ev.get('changes'))}"
    if kind == "prepare":
        how = "indicators observed" if ev["visible"] else "covert"
        return f"prepares: {label} [{how}; ready turn {ev['ready'] + 1}]"  # turns count from 1, as on the board
    if kind == "detected":  # news for the detector alone
        due = ev["ready"] - ev["turn"]  # 0: detected in the turn it happens, before it does
        when = f"in {plural(due, 'turn')}" if due else "this turn"
        return f"detects indicators: {ev['by']} preparing {label} [ready turn {ev['ready'] + 1}, {when}]"
    if kind == "move":
        result = "" if ev["success"] else " -- FAILED"
        return f"{label}{result}{_changes(ev.get('changes'))}"
    if kind == "effect":
        if abs(ev["delta"]) < 0.05:
            return None
        spread = f" over {ev['turns']} turns" if ev["turns"] > 1 else ""
        return f"...{label} takes effect: {ev['var']} {ev['delta']:+.1f}{spread}"
    if kind == "expire":
        return f"...{label} ends{_changes(ev.get('changes'))}"
    if kind == "proposal":
        return f"proposes {ev['topic']} to {', '.join(ev['to']) or 'the Council'}: {label}"
    if kind == "answer":
        return None  # the answering move has its own line
    if kind == "resolved":
        who = refusers(ev)
        if who is not None:  # named: "talks REFUSED" read as if the proposer had refused
            verb = "REFUSED" if ev["why"] == "refused" else "VETOED"
            return f"{ev['topic']} proposed by {ev['actor']} {verb} by {who}: {label}{_changes(ev.get('changes'))}"
        verdict = "PASSED" if ev["passed"] else ev["why"].upper()
        return f"{ev['topic']} {verdict}: {label}{_changes(ev.get('changes'))}"
    if kind == "red_line":
        return f"RED LINE CROSSED: {label}"
    if kind == "threshold":
        return f"THRESHOLD: {label}"
    if kind == "outcome":
        return f"OUTCOME: {label} ({ev['cause']})"
    return f"{kind}: {label}"
