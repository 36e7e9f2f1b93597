"""`ladder calibrate`: a scenario's default game against the real year it represents.

Each measure of the scenario's `calibration` section is counted in every game of a batch;
the simulated median and 10th-90th percentiles stand beside the real figure.
"""
from __future__ import annotations

import numpy as np

from ..engine.rules import Rules
from ..engine.stepping import Engine
from ..format.words import plural


def counts(engine: Engine) -> dict[str, np.ndarray]:
    """Each measure per world, the games played to their end from a fresh engine. A measure with
    dates counts what happened between them: the tally after its last turn less the tally at its
    first."""
    rules = engine.rules
    measures = rules.scenario.calibration.measures
    spans = [_turns(rules, m) for m in measures]
    tallies = {}
    for turn in sorted({t for span in spans for t in span if 0 < t < rules.horizon}):
        engine.advance(until_turn=turn)
        tallies[turn] = _tally(engine)
    engine.run()
    final = _tally(engine)
    none = {m.id: 0.0 for m in measures}
    return {m.id: tallies.get(hi, final)[m.id] - tallies.get(lo, none)[m.id] for m, (lo, hi) in zip(measures, spans)}


def _turns(rules: Rules, measure) -> tuple[int, int]:
    """The turns a measure counts, [first, after the last)."""
    first = rules.turn_of(measure.start) if measure.start else 0
    after = rules.turn_of(measure.end) + 1 if measure.end else rules.horizon
    return first, after


def _tally(engine: Engine) -> dict[str, np.ndarray]:
    """Each measure per world, from the start of the games to now."""
    rules, st = engine.rules, engine.state
    out = {}
    for m in rules.scenario.calibration.measures:
        if m.passed is not None:
            out[m.id] = st.passed[:, rules.topic_index[m.passed]].astype(float)
            continue
        columns = [
            i for i, o in enumerate(rules.options)
            if set(o.tags) & set(m.tags) and (m.actor is None or o.actor == m.actor)
        ]
        out[m.id] = st.counts[:, columns].sum(axis=1).astype(float)
    return out


def calibrate(rules: Rules, runs: int, seed: int, doctrines: dict[str, str] | None = None) -> dict:
    engine = Engine(rules, seed=seed, runs=runs, record=False, doctrines=doctrines)
    cal = rules.scenario.calibration
    rows = []
    for m, (mid, values) in zip(cal.measures, counts(engine).items()):
        p10, p50, p90 = np.percentile(values, [10, 50, 90], method="nearest")  # counts stay counts
        rows.append({
            "id": mid, "label": m.label, "real": m.real, "start": m.start, "end": m.end,
            "median": float(p50), "p10": float(p10), "p90": float(p90), "mean": float(values.mean()),
            "within_p10_p90": bool(p10 <= m.real <= p90),
        })
    return {
        "scenario": rules.name, "year": cal.year, "runs": runs, "seed": seed,
        "turns": rules.horizon, "doctrines": engine.doctrine_names, "measures": rows,
    }


def report(result: dict) -> list[str]:
    lines = [
        f"{result['scenario']}: {plural(result['runs'], 'game', spec=',')} of {plural(result['turns'], 'turn')} against {result['year']}",
        "",
        f"  {'measure':<40} {'real':>6} {'median':>7} {'p10-p90':>11}",
    ]
    for r in result["measures"]:
        band = f"{r['p10']:g}-{r['p90']:g}"
        mark = "" if r["within_p10_p90"] else "  outside"
        lines.append(f"  {r['label'][:40]:<40} {r['real']:>6g} {r['median']:>7g} {band:>11}{mark}")
        if r["start"] or r["end"]:
            lines.append(f"    counted from {r['start'] or 'the start'} to {r['end'] or 'the horizon'}")
    return lines
