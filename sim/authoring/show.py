"""`ladder show`: a scenario described for a reader at 80 columns, or where its values come from."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

from ..format.scenario import Loaded, dotted
from ..format.source import Document
from ..format.words import plural


def describe(loaded: Loaded) -> list[str]:
    s = loaded.scenario
    wrap = lambda text, indent="  ": textwrap.wrap(" ".join(text.split()), 80, initial_indent=indent, subsequent_indent=indent)  # noqa: E731
    out = [f"{s.title}  [{loaded.name}]", *wrap(s.description, ""), ""]
    c = s.clock
    out.append(f"Clock: from {c.start}, {plural(c.horizon, 'turn')} of {plural(c.turn_days, 'day')}")
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
    if s.chance:
        out += ["", "Chance events (probability a turn):"]
        for c in s.chance:
            out.append(f"  {c.label}: {c.probability}"[:80])
    out += _hidden(s)
    out += ["", "Outcomes: " + ", ".join(f"{o.label} ({o.kind})" for o in s.outcomes)]
    return out


def _hidden(s) -> list[str]:
    """What the scenario hides (see the guide's "What each actor knows"): nothing if it hides nothing."""
    seen = {var: how if isinstance(how, str) else f"seen with an error of {how.noisy:g}" if hasattr(how, "noisy")
            else f"seen {plural(how.late, 'turn')} late" for var, how in s.visibility.items() if how != "public"}
    lines = [f"  {var}: {how}" for var, how in seen.items()]
    for o in s.options:
        if not o.visible and o.prepare:
            chance = "never detected" if o.detection is None else f"detection {_chance(o.detection)}"
            lines.append(f"  {o.label} [{o.id}]: covert preparation, {chance}")
        if not o.attributed:
            lines.append(f"  {o.label} [{o.id}]: not attributed")
    wrapped = [part for line in lines for part in textwrap.wrap(line, 80, subsequent_indent="      ")]
    return ["", "Hidden from other actors:", *wrapped] if lines else []


def _chance(detection) -> str:
    if isinstance(detection, dict):
        return "; ".join(f"{actor} {chance}" for actor, chance in detection.items())
    return f"{detection} by each"


def origins(doc: Document) -> list[str]:
    """Every value written in a scenario (its bases merged in), one a line: FILE:LINE, then its path."""
    rows = [(f"{_short(doc.file_of(path))}:{doc.where(path)[0]}", dotted(path)) for path in _leaves(doc.data, ())]
    width = max(len(where) for where, _ in rows)
    return [f"{where:<{width}}  {path}" for where, path in rows]


def _leaves(value, path: tuple):
    """Paths of the scalars (and empty collections) in a document, in the order written."""
    if isinstance(value, (dict, list)) and value:
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            yield from _leaves(item, path + (key,))
    else:
        yield path


def _short(file: str) -> str:
    """A file's name relative to the working folder if it lies inside it (a bundled one's: its name)."""
    relative = os.path.relpath(file)
    return Path(file).name if relative.startswith("..") else relative
