"""Small statistics for batch results: Wilson intervals and quantiles from counts."""
from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95 % by default)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if successes == 0 else max(0.0, centre - half)  # exact at the ends, not 1e-19 off
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return (lo, hi)


def quantiles_from_counts(values: np.ndarray, counts: np.ndarray, qs) -> list[float | None]:
    """Quantiles of a distribution given as counts at sorted values (the lower value at each q)."""
    total = counts.sum()
    if total == 0:
        return [None for _ in qs]
    cumulative = np.cumsum(counts)
    return [float(values[np.searchsorted(cumulative, q * total, side="left")]) for q in qs]


def paired_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, tuple[float, float]]:
    """Mean of b - a over the same runs, with a normal 95 % interval (common random numbers)."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    n = len(d)
    mean = float(d.mean()) if n else 0.0
    half = Z95 * float(d.std(ddof=1)) / math.sqrt(n) if n > 1 else 0.0
    return mean, (mean - half, mean + half)
