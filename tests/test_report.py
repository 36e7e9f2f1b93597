"""HTML reports of a batch and of a comparison: sections, inline images, escaping, the PARTIAL notice."""
import base64
import datetime as dt
import math
import re
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from sim.montecarlo.report import batch_report, comparison_report

BATCH_SECTIONS = ["outcome-probabilities", "tension-fan", "cumulative-incidence", "peak-rungs"]
ACTORS = ["DPRK", "US", "ROK", "UNSC", "China"]


# --- a synthetic batch, shaped as sim/batch.py writes it ------------------------------------


def wilson(k: int, n: int, z: float = 1.96) -> list[float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def make_batch(runs=10_000, turns=52, seed=1, partial=False, war_label="War on the Korean Peninsula", hazard=0.0004, deal=0.004):
    """A summary dict and a turns table for `runs` worlds over `turns` weekly turns: war, deal, horizon."""
    rng = np.random.default_rng(seed)
    t = np.arange(turns)
    # per-turn ending probabilities, then the runs ended by each outcome at each turn
    war_rate = hazard * (1 + 3 * np.sin(np.pi * t / turns))
    deal_rate = np.where(t > 10, deal, 0.0)
    alive, ended = runs, {"war": np.zeros(turns, int), "deal": np.zeros(turns, int), "unresolved": np.zeros(turns, int)}
    for i in range(turns):
        ended["war"][i] = rng.binomial(alive, war_rate[i])
        ended["deal"][i] = rng.binomial(alive - ended["war"][i], deal_rate[i])
        alive -= ended["war"][i] + ended["deal"][i]
    ended["unresolved"][-1] = alive
    kinds = {"war": ("war", war_label), "deal": ("deal", "Denuclearization deal"), "unresolved": ("horizon", "Crisis unresolved")}
    outcomes = {}
    for oid, (kind, label) in kinds.items():
        count = int(ended[oid].sum())
        cum = np.cumsum(ended[oid])
        q = [float(np.searchsorted(cum, f * count)) for f in (0.25, 0.5, 0.75)]
        outcomes[oid] = {
            "label": label, "kind": kind, "count": count, "p": count / runs, "ci95": wilson(count, runs),
            "time_to_outcome": {"q1": q[0], "median": q[1], "q3": q[2]} if count else None,
        }
    thresholds = {}
    for tid, label, level, share in [("intense_crisis", "Intense crisis", 6, 0.93), ("strategic_tests", "Red line: strategic tests", 9, 0.41)]:
        count = int(runs * share)
        thresholds[tid] = {"label": label, "level": level, "count": count, "p": count / runs, "ci95": wilson(count, runs)}
    levels = [float(x) for x in range(-5, 13)]
    distribution, means, top = {}, {}, {}
    for a, actor in enumerate(ACTORS):
        peaks = np.clip(rng.normal(9 - 2 * a, 1.5, runs), -5, 12.99)
        counts = np.bincount(np.floor(peaks).astype(int) + 5, minlength=len(levels))
        distribution[actor] = {"levels": levels, "counts": [int(c) for c in counts]}
        means[actor] = float(peaks.mean())
        top[actor] = [
            {"option": f"{actor.lower()}_move_{j}", "label": f"{actor} move number {j} with a rather long descriptive label",
             "per_game": round(6.0 / (j + 1) / (a + 1), 3)}
            for j in range(8 - a)
        ]
    top["UNSC"] = []  # an actor that never moved
    summary = {
        "scenario": "korea-2019", "title": "Korea 2019: the year-end deadline", "seed": seed, "runs": runs,
        "partial": partial, "turns": turns, "start": "2019-12-02", "turn_days": 7,
        "doctrines": dict(zip(ACTORS, ["brinkmanship", "strategic-patience", "engagement", "strategic-patience", "engagement"])),
        "outcomes": outcomes, "thresholds": thresholds, "mean_peak_rung": means,
        "peak_rung_distribution": distribution, "top_moves": top,
    }
    in_play = runs - np.cumsum(ended["war"] + ended["deal"])
    mean = 55 + 15 * np.sin(np.pi * t / turns) + rng.normal(0, 0.5, turns)
    columns = {
        "turn": t, "date": [(dt.date(2019, 12, 2) + dt.timedelta(days=7 * i)).isoformat() for i in range(turns)],
        "tension_mean": mean, "tension_p10": mean - 12, "tension_p50": mean - 1, "tension_p90": mean + 14,
    }
    for a, actor in enumerate(ACTORS):
        rung = 6 - a + 2 * np.sin(np.pi * t / turns)
        for q, shift in (("mean", 0.2), ("p10", -2), ("p50", 0), ("p90", 2)):
            columns[f"rung_{actor}_{q}"] = rung + shift
    for oid in outcomes:
        columns[f"ended_{oid}"] = np.cumsum(ended[oid]) / runs
    assert in_play[-1] == ended["unresolved"][-1]
    return summary, pa.table(columns)


def make_comparison(variant_names=("korea-2019", "korea-2019 --doctrine US=engagement", "korea-2019 --doctrine DPRK=restraint")):
    """A comparison dict and each variant's turns table."""
    variants, turns = [], []
    for i, name in enumerate(variant_names):
        summary, table = make_batch(seed=1, hazard=0.0004 * (1 + i))
        variants.append({"name": name, "spec": name, "summary": summary})
        turns.append(table)
    reference = variants[0]["summary"]["outcomes"]
    differences = {}
    for oid, o in reference.items():
        differences[oid] = []
        for v in variants[1:]:
            diff = v["summary"]["outcomes"][oid]["p"] - o["p"]
            p = 1e-6 if abs(diff) > 0.002 else 0.5  # as the test of paired runs would find
            differences[oid].append({"variant": v["name"], "diff": diff, "ci95": [diff - 0.002, diff + 0.002], "p": p, "p_holm": min(1.0, 6 * p)})
    return {"seed": 1, "runs": 10_000, "variants": variants, "differences": differences,
            "multiplicity": {"method": "holm", "comparisons": sum(len(rows) for rows in differences.values())}}, turns


# --- helpers --------------------------------------------------------------------------------


def section(page: str, sid: str) -> str:
    match = re.search(rf'<section id="{re.escape(sid)}">(.*?)</section>', page, re.S)
    assert match, f"no section {sid}"
    return match.group(1)


def images(fragment: str) -> list[str]:
    """The SVG documents of the fragment's inline images."""
    found = [base64.b64decode(b).decode() for b in re.findall(r'<img [^>]*src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', fragment)]
    assert all(svg.startswith("<?xml") and "<svg" in svg for svg in found)
    return found


@pytest.fixture(scope="module")
def batch():
    return make_batch()


@pytest.fixture(scope="module")
def page(batch):
    return batch_report(*batch)


@pytest.fixture(scope="module")
def compared():
    return make_comparison()


@pytest.fixture(scope="module")
def comparison(compared):
    return compared[0]


@pytest.fixture(scope="module")
def comparison_page(compared):
    return comparison_report(*compared)


# --- the batch report -----------------------------------------------------------------------


@pytest.mark.parametrize("sid", BATCH_SECTIONS)
def test_every_chart_section_has_one_inline_svg_with_labelled_axes(page, sid):
    (svg,) = images(section(page, sid))
    # text is kept as text in the SVG: the axes' labels can be read, with their units
    labels = {"outcome-probabilities": ["Probability (% of runs)"], "tension-fan": [">Turn<", "Tension ("],
              "cumulative-incidence": [">Turn<", "Runs ended (% of all runs)"], "peak-rungs": ["Peak rung (ladder level)", "share of runs"]}
    assert all(label in svg for label in labels[sid]), sid


def test_one_table_per_actor_in_top_moves(page, batch):
    moves = section(page, "top-moves")
    assert len(re.findall(r"<div data-actor=", moves)) == len(batch[0]["top_moves"])
    assert moves.count("<tr data-option=") == sum(len(m) for m in batch[0]["top_moves"].values())
    assert "no moves taken" in moves  # UNSC never moved


def test_cumulative_incidence_has_a_band_per_outcome_seen_and_a_linear_scale_when_common(page, batch):
    part = section(page, "cumulative-incidence")
    (svg,) = images(part)
    seen = [oid for oid, o in batch[0]["outcomes"].items() if o["kind"] != "horizon" and o["count"]]
    assert len(re.findall(r'<g id="(FillBetween)?PolyCollection_', svg)) == len(seen) == 2
    assert "pointwise" in part and "Wilson" in part
    assert "log scale" not in svg and "logarithmic" not in part


def test_cumulative_incidence_of_rare_outcomes_is_on_a_log_scale_with_zero_as_its_bound():
    summary, turns = make_batch(runs=20_000, hazard=0.00002, deal=0.0)
    assert summary["outcomes"]["war"]["p"] < 0.05 and summary["outcomes"]["deal"]["count"] == 0
    part = section(batch_report(summary, turns), "cumulative-incidence")
    (svg,) = images(part)
    assert "logarithmic because every outcome stays below 5%" in part
    assert "log scale" in svg and "0 of 20,000 (95% upper bound 0.019%)" in svg
    assert len(re.findall(r'<g id="(FillBetween)?PolyCollection_', svg)) == 1  # war's band; deal has only its bound


def test_a_zero_count_shows_its_upper_bound_in_the_tables():
    summary, turns = make_batch(runs=20_000, deal=0.0)
    table = section(batch_report(summary, turns), "outcome-probabilities")
    row = re.search(r'<tr data-outcome="deal">.*?</tr>', table).group(0)
    assert "0 of 20,000 (95% upper bound 0.019%)" in row


def test_page_is_self_contained(page):
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    assert not re.search(r'(src|href)="(?!data:)', page)
    assert "@import" not in page and "url(" not in page


def test_header_says_what_was_run(page, batch):
    summary = batch[0]
    head = page.split("<section", 1)[0]
    assert "Korea 2019: the year-end deadline" in head
    assert "seed 1" in head and "10,000 runs" in head
    for actor, doctrine in summary["doctrines"].items():
        assert f"{actor}: {doctrine}" in head
    assert "Red line: strategic tests" in head and "41.0%" in head


def test_outcome_table_has_the_numbers(page, batch):
    table = section(page, "outcome-probabilities")
    for oid, o in batch[0]["outcomes"].items():
        assert f'data-outcome="{oid}"' in table
        assert f"{o['count']:,}" in table
    assert "Median turn" in table


def test_partial_notice_only_when_partial(page, batch):
    summary, turns = batch
    assert "PARTIAL" not in page
    head = batch_report(dict(summary, partial=True), turns).split("<section", 1)[0]
    assert re.search(r'<div class="partial"[^>]*>PARTIAL', head)


def test_text_is_escaped():
    summary, turns = make_batch(war_label="War <b>now</b> & later")
    summary["title"] = "Crisis <script>alert(1)</script>"
    summary["top_moves"]["DPRK"][0]["label"] = "<i>launch</i>"
    summary["top_moves"]["US"][0]["label"] = r"Pay $\bad{ 5bn$ in aid"  # not matplotlib mathtext
    page = batch_report(summary, turns)
    assert "<b>" not in page and "<script>" not in page and "<i>" not in page
    assert "War &lt;b&gt;now&lt;/b&gt; &amp; later" in page


def test_degenerate_batch_still_renders():
    """No war at all, NaN tension once every run has ended, an actor without peaks."""
    summary, turns = make_batch(runs=200, hazard=0.0)
    assert summary["outcomes"]["war"]["time_to_outcome"] is None
    summary["peak_rung_distribution"]["China"]["counts"] = [0] * 18
    cols = {name: turns.column(name) for name in turns.column_names}
    cols["tension_p50"] = pa.array(np.where(np.arange(52) > 40, np.nan, turns.column("tension_p50").to_numpy()))
    page = batch_report(summary, pa.table(cols))
    for sid in BATCH_SECTIONS:
        assert len(images(section(page, sid))) == 1


def test_importing_sim_report_does_not_import_matplotlib():
    code = "import sys, sim.montecarlo.report; sys.exit(1 if 'matplotlib' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# --- the comparison report ------------------------------------------------------------------


@pytest.mark.parametrize("sid", ["variant-probabilities", "paired-differences", "cumulative-incidence"])
def test_comparison_sections_have_inline_svgs(comparison_page, sid):
    assert images(section(comparison_page, sid))


def test_comparison_draws_each_variants_incidence_with_bands(comparison_page, comparison):
    """The comparison's one report stands for its variants' reports (they draw none): their
    cumulative incidence, a panel per outcome, a band per variant."""
    (svg,) = images(section(comparison_page, "cumulative-incidence"))
    assert len(re.findall(r'<g id="(FillBetween)?PolyCollection_', svg)) == 2 * len(comparison["variants"])  # war and deal
    assert all(f"[{k}] {v['name'][:20]}" in svg for k, v in enumerate(comparison["variants"], 1))


def test_comparison_has_a_row_per_variant_and_outcome(comparison_page, comparison):
    names = [v["name"] for v in comparison["variants"]]
    outcomes = list(comparison["variants"][0]["summary"]["outcomes"])
    variants_table = section(comparison_page, "variants")
    assert len(re.findall(r"<tr data-variant=", variants_table)) == len(names)
    for name in names:
        assert f'data-variant="{name}"' in variants_table
    probabilities = section(comparison_page, "variant-probabilities")
    assert len(re.findall(r"<tr data-outcome=", probabilities)) == len(outcomes)
    differences = section(comparison_page, "paired-differences")
    assert len(re.findall(r'<tr class="diff', differences)) == len(outcomes) * (len(names) - 1)
    for oid in outcomes:
        assert f'data-outcome="{oid}"' in probabilities and f'data-outcome="{oid}"' in differences


def test_comparison_marks_differences_by_their_holm_adjusted_p(comparison_page, comparison):
    war = comparison["differences"]["war"]
    assert all(d["p_holm"] < 0.05 for d in war)  # war rose with the hazard in every variant
    rows = re.findall(r'<tr class="diff( significant)?" data-outcome="war"', section(comparison_page, "paired-differences"))
    assert rows == [" significant"] * len(war)
    comparison = dict(comparison, differences={oid: [dict(d, p_holm=0.2) for d in rows] for oid, rows in comparison["differences"].items()})
    page = comparison_report(comparison, make_comparison()[1])
    assert "significant" not in section(page, "paired-differences")
    assert "Holm-adjusted over 6 comparisons" in section(page, "paired-differences")


def test_comparison_partial_and_escaping():
    comparison, turns = make_comparison(("base", "base <b>hawk</b>"))
    comparison["variants"][1]["summary"]["partial"] = True
    page = comparison_report(comparison, turns)
    assert "PARTIAL" in page
    assert "<b>" not in page and "base &lt;b&gt;hawk&lt;/b&gt;" in page


def test_comparison_of_one_variant_renders():
    page = comparison_report(*make_comparison(("only",)))
    assert images(section(page, "paired-differences"))
    assert "PARTIAL" not in page
