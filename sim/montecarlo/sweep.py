"""`ladder sweep`: a grid over scenario values addressed by path, every point on the same runs.
"""
from __future__ import annotations

import copy
import itertools
import textwrap
from pathlib import Path

import numpy as np

from ..format.values import locate as locate_value
from ..format.errors import ScenarioError, UsageError
from ..format.files import dump_json
from ..format.words import holm_note, percent, plural
from .chunks import Job
from .compare import multiplicity, outcome_codes, paired_differences
from .variants import Member, claimed, fit, group_manifest, play_all, write


def parse_sets(sets: list[str], flag: str = "--set") -> list[tuple[str, list]]:
    """`PATH=V1,V2,...` flags -> [(path, [values parsed as YAML scalars]), ...] (also `explore --lever`)."""
    import yaml

    params: list[tuple[str, list]] = []
    for text in sets:
        path, sep, values = text.partition("=")
        path = path.strip()
        if not sep or not path or not values.strip():
            raise UsageError(f"{flag} {text!r}: expected PATH=V1,V2,..., e.g. mechanics.hazard.max=0.02,0.04")
        if any(p == path for p, _ in params):
            raise UsageError(f"{flag} {path}: given twice; list all its values in one {flag}")
        parsed = []
        for raw in values.split(","):
            raw = raw.strip()
            if not raw:
                raise UsageError(f"{flag} {text!r}: an empty value")
            try:
                value = yaml.safe_load(raw)
            except yaml.YAMLError as exc:
                raise UsageError(f"{flag} {path}: cannot read {raw!r} as a value: {str(exc).splitlines()[0]}") from None
            if isinstance(value, (dict, list)):
                raise UsageError(f"{flag} {path}: {raw!r} is not a single value")
            parsed.append(value)
        params.append((path, parsed))
    return params


def locate(data: dict, path: str, flag: str = "--set"):
    """The container and key a dotted path names in the scenario data (`with_values`' paths),
    which must be a single value: a sweep (or an exploration) sets numbers, not whole mappings or lists."""
    container, key = locate_value(data, path, what=flag)
    node = container[key]
    if isinstance(node, (dict, list)):
        inside = list(node)[:1] if isinstance(node, dict) else [x.get("id", "0") for x in node if isinstance(x, dict)][:1]  # (no id: by position)
        hint = f", e.g. {path}.{inside[0]}" if inside and inside[0] is not None else ""
        raise UsageError(f"{flag} {path}: names a whole {'mapping' if isinstance(node, dict) else 'list'}; give a path to a single value{hint}")
    return container, key


def _point_name(values: dict) -> str:
    return ", ".join(f"{p}={_show(v)}" for p, v in values.items())


def _show(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _plain_value(value):
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def sweep_points(loaded, params: list[tuple[str, list]], seed: int) -> list[Member]:
    """Every grid point as a validated scenario, before anything runs; the first --set varies slowest."""
    import yaml

    from ..format.scenario import validate
    from ..format.source import parse_document

    base = loaded.scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    for path, _ in params:
        locate(base, path)  # every path checked before any value
    grid = list(itertools.product(*(values for _, values in params)))
    members = []
    for k, combo in enumerate(grid, 1):
        values = {path: v for (path, _), v in zip(params, combo)}
        data = copy.deepcopy(base)
        for path, v in values.items():
            container, key = locate(data, path)
            container[key] = v
        try:  # keys stay in scenario order: actors' order is part of the game
            scenario = validate(parse_document(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "sweep point"))
        except ScenarioError as exc:
            first = exc.problems[0].message
            more = f" (and {len(exc.problems) - 1} more problems)" if len(exc.problems) > 1 else ""
            raise UsageError(f"sweep point {k} of {len(grid)} ({_point_name(values)}): {first}{more}") from None
        job = Job(scenario, loaded.name, seed, {})
        members.append(Member(_point_name(values), _point_name(values), job, f"point-{k}", str(loaded.path)))
    return members


def sweep(scenario: str, sets: list[str], runs: int, seed: int, out: Path, workers: int, chunk: int, arguments: dict) -> dict:
    """Run every grid point into OUT/point-K/, then write sweep.json, sweep.html and manifest.json."""
    from ..format.scenario import open_scenario

    loaded = open_scenario(scenario)
    params = parse_sets(sets)
    members = sweep_points(loaded, params, seed)
    out = Path(out)
    with claimed(out):
        parameters = [{"path": p, "values": [_plain_value(v) for v in vs]} for p, vs in params]
        manifest = group_manifest("sweep", members, seed, runs, chunk, arguments, scenario=loaded.name, parameters=parameters)
        write(out / "manifest.json", dump_json(manifest))
        summaries = play_all(members, out, runs, chunk, workers, arguments)
        outcomes = {oid: {"label": o["label"], "kind": o["kind"]} for oid, o in summaries[0]["outcomes"].items()}
        ids = list(outcomes)
        codes = [outcome_codes(out / m.folder / "runs.parquet", ids, runs) for m in members]
        differences = paired_differences([m.folder for m in members], codes, ids)
        points = []
        for k, (m, s, combo) in enumerate(zip(members, summaries, itertools.product(*(vs for _, vs in params))), 1):
            points.append({
                "point": k, "folder": m.folder,
                "values": {p: _plain_value(v) for (p, _), v in zip(params, combo)},
                "outcomes": {oid: {"count": o["count"], "p": o["p"], "ci95": o["ci95"]} for oid, o in s["outcomes"].items()},
            })
        result = {
            "scenario": loaded.name, "title": loaded.scenario.title, "seed": seed, "runs": runs,
            "parameters": parameters, "outcomes": outcomes, "points": points,
            "differences": differences, "multiplicity": multiplicity(differences),
        }
        write(out / "sweep.json", dump_json(result))
        write(out / "sweep.html", sweep_report(result))
        write(out / "manifest.json", dump_json(manifest | {"partial": False}))
        return result


def _short(paths: list[str]) -> list[str]:
    """Column heads: the last two components of each path, or more where two would clash."""
    for n in (1, 2, 3):
        heads = [".".join(p.split(".")[-n:]) if n < len(p.split(".")) else p for p in paths]
        if n > 1 and len(set(heads)) == len(heads):
            return heads
    return paths


def differs(s: dict) -> dict[tuple[str, str], bool]:
    """(point folder, outcome) -> whether that point's probability differs from point 1's,
    by the paired McNemar p Holm-adjusted over every point and outcome."""
    return {(d["variant"], oid): d["p_holm"] < 0.05 for oid, rows in s["differences"].items() for d in rows}


def sweep_table(s: dict, folder: Path) -> list[str]:
    """The grid at 80 columns: one row per point, its values then each outcome's p, and under
    it each outcome's 95% interval."""
    paths = [p["path"] for p in s["parameters"]]
    ids = list(s["outcomes"])
    heads = _short(paths)
    widths = [min(24, max([len(h)] + [len(_show(pt["values"][p])) for pt in s["points"]])) for h, p in zip(heads, paths)]
    out_ws = [max(14, min(17, len(oid) + 1)) for oid in ids]  # an interval such as 0.012%-0.133%, and a mark
    while widths and 6 + sum(w + 1 for w in widths + out_ws) > 80 and max(widths) > 6:
        widths[widths.index(max(widths))] -= 1  # too wide: the widest value column, a character at a time
    lines = [f"sweep: {s['scenario']}, {plural(len(s['points']), 'point')} of {plural(s['runs'], 'run', spec=',')}, seed {s['seed']}", f"results in {folder}/", ""]
    for p in s["parameters"]:
        lines.append(fit(f"  {p['path']} = {', '.join(_show(v) for v in p['values'])}", 80))
    head = f"  {'#':>3} " + " ".join(f"{fit(h, w):<{w}}" for h, w in zip(heads, widths))
    head += "".join(f" {fit(oid, w - 1):>{w - 1}} " for oid, w in zip(ids, out_ws))
    lines += ["", head.rstrip()]
    marked = differs(s)
    indent = 6 + sum(w + 1 for w in widths) - 1
    for pt in s["points"]:
        row = f"  {pt['point']:>3} " + " ".join(f"{fit(_show(pt['values'][p]), w):<{w}}" for p, w in zip(paths, widths))
        under = " " * indent
        for oid, w in zip(ids, out_ws):
            o = pt["outcomes"][oid]
            star = "*" if marked.get((pt["folder"], oid)) else ""
            row += f" {percent(o['p']):>{w - 1}}{star or ' '}"  # the mark past the column, so the numbers align
            under += f" {percent(o['ci95'][0]) + '-' + percent(o['ci95'][1]):>{w - 1}} "
        lines += [row.rstrip(), under.rstrip()]
    labels = ", ".join(f"{oid}: {o['label']}" for oid, o in s["outcomes"].items())
    lines += ["", "  under each p its 95% interval (Wilson); same runs at every point;",
              f"  * differs from point 1 (McNemar p < 0.05, {holm_note(s['multiplicity']['comparisons'])})"]
    lines += ["  " + line for line in textwrap.wrap(labels, 76)]
    return lines


def sweep_report(s: dict) -> str:
    """sweep.html: a table of the grid and, for each swept value, each outcome's probability against it."""
    from .report import _ci, _e, _img, _page, _section, _table

    paths = [p["path"] for p in s["parameters"]]
    outcomes = s["outcomes"]
    marked = differs(s)
    rows = []
    for pt in s["points"]:
        cells = "".join(f"<td>{_e(_show(pt['values'][p]))}</td>" for p in paths)
        cells += "".join(
            f"<td class=num>{percent(pt['outcomes'][oid]['p'])}{'*' if marked.get((pt['folder'], oid)) else ''} "
            f"<span class=muted>{_ci(pt['outcomes'][oid]['ci95'])}</span></td>"
            for oid in outcomes
        )
        rows.append(f'<tr data-point="{pt["point"]}"><td class=num>{pt["point"]}</td>{cells}</tr>')
    table = _table(["#"] + paths + [o["label"] for o in outcomes.values()], rows)
    charts = "".join(
        _img(_sweep_chart(s, j), f"Probability of each outcome against {path}, with 95% intervals")
        for j, path in enumerate(paths)
    )
    head = (
        f"<header><h1>Sweep: {_e(s.get('title') or s.get('scenario'))}</h1>"
        f'<p class="muted">Scenario {_e(s.get("scenario"))} · seed {_e(s.get("seed"))} · {s.get("runs", 0):,} runs per point · '
        f"{len(s['points'])} points · every point plays the same runs (common random numbers)</p></header>"
    )
    sections = [
        _section("grid", "Grid", "Each point's values and each outcome's probability with its Wilson 95% interval; "
                 "* where it differs from point 1's (paired over the same runs, exact McNemar p < 0.05, "
                 f"{holm_note(s['multiplicity']['comparisons'])}).", table),
        _section(
            "sweep-charts", "Outcome probabilities against each swept value",
            "One panel per outcome, each on its own scale, with 95% intervals; where other values are swept too, "
            "one line per combination of them.",
            charts,
        ),
    ]
    return _page(f"Sweep: {s.get('title', '')}", head + "".join(sections))


def _numeric(values: list) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _sweep_chart(s: dict, j: int):
    """For parameter j: a panel per outcome, p against the value, a line per combination of the others."""
    from matplotlib.ticker import FuncFormatter

    from .report import _colour, _grid, _style, _vcolour, _wrap

    params = s["parameters"]
    path, values = params[j]["path"], params[j]["values"]
    others = [p["path"] for i, p in enumerate(params) if i != j]
    numeric = _numeric(values)
    xs = {_show(v): (v if numeric else n) for n, v in enumerate(values)}
    series: dict[tuple, list] = {}
    for pt in s["points"]:
        series.setdefault(tuple(_show(pt["values"][o]) for o in others), []).append(pt)
    numbers = [float(v) for v in values] if numeric else []
    step = 0.08 if not numeric else 0.012 * ((max(numbers) - min(numbers)) or 1.0)
    outcomes = s["outcomes"]
    fig, axes = _grid(len(outcomes), 2, 4.4, 2.6)
    for ax, (oid, o) in zip(axes, outcomes.items()):
        for i, (combo, pts) in enumerate(series.items()):
            pts = sorted(pts, key=lambda pt: xs[_show(pt["values"][path])])
            x = np.array([xs[_show(pt["values"][path])] for pt in pts], dtype=float)
            if len(series) > 1:  # side by side, so the whiskers do not hide each other
                x = x + (i - (len(series) - 1) / 2) * step
            p = np.array([pt["outcomes"][oid]["p"] for pt in pts]) * 100
            ci = np.array([pt["outcomes"][oid]["ci95"] for pt in pts], dtype=float) * 100
            err = np.clip(np.vstack([p - ci[:, 0], ci[:, 1] - p]), 0, None)
            colour = _colour(o) if len(series) == 1 else _vcolour(i)
            label = ", ".join(f"{a}={b}" for a, b in zip(others, combo)) if others else None
            ax.errorbar(x, p, yerr=err, fmt="o-", color=colour, capsize=3, markersize=4, linewidth=1.4,
                        label=_wrap(label, 60, 1) if label else None)
        if not numeric:
            ax.set_xticks(range(len(values)), labels=[_wrap(_show(v), 14, 2) for v in values], fontsize=8)
            ax.set_xlim(-0.5, len(values) - 0.5)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
        ax.set_title(_wrap(o.get("label", oid), 48, 1), fontsize=10, loc="left")
        ax.set_xlabel(_wrap(path, 60, 1), fontsize=8)
        ax.set_ylabel("Probability (% of runs)", fontsize=8)
        ax.tick_params(labelsize=8)
        _style(ax)
    if others:
        legend = {label: h for ax in axes for h, label in zip(*ax.get_legend_handles_labels())}
        fig.legend(list(legend.values()), list(legend), loc="outside lower center", fontsize=8, frameon=False,
                   ncols=min(len(legend), 2))
    return fig
