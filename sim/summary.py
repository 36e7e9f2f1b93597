"""The compact terminal table of a batch's summary (80 columns)."""
from __future__ import annotations

from pathlib import Path
from .words import plural

LABEL = 34


def _label(text: str) -> str:
    return text if len(text) <= LABEL else text[: LABEL - 1] + "…"


def _interval(ci) -> str:
    lo, hi = ci
    return f"{lo:.1%}-{hi:.1%}"


def table(s: dict, folder: Path, until_ci: float | None = None) -> list[str]:
    head = f"{s['scenario']}: {plural(s['runs'], 'run', spec=',')}, seed {s['seed']}"
    if until_ci:
        head += f" (needed for every interval within +-{until_ci:g})"
    lines = [head, f"results in {folder}/", "", f"  {'outcome':<{LABEL}} {'p':>6}  {'95% interval':<13}  turn: median (q1-q3)"]
    for o in s["outcomes"].values():
        t = o["time_to_outcome"]
        when = f"{t['median']:g} ({t['q1']:g}-{t['q3']:g})" if t else "-"
        lines.append(f"  {_label(o['label']):<{LABEL}} {o['p']:>6.1%}  {_interval(o['ci95']):<13}  {when}")
    if s["thresholds"]:
        lines += ["", f"  {'threshold crossed':<{LABEL}} {'p':>6}  95% interval"]
        for t in s["thresholds"].values():
            lines.append(f"  {_label(t['label']):<{LABEL}} {t['p']:>6.1%}  {_interval(t['ci95'])}")
    return lines
