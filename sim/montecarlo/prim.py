"""Scenario discovery: PRIM's peeling (Friedman and Fisher 1999), as Bryant and Lempert use it.

A small implementation of the peeling trajectory only (no pasting, no covering, no bootstrap):
EMA Workbench's PRIM pulls in pandas, seaborn, statsmodels, scikit-learn and pyplot and warns
when imported, for some forty lines of arithmetic (README, "Dependencies, and why").

Cases are rows of `x` (one column per parameter; a lever as the index of its value), `y` is
1 for a case of interest. Each step removes the `alpha` share of the cases in the box from one
end of one parameter, whichever end leaves the highest density (share of cases of interest in
the box); peeling stops when the box would hold less than `mass_min` of all cases.
"""
from __future__ import annotations

import math

import numpy as np

PEEL_ALPHA = 0.05  # EMA Workbench's and Friedman and Fisher's usual peel
MASS_MIN = 0.05  # the smallest box, as a share of all cases
DENSITY = 0.8  # the chosen box: the most coverage at this density or more (EMA Workbench's default threshold)


def peel(x: np.ndarray, y: np.ndarray, names: list[str], alpha: float = PEEL_ALPHA, mass_min: float = MASS_MIN,
         density: float = DENSITY) -> dict:
    """The peeling trajectory: every box with its coverage, density, mass and limits, and the
    chosen box's index (the highest coverage with density >= `density`, else the densest box)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=bool)
    n, interesting = len(y), int(y.sum())
    lows, highs = x.min(axis=0), x.max(axis=0)
    inside = np.ones(n, dtype=bool)
    boxes = [_box(0, inside, y, interesting, lows, highs, x, names)]
    while interesting:
        best = None
        for j in range(x.shape[1]):
            values = np.sort(x[inside, j])
            k = math.ceil(alpha * len(values))
            # a cut at a value several cases share removes them all; a cut that removes nothing
            # (the quantile equals the end) moves to the next distinct value, so discrete
            # parameters peel one value at a time
            low, high = values[min(k, len(values) - 1)], values[max(len(values) - 1 - k, 0)]
            if low == values[0]:
                low = values[values > values[0]][0] if (values > values[0]).any() else np.inf
            if high == values[-1]:
                high = values[values < values[-1]][-1] if (values < values[-1]).any() else -np.inf
            for side, kept in (("low", inside & (x[:, j] >= low)), ("high", inside & (x[:, j] <= high))):
                if kept.sum() < mass_min * n or not kept.any():
                    continue
                score = y[kept].mean()
                if best is None or score > best[0]:
                    best = (score, j, side, kept, low if side == "low" else high)
        if best is None:
            break
        _, j, side, inside, cut = best
        lows, highs = lows.copy(), highs.copy()
        if side == "low":
            lows[j] = cut
        else:
            highs[j] = cut
        boxes.append(_box(len(boxes), inside, y, interesting, lows, highs, x, names))
    dense = [b for b in boxes if b["density"] >= density]
    chosen = max(dense, key=lambda b: (b["coverage"], -b["box"])) if dense else max(boxes, key=lambda b: (b["density"], -b["box"]))
    return {"alpha": alpha, "mass_min": mass_min, "density_threshold": density, "cases": n, "cases_of_interest": interesting,
            "boxes": boxes, "chosen": chosen["box"]}


def _box(k: int, inside: np.ndarray, y: np.ndarray, interesting: int, lows, highs, x: np.ndarray, names: list[str]) -> dict:
    hits = int(y[inside].sum())
    full_lows, full_highs = x.min(axis=0), x.max(axis=0)
    return {
        "box": k, "mass": float(inside.mean()), "coverage": hits / interesting if interesting else 0.0,
        "density": hits / int(inside.sum()) if inside.any() else 0.0,
        "limits": {name: [float(lo), float(hi)] for name, lo, hi in zip(names, lows, highs)},
        "restricted": [name for name, lo, hi, a, b in zip(names, lows, highs, full_lows, full_highs) if lo > a or hi < b],
    }
