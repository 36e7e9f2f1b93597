"""`ladder show`: a scenario described for a reader at 80 columns."""
from __future__ import annotations

import textwrap

from .scenario import Loaded


def describe(loaded: Loaded) -> list[str]:
    s = loaded.scenario
    wrap = lambda text, indent="  ": textwrap.wrap(" ".join(text.split()), 80, initial_indent=indent, subsequent_indent=indent)  # noqa: E731
    out = [f"{s.title}  [{loaded.name}]", *wrap(s.description, ""), ""]
    c = s.clock
    out.append(f"Clock: from {c.start}, {c.horizon} turns of {c.turn_days} days")
    out += ["", "Actors:"]
    for aid, a in s.actors.items():
        extra = f"; acts when {a.acts_when}" if a.acts_when else ""
        out.append(f"  {aid:<6} {a.name} -- doctrine {a.doctrine}{extra}")
    out += ["", "Ladder (top to bottom; options on each rung):"]
    thresholds = sorted(s.ladder.thresholds, key=lambda t: -t.level)
    for rung in sorted(s.ladder.rungs, key=lambda r: -r.level):
        while thresholds and thresholds[0].level > rung.level:
            t = thresholds.pop(0)
            out.append(f"  ---- threshold {t.level}: {t.label} ----")
        out.append(f"  {rung.level:>3}  {rung.label}  ({rung.group})")
        for o in s.options:
            if o.rung == rung.id:
                out.append(f"         {o.actor:<5} {o.label}  [{o.id}]"[:80])
    out += ["", "Doctrines:"]
    for name, d in s.doctrines.items():
        out += wrap(f"{name}: {d.description}")
    if s.injects:
        out += ["", "Scheduled events:"]
        for inj in s.injects:
            out.append(f"  {inj.date or 'turn ' + str(inj.turn)}: {inj.label}"[:80])
    out += ["", "Outcomes: " + ", ".join(f"{o.label} ({o.kind})" for o in s.outcomes)]
    return out
