"""Numbers in words: "1 day", "2 days" (never "1 days")."""
from __future__ import annotations


def plural(count, word: str, words: str | None = None, spec: str = "") -> str:
    """`count` and the noun that agrees with it; `spec` formats the number (",": 1,000)."""
    noun = word if count == 1 else (words or word + "s")
    return f"{count:{spec}} {noun}"


def percent(p) -> str:
    """A probability as a percentage, with as many decimals as small values need ("0.019%")."""
    if p is None or p != p:  # missing, or NaN
        return "—"
    x = 100 * p
    if x < 0.0005:  # zero, or a bound that is zero but for rounding
        return "0%"
    if x < 0.1:
        return f"{x:.3f}%"
    if x < 10:
        return f"{x:.2f}%"
    return f"{x:.2f}%" if 99.9 < x < 100 else f"{x:.1f}%"


def none_of(runs: int, upper: float) -> str:
    """A count of zero as what it says: not "0.0%" but how high the probability could still be."""
    return f"0 of {runs:,} (95% upper bound {percent(upper)})"


def points(x: float) -> str:
    """A difference of probabilities in signed percentage points; small ones keep two significant
    digits, so an interval of +-0.004 points does not print as [0, 0]."""
    v = 100 * x
    if v == 0:
        return "0"
    if abs(v) < 0.01:
        return f"{v:+.2g}"
    return f"{v:+.2f}" if abs(v) < 10 else f"{v:+.1f}"


def holm_note(comparisons: int) -> str:
    return f"Holm-adjusted over {plural(comparisons, 'comparison')}"
