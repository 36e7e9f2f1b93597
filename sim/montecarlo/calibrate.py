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
    """Each measure, per world of a finished engine."""
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
    engine = Engine(rules, seed=seed, runs=runs, record=False, doctrines=doctrines).run()
    cal = rules.scenario.calibration
    rows = []
    for m, (mid, values) in zip(cal.measures, counts(engine).items()):
        p10, p50, p90 = np.percentile(values, [10, 50, 90], method="nearest")  # counts stay counts
        rows.append({
            "id": mid, "label": m.label, "real": m.real,
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
    return lines
