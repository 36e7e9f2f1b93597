"""The interval statistics that compare, sweep and the reports print."""
import numpy as np
import pytest

from pathlib import Path

from sim.engine.stats import holm, mcnemar, paired_proportions, wilson
from sim.montecarlo.summary import table


def test_paired_interval_matches_a_published_worked_example():
    """Newcombe's hybrid score interval for paired proportions (Newcombe 1998, Stat Med 17:2635,
    method 10), worked in Fagerland, Lydersen & Laake, Statistical Analysis of Contingency Tables
    (2017), chapter 8: complete response before and after consolidation therapy (Cavo et al. 2012),
    59 both, 6 before only, 16 after only, 80 neither; difference -0.0621, 95 % CI -0.1186 to -0.0046.
    """
    d, (lo, hi) = paired_proportions(59, 6, 16, 80)
    assert d == pytest.approx(-0.0621, abs=5e-5)
    assert (lo, hi) == pytest.approx((-0.1186, -0.0046), abs=5e-5)


def test_paired_interval_stays_open_at_zero_counts():
    d, (lo, hi) = paired_proportions(0, 0, 0, 20_000)
    assert d == 0 and lo < 0 < hi
    # no wider than either proportion's own Wilson upper bound allows
    assert hi == pytest.approx(wilson(0, 20_000)[1])


@pytest.mark.parametrize("table", [(5, 3, 3, 89), (0, 7, 7, 86), (40, 0, 0, 60), (0, 0, 0, 50)])
def test_equal_margins_give_an_interval_around_zero(table):
    d, (lo, hi) = paired_proportions(*table)
    assert d == 0 and lo <= 0 <= hi


def test_the_interval_narrows_as_runs_grow():
    widths = []
    for n in (100, 1_000, 10_000, 100_000):
        _, (lo, hi) = paired_proportions(n // 100, n // 50, n // 100, n - n // 100 * 2 - n // 50)
        widths.append(hi - lo)
    assert widths == sorted(widths, reverse=True) and widths[-1] < widths[0] / 20


def test_the_interval_never_leaves_minus_one_to_one():
    rng = np.random.default_rng(7)
    tables = [(0, 10, 0, 0), (0, 0, 10, 0), (0, 1, 0, 0), (3, 0, 0, 0)] + [tuple(rng.integers(0, 6, 4)) for _ in range(300)]
    for t in tables:
        d, (lo, hi) = paired_proportions(*(int(x) for x in t))
        assert -1 <= lo <= d <= hi <= 1, t


def test_mcnemar_exact_p_values():
    # 12 against 2 discordant pairs: 2 * P(X <= 2), X ~ Binomial(14, 1/2) = 2 * 106 / 16384
    assert mcnemar(12, 2) == pytest.approx(2 * 106 / 2**14)
    assert mcnemar(0, 0) == 1.0 and mcnemar(5, 5) == 1.0
    assert mcnemar(0, 30_000) < 1e-300 or mcnemar(0, 30_000) == 0.0  # far in the tail, no overflow


def test_holm_on_a_known_set_of_p_values():
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005, 3*0.01, max(0.03, 2*0.03), max(0.06, 1*0.04)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == [1.0, 1.0] and holm([]) == []


def test_a_zero_count_is_shown_with_its_upper_bound():
    runs = 20_000

    def estimate(count):
        return {"label": f"seen {count}", "count": count, "p": count / runs, "ci95": list(wilson(count, runs)), "time_to_outcome": None}

    s = {"scenario": "x", "runs": runs, "seed": 1, "outcomes": {"war": estimate(0), "deal": estimate(4)},
         "thresholds": {"force": estimate(0)}}
    lines = table(s, Path("out"))
    zero = [line for line in lines if line.lstrip().startswith("seen 0")]
    assert len(zero) == 2 and all(line.endswith("0 of 20,000 (95% upper bound 0.019%)") for line in zero)
    (four,) = [line for line in lines if line.lstrip().startswith("seen 4")]
    assert "0.020%" in four and "0.008%-0.051%" in four  # small, not rounded to 0.0%
    assert max(len(line) for line in lines) <= 80
