"""The compact terminal table of a batch's summary (80 columns)."""
from __future__ import annotations

from pathlib import Path


def table(s: dict, folder: Path, until_ci: float | None = None) -> list[str]:
    head = f"{s['scenario']}: {s['runs']:,} runs, seed {s['seed']}"
    if until_ci:
        head += f" (needed for every interval within +-{until_ci:g})"
    lines = [head, f"results in {folder}/", "", f"  {'outcome':<30} {'p':>7}  {'95% interval':<15}  {'turn: median (q1-q3)':<20}"]
    for o in s["outcomes"].values():
        lo, hi = o["ci95"]
        t = o["time_to_outcome"]
        when = f"{t['median']:g} ({t['q1']:g}-{t['q3']:g})" if t else "-"
        lines.append(f"  {o['label'][:30]:<30} {o['p']:>7.1%}  {lo:>6.1%}-{hi:<7.1%}  {when:<20}")
    if s["thresholds"]:
        lines += ["", f"  {'threshold crossed':<30} {'p':>7}  {'95% interval':<15}"]
        for t in s["thresholds"].values():
            lo, hi = t["ci95"]
            lines.append(f"  {t['label'][:30]:<30} {t['p']:>7.1%}  {lo:>6.1%}-{hi:<7.1%}")
    return lines
