"""What a batch's aggregates say: summary.json, the per-turn table, and the compact terminal
table of the summary (80 columns)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..engine.rules import Rules
from ..engine.stats import quantiles_from_counts, wilson
from ..format.words import none_of, percent, plural
from .chunks import FIXED, RUNG_STEP, TENSION_BINS, Aggregates, Job, level_range

LABEL = 34


def _label(text: str) -> str:
    return text if len(text) <= LABEL else text[: LABEL - 1] + "…"


def _estimate(x: dict, runs: int) -> str:
    """p and its 95% interval; a count of zero as its upper bound, since "0.0%" says nothing of how rare."""
    if x["count"] == 0:
        return none_of(runs, x["ci95"][1])
    lo, hi = x["ci95"]
    return f"{percent(x['p']):>6}  {percent(lo) + '-' + percent(hi):<13}"


def table(s: dict, folder: Path, until_ci: float | None = None) -> list[str]:
    head = f"{s['scenario']}: {plural(s['runs'], 'run', spec=',')}, seed {s['seed']}"
    if until_ci:
        head += f" (needed for every interval within +-{until_ci:g})"
    lines = [head, f"results in {folder}/", "", f"  {'outcome':<{LABEL}} {'p':>6}  {'95% interval':<13}  turn: median (q1-q3)"]
    for o in s["outcomes"].values():
        t = o["time_to_outcome"]
        when = f"  {t['median']:g} ({t['q1']:g}-{t['q3']:g})" if t else ""
        lines.append(f"  {_label(o['label']):<{LABEL}} {_estimate(o, s['runs'])}{when}".rstrip())
    if s["thresholds"]:
        lines += ["", f"  {'threshold crossed':<{LABEL}} {'p':>6}  95% interval"]
        for t in s["thresholds"].values():
            lines.append(f"  {_label(t['label']):<{LABEL}} {_estimate(t, s['runs'])}".rstrip())
    return lines


def summary(rules: Rules, agg: Aggregates, job: Job) -> dict:
    n = agg.runs
    turns = np.arange(rules.horizon)
    outcomes = {}
    for k, o in enumerate(rules.outcomes):
        count = int(agg.outcome[k])
        q1, med, q3 = quantiles_from_counts(turns, agg.end_turn[k], (0.25, 0.5, 0.75))
        outcomes[o.id] = {
            "label": o.label, "kind": o.kind, "count": count, "p": count / n if n else 0.0,
            "ci95": list(wilson(count, n)),
            "time_to_outcome": None if count == 0 else {"median": med, "q1": q1, "q3": q3},
            "causes": {cause: int(c) for cause, c in zip(rules.causes, agg.cause[k]) if c},
        }
    thresholds = {
        t.id: {"label": t.label, "level": t.level, "count": int(c), "p": c / n if n else 0.0, "ci95": list(wilson(int(c), n))}
        for t, c in zip(rules.scenario.ladder.thresholds, agg.threshold)
    }
    lo, hi = level_range(rules)
    top = {}
    for a, actor in enumerate(rules.actors):
        idx = rules.by_actor[a]
        order = idx[np.argsort(-agg.moves[idx], kind="stable")][:8]
        top[actor] = [
            {"option": rules.options[i].id, "label": rules.options[i].label, "per_game": float(agg.moves[i]) / n}
            for i in order if agg.moves[i] > 0
        ]
    return {
        "scenario": rules.name, "title": rules.scenario.title, "seed": job.seed, "runs": n, "partial": False,
        "turns": rules.horizon, "start": rules.scenario.clock.start, "turn_days": rules.scenario.clock.turn_days,
        "doctrines": {a: job.doctrines.get(a, spec.doctrine) for a, spec in rules.scenario.actors.items()},
        "outcomes": outcomes,
        "thresholds": thresholds,
        "mean_peak_rung": {actor: float(agg.peak_sum[a]) / FIXED / n for a, actor in enumerate(rules.actors)},
        "peak_rung_distribution": {
            actor: {"levels": [float(x) for x in range(lo, hi + 1)], "counts": [int(c) for c in agg.peak_hist[a]]}
            for a, actor in enumerate(rules.actors)
        },
        "top_moves": top,
        "chance": {
            event.id: {"label": event.label, "count": int(c), "per_game": float(c) / n if n else 0.0}
            for event, c in zip(rules.chance, agg.chance)
        },
    }


def turns_table(rules: Rules, agg: Aggregates):
    import pyarrow as pa

    H = rules.horizon
    alive = np.maximum(agg.alive, 1)
    t_lo, t_hi = rules.vmin[rules.tension], rules.vmax[rules.tension]
    t_values = t_lo + (np.arange(TENSION_BINS) + 0.5) * (t_hi - t_lo) / TENSION_BINS
    lo, hi = level_range(rules)
    r_values = lo + np.arange(agg.rung_hist.shape[2]) * RUNG_STEP
    cols: dict = {"turn": np.arange(H), "date": [rules.date(t).isoformat() for t in range(H)]}

    def describe(prefix, sums, hists, values):
        cols[f"{prefix}_mean"] = np.where(agg.alive > 0, sums / FIXED / alive, np.nan)
        qs = [quantiles_from_counts(values, hists[t], (0.1, 0.5, 0.9)) for t in range(H)]
        for j, q in enumerate(("p10", "p50", "p90")):
            cols[f"{prefix}_{q}"] = np.array([np.nan if row[j] is None else row[j] for row in qs])

    describe("tension", agg.tension_sum, agg.tension_hist, t_values)
    for a, actor in enumerate(rules.actors):
        describe(f"rung_{actor}", agg.rung_sum[:, a], agg.rung_hist[:, a], r_values)
    for k, o in enumerate(rules.outcomes):
        cols[f"ended_{o.id}"] = np.cumsum(agg.end_turn[k]) / max(agg.runs, 1)
    return pa.table(cols)


def widest_interval(agg: Aggregates) -> float:
    """The largest half-width of the outcome probabilities' 95 % intervals."""
    return max((hi - lo) / 2 for lo, hi in (wilson(int(c), agg.runs) for c in agg.outcome))
