"""Self-contained HTML reports of a Monte Carlo batch and of a comparison of variants.

Each page is one file: the figures are SVG images inlined as base64 data URIs (vector, so sharp at
any zoom; with the text left as text they draw about a third faster than PNG), the style is one
small inline CSS block, and there are no scripts, fonts or links to anything outside the page.
The pages read only the batch contract (`summary`, `turns`, `comparison`; see sim/batch.py).
Matplotlib is imported when a report is drawn, never when `sim` is imported, and draws on
SVG canvases of its own (no pyplot), so no display is needed and nothing is left open.
"""
from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
import textwrap

import numpy as np

from ..format.words import holm_note, none_of, percent, plural, points

KIND_COLOURS = {"war": "#c0392b", "deal": "#2e8b57", "condition": "#d98c1f", "horizon": "#7f8c8d"}
OTHER_COLOUR = "#4c72b0"
VARIANT_COLOURS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd"]
SHOWN_DPI = 100  # pixels per inch of figure, as shown
LOG_BELOW = 0.05  # cumulative incidence is drawn on a log scale when every outcome stays below this

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       margin: 0 auto; padding: 1.2em 1.5em 3em; max-width: 1260px; }
h1 { font-size: 1.6em; margin: 0 0 .2em; } h2 { font-size: 1.2em; margin: 0 0 .4em; }
header p { margin: .2em 0; } .muted, .note { color: #666; } .note { font-size: .9em; margin: .2em 0 .8em; }
section { border-top: 1px solid #ddd; padding: 1em 0 .6em; }
.partial { background: #fdecea; border: 2px solid #c0392b; color: #8e1b10; font-weight: bold;
           padding: .6em 1em; margin: .8em 0; border-radius: 4px; }
.row { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: center; } .row > table { flex: 1 1 26em; }
.grid { display: flex; flex-wrap: wrap; gap: 1em 2em; }
figure { margin: 0; } img { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: .88em; margin: .4em 0; }
th, td { padding: .25em .6em; border-bottom: 1px solid #e4e4e4; text-align: left; vertical-align: top; }
th { background: #f5f5f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.significant td { font-weight: 600; }
h3 { font-size: 1em; margin: .4em 0 0; } table.moves { width: 34em; } td.bars { width: 8em; }
.bar { display: inline-block; height: .8em; background: #55a868; border-radius: 1px; }
.swatch { display: inline-block; width: .8em; height: .8em; border-radius: 2px; margin-right: .4em; }
"""


# --- public API -----------------------------------------------------------------------------


def batch_report(summary: dict, turns) -> str:
    """The HTML of a batch's report.html, from its summary dict and turns pyarrow.Table."""
    outcomes = summary.get("outcomes", {})
    incidence = _incidence(summary, turns)
    sections = [
        _section(
            "outcome-probabilities", "Outcome probabilities",
            "Share of runs ending in each outcome, with its Wilson 95% interval; "
            "time to outcome is the turn a run ended (median and quartiles).",
            '<div class="row">' + _img(_outcome_chart(outcomes), "Bar chart of the probability of each outcome with 95% intervals")
            + _outcome_table(outcomes, summary.get("runs", 0)) + "</div>",
        ),
        _section(
            "tension-fan", "Tension over time",
            "Over the runs still in play at each turn: the 10th-90th percentile band, the median and the mean.",
            _img(_tension_fan(summary, turns), "Fan chart of tension by turn"),
        ),
        _section(
            "cumulative-incidence", "Runs ended, by turn",
            "Cumulative share of all runs that had ended in each outcome by the end of each turn. The shaded band "
            "around each line is its 95% Wilson interval at each turn taken on its own (pointwise, not a band for "
            "the whole curve); an outcome never seen is drawn as the upper bound of its interval (dotted)."
            + (f" The scale is logarithmic because every outcome stays below {LOG_BELOW:.0%}." if _rare(incidence) else ""),
            _img(_cumulative_incidence(summary, turns, incidence), "Cumulative share of runs ended by each outcome by turn, with 95% bands"),
        ),
        _section(
            "peak-rungs", "Peak rungs",
            "How high each actor climbed in a run: the distribution of its peak position on the ladder "
            "(whole levels, rounded down), each row scaled to the tallest bar of all, with the mean marked.",
            _img(_peak_rungs(summary), "Distributions of each actor's peak rung"),
        ),
        _section(
            "top-moves", "Most frequent moves",
            "The moves each actor made most, in average number per game; the bars are scaled to the actor's most frequent move.",
            '<div class="grid">' + "".join(_moves_table(actor, moves) for actor, moves in summary.get("top_moves", {}).items()) + "</div>",
        ),
    ]
    title = summary.get("title") or summary.get("scenario") or "Batch"
    return _page(f"{title}: batch report", _batch_header(summary) + "".join(sections))


def comparison_report(comparison: dict, turns: list) -> str:
    """The HTML of a comparison's report.html (`ladder compare`), from its comparison dict and each
    variant's turns table: the one report of the comparison (its variants have none of their own)."""
    variants = comparison.get("variants", [])
    names = [v["name"] for v in variants]
    reference = variants[0]["summary"] if variants else {}
    outcomes = reference.get("outcomes", {})
    differences = comparison.get("differences", {})
    partial = any(v["summary"].get("partial") for v in variants)
    head = (
        f"<header><h1>Comparison: {_e(reference.get('title') or reference.get('scenario') or '')}</h1>"
        f'<p class="muted">Seed {_e(comparison.get("seed"))} · {_num(comparison.get("runs"))} runs per variant · '
        f"differences are paired over the same runs, against the first variant</p>"
        + (_partial_notice("the batch of at least one variant") if partial else "")
        + "</header>"
    )
    sections = [
        _section("variants", "Variants", "", _variants_table(variants)),
        _section(
            "variant-probabilities", "Outcome probabilities by variant",
            "Share of runs ending in each outcome, with Wilson 95% intervals; each outcome's panel has its own scale.",
            _img(_variant_bars(variants), "Grouped bars of each variant's outcome probabilities")
            + _variant_table(variants, outcomes),
        ),
        _section(
            "paired-differences", f"Difference against {names[0] if names else 'the reference'}",
            "Each variant's probability minus the first variant's, in percentage points, paired over the same runs, "
            "with its 95% interval (Newcombe's hybrid score interval for paired data, each interval 95% on its own); "
            "each outcome's panel has its own scale. p is the exact McNemar test; "
            f"{holm_note(comparison['multiplicity']['comparisons'])}, rows whose adjusted p is below 0.05 are in bold.",
            _img(_difference_chart(names, outcomes, differences), "Paired differences with 95% intervals")
            + _difference_table(outcomes, differences),
        ),
        _section(
            "cumulative-incidence", "Runs ended, by turn",
            "For each outcome, the cumulative share of each variant's runs that had ended in it by each turn, with its "
            "pointwise 95% Wilson band (each turn on its own); an outcome a variant never reached is drawn as its upper "
            f"bound (dotted). A panel whose outcome stays below {LOG_BELOW:.0%} in every variant is on a log scale.",
            _img(_variant_incidence(variants, turns), "Cumulative share of runs ended by each outcome by turn, per variant, with 95% bands"),
        ),
    ]
    return _page(f"Comparison: {reference.get('title', '')}", head + "".join(sections))


# --- HTML -----------------------------------------------------------------------------------


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _section(sid: str, title: str, note: str, content: str) -> str:
    note_html = f'<p class="note">{_e(note)}</p>' if note else ""
    return f'<section id="{sid}"><h2>{_e(title)}</h2>{note_html}{content}</section>\n'


def _table(head: list[str], rows: list[str], cls: str = "") -> str:
    cls_attr = f' class="{cls}"' if cls else ""
    return f"<table{cls_attr}><thead><tr>{''.join(f'<th>{_e(h)}</th>' for h in head)}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _partial_notice(what: str = "this batch") -> str:
    return (f'<div class="partial" role="alert">PARTIAL: {what} stopped before all its runs finished; '
            "the results below cover only the runs that completed.</div>")


def _batch_header(s: dict) -> str:
    start, turn_days = s.get("start"), s.get("turn_days")
    clock = f"{_num(s.get('turns'))} {'turn' if s.get('turns') == 1 else 'turns'}"
    if turn_days:
        clock += f" of {plural(turn_days, 'day')}"
    if start:
        clock += f" from {start}"
    doctrines = ", ".join(f"{a}: {d}" for a, d in s.get("doctrines", {}).items())
    thresholds = s.get("thresholds", {})
    rows = [
        f"<tr><td>{_e(t.get('label', tid))}</td><td class=num>{_e(t.get('level'))}</td>{_estimate(t, s.get('runs', 0))}"
        f"<td class=num>{_num(t.get('count'))}</td></tr>"
        for tid, t in thresholds.items()
    ]
    table = ("<h2>Thresholds crossed</h2>"
             + _table(["Threshold", "Level", "p", "95% interval", "Runs"], rows)) if rows else ""
    return (
        f"<header><h1>{_e(s.get('title') or s.get('scenario'))}</h1>"
        f'<p class="muted">Scenario {_e(s.get("scenario"))} · seed {_e(s.get("seed"))} · '
        f"{_num(s.get('runs'))} runs · {_e(clock)}</p>"
        f"<p>Doctrines: {_e(doctrines) or '—'}</p>"
        + (_partial_notice() if s.get("partial") else "")
        + table + "</header>\n"
    )


def _estimate(x: dict, runs: int) -> str:
    """Two cells, p and its 95% interval; for a count of zero, one cell saying how high it could be."""
    if x.get("count") == 0 and x.get("ci95"):
        return f"<td class=num colspan=2>{_e(none_of(runs, x['ci95'][1]))}</td>"
    return f"<td class=num>{percent(x.get('p'))}</td><td class=num>{_ci(x.get('ci95'))}</td>"


def _outcome_table(outcomes: dict, runs: int) -> str:
    rows = []
    for oid, o in outcomes.items():
        t = o.get("time_to_outcome")
        when = f"{t['median']:g} ({t['q1']:g}–{t['q3']:g})" if t else "—"
        rows.append(
            f'<tr data-outcome="{_e(oid)}"><td><span class="swatch" style="background:{_colour(o)}"></span>{_e(o.get("label", oid))}</td>'
            f"{_estimate(o, runs)}<td class=num>{_num(o.get('count'))}</td><td class=num>{when}</td></tr>"
        )
    return _table(["Outcome", "p", "95% interval", "Runs", "Median turn (IQR)"], rows)


def _moves_table(actor: str, moves: list[dict]) -> str:
    """An actor's most frequent moves as a table with a bar in each row: HTML, not a chart (text
    and a width cost nothing to draw)."""
    most = max((m.get("per_game", 0.0) for m in moves), default=0.0)
    rows = [
        f'<tr data-option="{_e(m.get("option"))}"><td>{_e(m.get("label") or m.get("option"))}</td>'
        f'<td class=num>{_per_game(m.get("per_game", 0.0))}</td>'
        f'<td class=bars><span class=bar style="width:{100 * m.get("per_game", 0.0) / most if most else 0:.1f}%"></span></td></tr>'
        for m in moves
    ] or ['<tr><td class=muted colspan=3>no moves taken</td></tr>']
    return f'<div data-actor="{_e(actor)}"><h3>{_e(actor)}</h3>' + _table(["Move", "Per game", ""], rows, "moves") + "</div>"


def _variants_table(variants: list[dict]) -> str:
    rows = []
    for i, v in enumerate(variants):
        s = v["summary"]
        doctrines = ", ".join(f"{a}: {d}" for a, d in s.get("doctrines", {}).items())
        rows.append(
            f'<tr data-variant="{_e(v["name"])}"><td><span class="swatch" style="background:{_vcolour(i)}"></span>'
            f"[{i + 1}] {_e(v['name'])}{' (reference)' if i == 0 else ''}</td><td>{_e(v.get('spec'))}</td>"
            f"<td class=num>{_num(s.get('runs'))}</td><td>{_e(doctrines)}</td></tr>"
        )
    return _table(["Variant", "Spec", "Runs", "Doctrines"], rows)


def _variant_table(variants: list[dict], outcomes: dict) -> str:
    rows = []
    for oid, o in outcomes.items():
        cells = ""
        for v in variants:
            vo = v["summary"].get("outcomes", {}).get(oid, {})
            if vo.get("count") == 0:
                cells += f"<td class=num>{_e(none_of(v['summary'].get('runs', 0), vo['ci95'][1]))}</td>"
            else:
                cells += f"<td class=num>{percent(vo.get('p'))} <span class=muted>{_ci(vo.get('ci95'))}</span></td>"
        rows.append(f'<tr data-outcome="{_e(oid)}"><td>{_e(o.get("label", oid))}</td>{cells}</tr>')
    return _table(["Outcome"] + [v["name"] for v in variants], rows)


def _difference_table(outcomes: dict, differences: dict) -> str:
    rows = []
    for oid, o in outcomes.items():
        for d in differences.get(oid, []):
            lo, hi = d["ci95"]
            sig = " significant" if d["p_holm"] < 0.05 else ""
            rows.append(
                f'<tr class="diff{sig}" data-outcome="{_e(oid)}" data-variant="{_e(d["variant"])}"><td>{_e(o.get("label", oid))}</td>'
                f"<td>{_e(d['variant'])}</td><td class=num>{points(d['diff'])} pp</td>"
                f"<td class=num>[{points(lo)}, {points(hi)}] pp</td><td class=num>{_p(d['p'])}</td><td class=num>{_p(d['p_holm'])}</td></tr>"
            )
    return _table(["Outcome", "Variant", "Difference", "95% interval", "p", "p, Holm-adjusted"], rows)


# --- numbers --------------------------------------------------------------------------------


def _ci(ci) -> str:
    return "—" if not ci else f"[{percent(ci[0])}, {percent(ci[1])}]"


def _per_game(v: float) -> str:
    return f"{v:.1f}" if v >= 1 else f"{v:.2g}"


def _p(p: float) -> str:
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def _num(n) -> str:
    return "—" if n is None else f"{n:,}" if isinstance(n, int) else _e(n)


def _colour(outcome: dict) -> str:
    return KIND_COLOURS.get(outcome.get("kind"), OTHER_COLOUR)


def _vcolour(i: int) -> str:
    return VARIANT_COLOURS[i % len(VARIANT_COLOURS)]


def _t(text) -> str:
    """Text for matplotlib, shown as written: a `$` would otherwise start mathtext."""
    return str(text).replace("$", r"\$")


def _wrap(text: str, width: int = 28, lines: int = 2) -> str:
    """Text for matplotlib on at most `lines` lines of `width`, cut with an ellipsis."""
    parts = textwrap.wrap(str(text), width) or [""]
    if len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = parts[-1][: width - 1].rstrip() + "…"
    return _t("\n".join(parts))


def _column(turns, name: str) -> np.ndarray | None:
    """A column of the turns table (a row a turn: short) as floats, a null as NaN. Through Python
    values, not to_numpy(): pyarrow's conversion to NumPy imports pandas the first time (0.2 s)."""
    if turns is None or name not in turns.column_names:
        return None
    return np.asarray(turns.column(name).to_pylist(), dtype=float)


# --- figures --------------------------------------------------------------------------------


def _figure(width: float, height: float, **subplots):
    """A figure on its own SVG canvas (no pyplot: nothing global to close) and its axes."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=SHOWN_DPI, layout="constrained")
    FigureCanvasSVG(fig)
    axes = fig.subplots(**subplots) if subplots else fig.subplots()
    return fig, axes


def _grid(n: int, cols: int, panel_width: float, panel_height: float, **subplots):
    """A figure of n small panels, `cols` to a row; the axes list has exactly n entries (at least one)."""
    cols = max(1, min(cols, n))
    rows = max(1, math.ceil(n / cols))
    fig, axes = _figure(panel_width * cols, panel_height * rows + 0.5, nrows=rows, ncols=cols, squeeze=False, **subplots)
    flat = list(axes.flat)
    for ax in flat[max(n, 1):]:
        ax.set_visible(False)
    return fig, flat[: max(n, 1)]


def _img(fig, alt: str) -> str:
    """An <img> tag holding the figure as a base64 SVG. An <img>,
    not inline <svg>: each figure keeps its own ids, and the page links to nothing."""
    import matplotlib

    buf = io.BytesIO()
    # text as text (the browser sets it; drawing glyphs as paths is most of an SVG's time and size);
    # a fixed salt and no date, so the same figure is the same bytes
    # (the two figure.* settings: so that set_layout_engine(None) leaves the figure without one)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "ladder",
                                "figure.autolayout": False, "figure.constrained_layout.use": False}):
        # the constrained layout, done once here as savefig would do it (measured on an SVG
        # renderer, at its 72 dpi), then removed: with a layout engine, savefig draws the whole
        # figure twice, once with drawing disabled only to lay it out, once for real
        fig.get_layout_engine().execute(fig)
        fig.set_dpi(SHOWN_DPI)  # measuring for SVG leaves the figure at 72 dpi
        fig.set_layout_engine(None)
        fig.savefig(buf, format="svg", metadata={"Date": None}, facecolor="white")
    width = round(fig.get_figwidth() * SHOWN_DPI)
    return (f'<figure><img width="{width}" alt="{_e(alt)}" '
            f'src="data:image/svg+xml;base64,{base64.b64encode(buf.getvalue()).decode("ascii")}"></figure>')


def _empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#666")
    ax.set_xticks([])
    ax.set_yticks([])


def _style(ax) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)


def _percent_axis(ax, right: float) -> None:
    """An x axis of percentages from 0 to `right`, a handful of ticks, none past 100%."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.set_xlim(0, right)
    ax.xaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 2.5, 5, 10]))
    ax.set_xticks([t for t in ax.get_xticks() if 0 <= t <= min(right, 100)])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))


def _dates(summary: dict, turns, n: int) -> list[dt.date] | None:
    if turns is not None and "date" in turns.column_names:
        try:
            return [dt.date.fromisoformat(str(d)) for d in turns.column("date").to_pylist()]
        except (TypeError, ValueError):
            return None
    start, days = summary.get("start"), summary.get("turn_days")
    if not start or not days:
        return None
    start = start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start))
    return [start + dt.timedelta(days=days * t) for t in range(n)]


def _date_axis(ax, summary: dict, turns, x: np.ndarray) -> None:
    """Month labels along the top: the first turn of every k-th month, at most seven of them."""
    dates = _dates(summary, turns, len(x))
    if not dates or len(dates) != len(x):
        return
    firsts = [(t, d) for t, d, prev in zip(x, dates, [None] + dates[:-1]) if prev is None or (d.year, d.month) != (prev.year, prev.month)]
    step = next((k for k in (1, 2, 3, 6, 12) if len(firsts) / k <= 7), 12)
    marks = [(t, d) for t, d in firsts if (d.year * 12 + d.month - 1) % step == 0]
    top = ax.secondary_xaxis("top")
    top.set_xticks([t for t, _ in marks], labels=[d.strftime("%b %Y") for _, d in marks])
    top.tick_params(labelsize=8, colors="#555")


def _outcome_chart(outcomes: dict):
    items = list(outcomes.items())
    fig, ax = _figure(5.4, 0.55 * len(items) + 1.3)
    if not items:
        _empty(ax, "no outcomes")
        return fig
    y = np.arange(len(items))[::-1]  # scenario order, top to bottom
    p = np.array([o.get("p") or 0.0 for _, o in items])
    ci = np.array([o.get("ci95") or (pi, pi) for pi, (_, o) in zip(p, items)], dtype=float)
    err = np.clip(np.vstack([p - ci[:, 0], ci[:, 1] - p]), 0, None) * 100
    ax.barh(y, p * 100, color=[_colour(o) for _, o in items], height=0.6)
    ax.errorbar(p * 100, y, xerr=err, fmt="none", ecolor="#222", capsize=4, linewidth=1.2)
    right = max(ci[:, 1].max() * 100, 1e-3)
    for yi, pi, (lo, hi) in zip(y, p, ci):
        ax.text(hi * 100 + right * 0.02, yi, f"{percent(pi)}\n[{percent(lo)}, {percent(hi)}]", va="center", fontsize=8, linespacing=1.1)
    _percent_axis(ax, right * 1.32)
    ax.set_yticks(y, labels=[_wrap(o.get("label", oid)) for oid, o in items], fontsize=9)
    ax.set_xlabel("Probability (% of runs)")
    _style(ax)
    ax.grid(False, axis="y")
    return fig


def _tension_fan(summary: dict, turns):
    fig, ax = _figure(8.5, 3.8)
    x = _column(turns, "turn")
    p10, p50, p90, mean = (_column(turns, f"tension_{q}") for q in ("p10", "p50", "p90", "mean"))
    if x is None or p50 is None or len(x) == 0 or np.all(np.isnan(p50)):
        _empty(ax, "no tension data")
        return fig
    if p10 is not None and p90 is not None:
        ax.fill_between(x, p10, p90, color="#4c72b0", alpha=0.22, linewidth=0, label="10th–90th percentile")
    ax.plot(x, p50, color="#1f3f73", linewidth=2, label="median")
    if mean is not None:
        ax.plot(x, mean, color="#c44e52", linewidth=1.5, linestyle="--", label="mean")
    ax.set_xlim(x[0], x[-1])
    ax.set_xlabel("Turn")
    ax.set_ylabel("Tension (the scenario's index)")
    fig.legend(loc="outside lower center", fontsize=9, frameon=False, ncols=3)
    ax.margins(y=0.12)
    _style(ax)
    _date_axis(ax, summary, turns, x)
    return fig


def _incidence(summary: dict, turns) -> list[tuple[str, np.ndarray]]:
    """The outcomes to draw as cumulative incidence, with each one's share ended by each turn:
    war and deal first (the ones asked about), then any other outcome but the horizon."""
    outcomes = summary.get("outcomes", {})
    order = sorted((oid for oid, o in outcomes.items() if o.get("kind") != "horizon"),
                   key=lambda oid: {"war": 0, "deal": 1}.get(outcomes[oid].get("kind"), 2))
    lines = [(oid, _column(turns, f"ended_{oid}")) for oid in order]
    return [(oid, y) for oid, y in lines if y is not None and len(y)]


def _rare(incidence: list[tuple[str, np.ndarray]]) -> bool:
    """Whether every outcome stays so rare that a linear scale would flatten them all against zero."""
    return bool(incidence) and max(float(y[-1]) for _, y in incidence) < LOG_BELOW


def _cumulative_incidence(summary: dict, turns, incidence: list[tuple[str, np.ndarray]]):
    fig, ax = _figure(8.5, 3.8)
    x = _column(turns, "turn")
    runs = summary.get("runs") or 0
    if x is None or len(x) == 0 or not incidence or not runs:
        _empty(ax, "no outcome data")
        return fig
    top = 0.0
    for oid, y in incidence:
        o = summary["outcomes"][oid]
        top = max(top, _incidence_line(ax, x, y, runs, _colour(o), _wrap(o.get("label", oid), 40, 1)))
    _incidence_axes(ax, runs, top, _rare(incidence))
    ax.set_xlim(x[0], x[-1])
    ax.set_xlabel("Turn")
    fig.legend(loc="outside lower center", fontsize=9, frameon=False, ncols=1 if len(incidence) > 2 else len(incidence))
    _date_axis(ax, summary, turns, x)
    return fig


def _incidence_line(ax, x: np.ndarray, y: np.ndarray, runs: int, colour: str, name: str) -> float:
    """A cumulative incidence as a step line in its pointwise 95% Wilson band; an outcome never seen
    as the upper bound of its band, dotted. Returns the band's highest point, in %."""
    from ..engine.stats import wilson

    band = np.array([wilson(int(k), runs) for k in np.rint(y * runs)]) * 100  # the counts behind each share
    if y[-1] == 0:  # never seen: what is known is how high it could be
        ax.plot(x, band[:, 1], drawstyle="steps-post", color=colour, linewidth=1.5, linestyle=":",
                label=f"{name}: {none_of(runs, band[-1, 1] / 100)}")
    else:
        ax.fill_between(x, band[:, 0], band[:, 1], step="post", color=colour, alpha=0.2, linewidth=0)
        ax.plot(x, y * 100, drawstyle="steps-post", color=colour, linewidth=2, label=f"{name}: {percent(y[-1])} by turn {int(x[-1])}")
    return float(band[:, 1].max())


def _incidence_axes(ax, runs: int, top: float, log: bool) -> None:
    """The vertical axis of cumulative incidence, in % of runs: logarithmic for rare outcomes."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    if log:
        ax.set_yscale("log")
        ax.set_ylim(50 / runs, top * 1.6)  # from half a run: a zero lower bound sits on the floor
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
        ax.yaxis.set_minor_formatter(NullFormatter())  # decades only: "6x10^-2" between them is noise
    else:
        ax.set_ylim(0, top * 1.15)
    ax.set_ylabel("Runs ended (% of all runs" + (", log scale)" if log else ")"), fontsize=9)
    _style(ax)


def _peak_rungs(summary: dict):
    """One row per actor on a shared axis: the share of runs whose peak was at each level, as bars
    scaled to the row (the tallest bar of all fills it), and the mean marked. One axes, not a panel
    per actor: each panel costs its own layout, and one axis compares the actors at a glance."""
    dist = summary.get("peak_rung_distribution", {})
    means = summary.get("mean_peak_rung", {})
    actors = list(dist)
    fig, ax = _figure(8.5, 0.55 * max(len(actors), 1) + 1.2)
    shares = {a: np.asarray(dist[a].get("counts", []), dtype=float) / max(sum(dist[a].get("counts", [])), 1) for a in actors}
    tallest = max((float(v.max()) for v in shares.values() if v.size), default=0.0)
    if not actors or tallest == 0:
        _empty(ax, "no peak rungs")
        return fig
    for row, actor in enumerate(actors):
        base = len(actors) - 1 - row  # actors in order, top to bottom
        levels = np.asarray(dist[actor].get("levels", []), dtype=float)
        # bin L holds peaks in [L, L+1): drawn there, so the mean falls where it belongs
        ax.axhline(base, color="#bbb", linewidth=0.8)
        seen = shares[actor] > 0  # a bar of no height would be drawn under the base line: left out
        ax.bar(levels[seen], shares[actor][seen] / tallest * 0.85, bottom=base, width=1.0, align="edge", color="#4c72b0",
               edgecolor="white", linewidth=0.6)
        mean = means.get(actor)
        if mean is not None and shares[actor].sum() > 0:
            ax.plot([mean, mean], [base, base + 0.9], color="#c0392b", linestyle="--", linewidth=1.5)
            ax.text(mean, base + 0.9, f" mean {mean:.1f}", fontsize=8, color="#c0392b", va="top")
    all_levels = sorted({lv for a in actors for lv in dist[a].get("levels", [])})
    ax.set_xlim(all_levels[0], all_levels[-1] + 1)
    ax.set_yticks(np.arange(len(actors))[::-1] + 0.3, labels=[_t(a) for a in actors], fontsize=9)
    ax.set_ylim(0, len(actors))
    ax.set_xlabel("Peak rung (ladder level)")
    ax.set_ylabel("Actor (bar height: share of runs)", fontsize=9)
    _style(ax)
    ax.grid(False, axis="y")
    return fig


def _variant_bars(variants: list[dict]):
    """One panel per outcome (each on its own scale, so small probabilities stay visible), a bar per variant."""
    from matplotlib.patches import Patch

    outcomes = variants[0]["summary"].get("outcomes", {}) if variants else {}
    k = max(len(variants), 1)
    fig, axes = _grid(len(outcomes), 2, 4.4, 0.26 * k + 0.85)
    if not outcomes:
        _empty(axes[0], "no outcomes")
        return fig
    y = np.arange(k)[::-1]  # variants in order, top to bottom
    for ax, (oid, o) in zip(axes, outcomes.items()):
        found = [v["summary"].get("outcomes", {}).get(oid, {}) for v in variants]
        p = np.array([vo.get("p") or 0.0 for vo in found])
        ci = np.array([vo.get("ci95") or (pi, pi) for pi, vo in zip(p, found)], dtype=float)
        ax.barh(y, p * 100, height=0.7, color=[_vcolour(i) for i in range(k)])
        ax.errorbar(p * 100, y, xerr=np.clip(np.vstack([p - ci[:, 0], ci[:, 1] - p]), 0, None) * 100,
                    fmt="none", ecolor="#222", capsize=2.5, linewidth=1)
        right = max(ci[:, 1].max() * 100, 1e-3)
        for yi, pi, hi in zip(y, p, ci[:, 1]):
            ax.text(hi * 100 + right * 0.03, yi, percent(pi), va="center", fontsize=8)
        _percent_axis(ax, right * 1.3)
        ax.set_xlabel("Probability (% of runs)", fontsize=8)
        ax.set_yticks([])
        ax.set_title(_wrap(o.get("label", oid), 48, 1), fontsize=10, loc="left")
        ax.tick_params(axis="x", labelsize=8)
        _style(ax)
        ax.grid(False, axis="y")
    handles = [Patch(color=_vcolour(i), label=_wrap(v["name"], 50, 1)) for i, v in enumerate(variants)]
    fig.legend(handles=handles, loc="outside lower center", fontsize=8, frameon=False, ncols=min(k, 3))
    return fig


def _variant_incidence(variants: list[dict], turns: list):
    """A panel per outcome (but the horizon), a line and band per variant."""
    reference = variants[0]["summary"] if variants else {}
    ids = [oid for oid, _ in _incidence(reference, turns[0])] if variants else []
    fig, axes = _grid(len(ids), 2, 4.4, 2.8)
    if not ids:
        _empty(axes[0], "no outcome data")
        return fig
    for ax, oid in zip(axes, ids):
        lines = [(_column(t, "turn"), _column(t, f"ended_{oid}"), v["summary"].get("runs") or 0) for v, t in zip(variants, turns)]
        top = 0.0
        for i, (v, (x, y, runs)) in enumerate(zip(variants, lines)):
            top = max(top, _incidence_line(ax, x, y, runs, _vcolour(i), _wrap(f"[{i + 1}] {v['name']}", 44, 2)))
        _incidence_axes(ax, max(runs for _, _, runs in lines), top, max(float(y[-1]) for _, y, _ in lines) < LOG_BELOW)
        ax.set_xlim(lines[0][0][0], lines[0][0][-1])
        ax.set_title(_wrap(reference["outcomes"][oid].get("label", oid), 48, 1), fontsize=10, loc="left")
        ax.set_xlabel("Turn", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7, frameon=False)
    return fig


def _difference_chart(names: list[str], outcomes: dict, differences: dict):
    """One panel per outcome, a dot and its 95% whisker per variant, zero marked; each panel on its own scale."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    others = names[1:]
    k = max(len(others), 1)
    fig, axes = _grid(len(outcomes), 2, 4.4, 0.3 * k + 0.85)
    if not outcomes or not others or not any(differences.get(oid) for oid in outcomes):
        _empty(axes[0], "nothing to compare: one variant only")
        return fig
    for ax, (oid, o) in zip(axes, outcomes.items()):
        lim = 0.0
        for i, name in enumerate(others):
            d = next((d for d in differences.get(oid, []) if d["variant"] == name), None)
            if d is None:
                continue
            x, lo, hi = d["diff"] * 100, d["ci95"][0] * 100, d["ci95"][1] * 100
            ax.errorbar([x], [k - 1 - i], xerr=[[max(x - lo, 0)], [max(hi - x, 0)]], fmt="o", color=_vcolour(i + 1),
                        capsize=3, markersize=6, linewidth=1.5, label=_wrap(name, 50, 1))
            lim = max(lim, abs(lo), abs(hi))
        ax.axvline(0, color="#222", linewidth=1)
        lim = lim * 1.2 if lim > 0 else 0.1
        ax.set_xlim(-lim, lim)
        ax.xaxis.set_major_locator(MaxNLocator(5, symmetric=True))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+g}" if v else "0"))
        ax.set_ylim(-0.6, k - 0.4)
        ax.set_yticks([])
        ax.set_title(_wrap(o.get("label", oid), 48, 1), fontsize=10, loc="left")
        ax.tick_params(axis="x", labelsize=8)
        ax.set_xlabel("percentage points", fontsize=8)
        _style(ax)
        ax.grid(False, axis="y")
    legend = {label: h for ax in axes for h, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(list(legend.values()), list(legend), loc="outside lower center", fontsize=8, frameon=False, ncols=min(k, 3))
    return fig
