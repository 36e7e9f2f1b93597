"""`ladder explore`: which uncertain values drive an outcome (DESIGN: "sensitivity analysis and
scenario discovery").

A design over ranges of scenario values (`--vary PATH=LO:HI`) and discrete levers (`--lever
PATH=A,B`): Saltelli's scheme for Sobol indices or Morris trajectories (SALib), or a Latin
hypercube (`scipy.stats.qmc`), seeded from the seed. A lever is sampled alongside the ranges, as
one more factor of the design whose unit value picks one of its values, each with an equal
share: so the indices and the boxes speak of levers too, and the number of points does not
multiply with them. Each point plays the games of a variant made by `with_values`, on the same
runs as every other point (common random numbers, as compare and sweep do).

The design is played as few batches as it can be: the numbers the engine varies per world
(`engine.params`) differ from world to world inside one batch, so points that differ only in
those are one batch of points x runs worlds. Points are grouped by everything else they set
(a lever, a sanction lag, an effect...): each group's rules are compiled once, from a variant
with its values. World j of a group is run j % R of its point j // R, and a world's luck
depends only on its run, so every point plays exactly the games of its own batch.
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from ..engine.params import is_per_world
from ..format.errors import UsageError, quoted
from ..format.files import dump_json
from ..format.values import digests_with, with_values
from ..format.words import percent, plural
from .backends import LocalBackend
from .batch import Progress
from .chunks import FIXED, Chunks, Job, PerWorld, _fixed, column
from .folder import results_table
from .prim import peel
from .sweep import _plain_value, _show, locate, parse_sets
from .variants import claimed, fit, group_manifest, write

METHODS = ("sobol", "morris", "lhs")
# the fewest points each method can analyse: Sobol's bootstrap and Morris's sigma need several
# base samples or trajectories; PRIM needs a few cases to peel
MINIMUM = {"sobol": 8, "morris": 4, "lhs": 4}
MORRIS_LEVELS = 4  # SALib's default grid: each factor at 0, 1/3, 2/3 and 1 of its range
INTEREST = 0.75  # PRIM's cases of interest: points at or above this quantile of the outcome's probability
LIBRARIES = ("SALib", "scipy", "numpy")


@dataclass(frozen=True)
class Factor:
    """One dimension of the design: a range of a number, or a lever's values."""

    path: str
    low: float = 0.0
    high: float = 1.0
    values: tuple = ()  # a lever's values; empty for a range
    whole: bool = False  # the scenario holds a whole number there, so design values are rounded

    def value(self, u: float):
        """The scenario value at unit coordinate u (a lever: one of its values, equal shares)."""
        if self.values:
            return self.values[min(int(u * len(self.values)), len(self.values) - 1)]
        v = self.low + float(u) * (self.high - self.low)
        return int(round(v)) if self.whole else v

    def number(self, u: float) -> float:
        """The coordinate the analysis reads: a range's value, a lever's index among its values."""
        if self.values:
            return float(min(int(u * len(self.values)), len(self.values) - 1))
        return float(self.value(u))


def parse_vary(texts: list[str]) -> list[tuple[str, float, float]]:
    """`PATH=LO:HI` flags -> [(path, lo, hi)]; the numbers and their order checked."""
    out = []
    for text in texts:
        path, sep, bounds = text.partition("=")
        path = path.strip()
        lo_text, colon, hi_text = bounds.partition(":")
        if not sep or not path or not colon:
            raise UsageError(f"--vary {text!r}: expected PATH=LO:HI, e.g. mechanics.hazard.midpoint=60:90")
        try:
            lo, hi = float(lo_text), float(hi_text)
        except ValueError:
            raise UsageError(f"--vary {path}: {bounds!r} is not LO:HI with two numbers, e.g. 60:90") from None
        out.append((path, lo, hi))
    return out


def factors(model, varies: list[tuple[str, float, float]], levers: list[tuple[str, list]]) -> list[Factor]:
    """The design's dimensions, every path, range and value checked against the scenario before anything runs."""
    data = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    out: list[Factor] = []
    for path, lo, hi in varies:
        if any(f.path == path for f in out):
            raise UsageError(f"--vary {path}: given twice")
        container, key = locate(data, path, "--vary")
        current = container[key]
        if isinstance(current, bool) or not isinstance(current, (int, float)):
            raise UsageError(f"--vary {path}: holds {quoted(current)}, not a number; give its values with --lever instead")
        if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
            raise UsageError(f"--vary {path}={lo:g}:{hi:g}: LO must be below HI, both finite")
        factor = Factor(path, lo, hi, whole=isinstance(current, int))
        for end in (factor.value(0.0), factor.value(1.0)):  # a range the scenario cannot take fails here, not at point 37
            with_values(model, {path: end}, what="--vary")
        out.append(factor)
    for path, values in levers:
        if any(f.path == path for f in out):
            raise UsageError(f"--lever {path}: also given with --vary; a path is a range or a lever")
        locate(data, path, "--lever")
        twice = next((v for i, v in enumerate(values) if v in values[:i]), None)
        if twice is not None:  # a repeated value would take two shares of the design
            raise UsageError(f"--lever {path}: the value {_show(twice)} is given twice")
        for v in values:
            with_values(model, {path: v}, what="--lever")
        out.append(Factor(path, values=tuple(values)))
    if not out:
        raise UsageError("explore needs at least one --vary PATH=LO:HI or --lever PATH=A,B")
    return out


def check(method: str, points: int, outcome: str, model) -> None:
    """The method, the number of points and the outcome, each refused in one line if wrong."""
    if method not in METHODS:
        raise UsageError(f"--method {method!r}: expected one of {', '.join(METHODS)}")
    if points < MINIMUM[method]:
        raise UsageError(f"--points {points}: {method} needs at least {MINIMUM[method]}")
    if method == "sobol" and points & (points - 1):
        raise UsageError(f"--points {points}: sobol needs a power of 2 (Saltelli's scheme keeps its balance only then), e.g. {1 << points.bit_length()}")
    ids = [o.id for o in model.outcomes]
    if outcome not in ids:
        raise UsageError(f"--outcome {outcome!r}: the scenario's outcomes are {', '.join(ids)}")


def _problem(fs: list[Factor]) -> dict:
    # every factor on the unit interval: the indices then speak of a factor's whole range, and
    # Morris's effects of different factors are comparable
    return {"num_vars": len(fs), "names": [f.path for f in fs], "bounds": [[0.0, 1.0]] * len(fs)}


def design(method: str, fs: list[Factor], points: int, seed: int) -> np.ndarray:
    """The design in unit coordinates, a row per point: sobol N*(D+2) rows (first-order and total
    indices, no second order), morris N*(D+1), lhs N."""
    _need()
    if method == "sobol":
        from SALib.sample import sobol

        return sobol.sample(_problem(fs), points, calc_second_order=False, seed=seed)
    if method == "morris":
        from SALib.sample import morris

        return morris.sample(_problem(fs), points, num_levels=MORRIS_LEVELS, seed=seed)
    from scipy.stats import qmc

    return qmc.LatinHypercube(len(fs), rng=np.random.default_rng(seed)).random(points)


MEASURES = {"sobol": ("ST", ["S1", "S1_conf", "ST", "ST_conf"]), "morris": ("mu_star", ["mu_star", "mu_star_conf", "sigma", "mu"]),
            "lhs": ("rho", ["rho", "p"])}


def indices(method: str, fs: list[Factor], unit: np.ndarray, y: np.ndarray, seed: int) -> dict:
    """Per factor: Sobol's first-order and total indices with SALib's bootstrap 95% intervals,
    Morris's mu* (with its interval) and sigma, or for a Latin hypercube Spearman's rank
    correlation (no variance decomposition without a structured design). `ranked`: most
    influential first. An outcome whose probability is the same at every point has no index."""
    _need()
    names = [f.path for f in fs]
    key, fields = MEASURES[method]
    found = {"method": method, "measure": key, "conf_level": 0.95}
    if np.ptp(y) == 0:  # SALib would divide by a zero variance
        return found | {"factors": {n: dict.fromkeys(fields) for n in names}, "ranked": names,
                        "note": "the outcome's probability is the same at every point: nothing to attribute"}
    if method == "sobol":
        from SALib.analyze import sobol

        raw = sobol.analyze(_problem(fs), y, calc_second_order=False, seed=seed)
    elif method == "morris":
        from SALib.analyze import morris

        raw = morris.analyze(_problem(fs), unit, y, num_levels=MORRIS_LEVELS, seed=seed)
    else:
        from scipy.stats import spearmanr

        raw = dict(zip(fields, zip(*(spearmanr(unit[:, i], y) for i in range(len(names))))))
    per = {n: {f: _num(raw[f][i]) for f in fields} for i, n in enumerate(names)}
    ranked = sorted(names, key=lambda n: -abs(per[n][key] or 0.0))
    return found | {"factors": per, "ranked": ranked}


def _num(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None  # an outcome that never varies has no index; JSON has no NaN


def _need() -> None:
    try:
        import SALib  # noqa: F401
        import scipy  # noqa: F401
    except ImportError:
        raise UsageError("explore needs SALib and scipy: pip install 'escalation-ladder[explore]'") from None


def versions() -> dict:
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def discover(fs: list[Factor], unit: np.ndarray, p: np.ndarray, outcome: str) -> dict:
    """PRIM on the design points: a point is of interest where the outcome's probability is at
    or above its 75th percentile over the design (and above its least), so there are always some
    unless the outcome never varies."""
    cut = float(np.quantile(p, INTEREST))
    y = (p >= cut) & (p > p.min())
    x = np.array([[f.number(u) for f, u in zip(fs, row)] for row in unit])
    result = peel(x, y, [f.path for f in fs])
    return {"outcome": outcome, "interest": f"p({outcome}) >= {cut:.6g}, its {INTEREST:.0%} quantile over the design points",
            "cut": cut, "levers": {f.path: [_plain_value(v) for v in f.values] for f in fs if f.values}} | result


def _design_table(fs: list[Factor], unit: np.ndarray):
    """design.parquet: the point and each factor's value, columns named as results name them
    (`column`), the schema's `ladder_names` mapping them back to their paths."""
    import json

    import pyarrow as pa

    data = {"point": pa.array(np.arange(1, len(unit) + 1, dtype=np.int64))}
    for i, f in enumerate(fs):
        values = [f.value(u) for u in unit[:, i]]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        data[column(f.path)] = pa.array(values if numeric else [_show(v) for v in values])
    renamed = {column(f.path): f.path for f in fs if column(f.path) != f.path}
    return pa.table(data).replace_schema_metadata({"ladder_names": json.dumps(renamed, sort_keys=True)})


@dataclass
class _Group:
    """Design points that set the same values the engine cannot vary per world: one batch."""

    values: dict  # those values
    points: list[int]  # indices into the design, ascending


def _groups(model, fs: list[Factor], rows: list[dict]) -> tuple[list[str], list[_Group]]:
    """The paths varied per world, and the points grouped by the values of every other path."""
    data = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    wide = [f.path for f in fs if not f.values and is_per_world(data, f.path)]
    groups: dict[str, _Group] = {}
    for k, values in enumerate(rows):
        fixed = {p: v for p, v in values.items() if p not in wide}
        groups.setdefault(json.dumps(fixed, sort_keys=True, default=str), _Group(fixed, [])).points.append(k)
    return wide, list(groups.values())


def _play(model, name: str, seed: int, wide: list[str], groups: list[_Group], rows: list[dict], runs: int,
          chunk: int, workers: int) -> tuple[list[dict], list[str]]:
    """Every point's games, a group at a time as one batch of worlds (in chunks, over the
    workers): each point's rows (the columns of runs.parquet), and each point's digest."""
    played: list[dict] = [{}] * len(rows)
    digests: list[str] = [""] * len(rows)
    progress = Progress(len(rows) * runs)
    try:
        for group in groups:
            scenario = with_values(model, group.values, what="explore") if group.values else model
            values = np.array([[float(rows[k][p]) for p in wide] for k in group.points]).reshape(len(group.points), len(wide))
            job = Job(scenario, name, seed, per_world=PerWorld(tuple(wide), values, runs))
            for k, d in zip(group.points, digests_with(scenario, wide, values)):
                digests[k] = d
            parts = {}
            backend = LocalBackend(workers)
            try:
                for result in backend.run(job, Chunks(job.per_world.worlds, chunk)):
                    parts[result["lo"]] = result["rows"]
                    progress.add(result["hi"] - result["lo"])
            finally:
                backend.close()
            columns = {c: _joined([parts[lo][c] for lo in sorted(parts)]) for c in parts[0]}
            for i, k in enumerate(group.points):
                played[k] = {c: v[i * runs:(i + 1) * runs] for c, v in columns.items()}
    finally:
        progress.close()
    return played, digests


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """Columns of rows end to end; masked (a threshold never crossed) if any part is."""
    return np.ma.concatenate(parts) if any(np.ma.isMaskedArray(p) for p in parts) else np.concatenate(parts)


def _point_summary(model, played: dict) -> dict:
    """What the analysis reads of a point's games: each outcome's probability and each actor's
    mean peak rung, summed as a batch's summary sums them (`summary.summary`)."""
    n = len(played["run"])
    outcomes = {o.id: {"p": float(np.count_nonzero(played["outcome"] == o.id)) / n, "label": o.label} for o in model.outcomes}
    peaks = {a: float(_fixed(played[f"peak_{a}"]).sum()) / FIXED / n for a in model.actors}
    return {"outcomes": outcomes, "mean_peak_rung": peaks}


def _labelled(table, job: Job, labels: list[str], digests: list[str], per: int):
    """A table of the design's rows as results hold them (`results_table`), each row's variant
    and digest its point's, and the point after the provenance columns."""
    import pyarrow as pa

    table = results_table(table, job)
    table = table.set_column(table.schema.get_field_index("variant"), "variant", pa.array(np.repeat(labels, per), pa.string()))
    table = table.set_column(table.schema.get_field_index("digest"), "digest", pa.array(np.repeat(digests, per), pa.string()))
    return table.add_column(4, "point", pa.array(np.repeat(np.arange(1, len(labels) + 1, dtype=np.int64), per)))


def _runs_table(job: Job, played: list[dict], labels: list[str], digests: list[str]):
    """runs.parquet: every game of the design, point by point and run by run."""
    from .folder import _table

    columns = {c: _joined([p[c] for p in played]) for c in played[0]}
    return _labelled(_table(columns), job, labels, digests, len(played[0]["run"]))


def _results_table(job: Job, summaries: list[dict], labels: list[str], digests: list[str]):
    """results.parquet: a row per point, each outcome's probability and each actor's mean peak
    rung, with the provenance columns every results file has (the point's variant and digest)."""
    import pyarrow as pa

    row = {f"p_{oid}": [s["outcomes"][oid]["p"] for s in summaries] for oid in summaries[0]["outcomes"]}
    row |= {f"peak_{actor}": [s["mean_peak_rung"][actor] for s in summaries] for actor in summaries[0]["mean_peak_rung"]}
    return _labelled(pa.table(row), job, labels, digests, 1)


def explore(model, name: str, source: str, varies: list[tuple[str, float, float]], levers: list[tuple[str, list]],
            method: str, points: int, runs: int, seed: int, outcome: str, out: Path, workers: int,
            chunk: int | None, arguments: dict) -> dict:
    """Play the design and write runs.parquet, design.parquet, results.parquet, indices.json,
    prim.json, report.html and manifest.json; returns the tables and the analyses."""
    import pyarrow.parquet as pq

    fs = factors(model, varies, levers)
    check(method, points, outcome, model)
    unit = design(method, fs, points, seed)
    rows = [{f.path: f.value(u) for f, u in zip(fs, row)} for row in unit]
    labels = [", ".join(f"{p}={_show(v)}" for p, v in values.items()) for values in rows]
    wide, groups = _groups(model, fs, rows)
    chunk = chunk or 5000  # worlds a chunk, as a batch's runs (results do not depend on it)
    out = Path(out)
    with claimed(out):
        manifest = group_manifest(
            "explore", [], seed, runs, chunk, arguments, scenario=name, source=source, digest=Job(model, name, seed).digest,
            method=method, points=points, design_rows=len(unit), runs_per_point=runs, outcome=outcome,
            vary=[{"path": f.path, "low": f.low, "high": f.high, "whole": f.whole} for f in fs if not f.values],
            levers=[{"path": f.path, "values": [_plain_value(v) for v in f.values]} for f in fs if f.values],
            lever_design="sampled alongside: one more factor of the design, its unit value picking one value (equal shares)",
            per_world=wide, batches=len(groups),
            settings={"sobol_second_order": False, "morris_levels": MORRIS_LEVELS, "bootstrap_resamples": 100,
                      "conf_level": 0.95, "prim_interest_quantile": INTEREST},
            versions=versions(),
        )
        write(out / "manifest.json", dump_json(manifest))
        if sys.stderr.isatty():
            print(f"{plural(len(unit), 'point')} as {plural(len(groups), 'batch', 'batches')} (varied per world: "
                  f"{', '.join(wide) or 'nothing'})", file=sys.stderr)
        played, digests = _play(model, name, seed, wide, groups, rows, runs, chunk, workers)
        job = Job(model, name, seed)
        summaries = [_point_summary(model, p) for p in played]
        pq.write_table(_runs_table(job, played, labels, digests), out / "runs.parquet")
        design_table = _design_table(fs, unit)
        results = _results_table(job, summaries, labels, digests)
        p = np.array([s["outcomes"][outcome]["p"] for s in summaries])
        found = indices(method, fs, unit, p, seed)
        boxes = discover(fs, unit, p, outcome)
        pq.write_table(design_table, out / "design.parquet")
        pq.write_table(results, out / "results.parquet")
        write(out / "indices.json", dump_json(found))
        write(out / "prim.json", dump_json(boxes))
        labels_of = {oid: o["label"] for oid, o in summaries[0]["outcomes"].items()}
        info = {"scenario": name, "title": model.title, "seed": seed, "method": method, "points": len(unit), "runs": runs,
                "outcome": outcome, "outcome_label": labels_of[outcome]}
        write(out / "report.html", explore_report(info, fs, unit, p, found, boxes))
        members = [{"name": f"point {k}: {label}", "spec": label, "point": k, "scenario": name, "source": source, "digest": d}
                   for k, (label, d) in enumerate(zip(labels, digests), 1)]
        write(out / "manifest.json", dump_json(manifest | {"members": members, "partial": False}))
    return {"design": design_table, "results": results, "indices": found, "prim": boxes, "info": info}


def explore_table(result: dict, folder: Path) -> list[str]:
    """The terminal's summary: each factor's influence, most first, and PRIM's chosen box."""
    info, ind, boxes = result["info"], result["indices"], result["prim"]
    lines = [f"explore: {info['scenario']}, {info['method']}, {plural(info['points'], 'point')} of "
             f"{plural(info['runs'], 'run', spec=',')}, seed {info['seed']}, outcome {info['outcome']}", f"results in {folder}/", ""]
    heads = {"ST": "S1 ± 95%   ST ± 95%", "mu_star": "mu* ± 95%   sigma", "rho": "Spearman rho"}
    lines.append(f"  {'parameter':<40} {heads[ind['measure']]}")
    for n in [] if "note" in ind else ind["ranked"]:
        v = ind["factors"][n]
        if ind["measure"] == "ST":
            text = f"{_f(v['S1'])} ± {_f(v['S1_conf'])}  {_f(v['ST'])} ± {_f(v['ST_conf'])}"
        elif ind["measure"] == "mu_star":
            text = f"{_f(v['mu_star'])} ± {_f(v['mu_star_conf'])}  {_f(v['sigma'])}"
        else:
            text = _f(v["rho"])
        lines.append(f"  {fit(n, 40):<40} {text}")
    if "note" in ind:
        lines.append(f"  ({ind['note']})")
    box = boxes["boxes"][boxes["chosen"]]
    lines += ["", f"  PRIM, {boxes['interest']}:"]
    if not boxes["cases_of_interest"]:
        return lines + ["  no point of interest: the outcome's probability is the same at every point"]
    lines.append(f"  box {box['box']} of {len(boxes['boxes']) - 1}: coverage {percent(box['coverage'])}, density {percent(box['density'])}, "
                 f"mass {percent(box['mass'])}")
    for n in box["restricted"] or ["(no parameter restricted)"]:
        lo, hi = box["limits"].get(n, (None, None))
        lines.append(fit(f"    {n}" + (f" in [{_bound(boxes, n, lo)}, {_bound(boxes, n, hi)}]" if lo is not None else ""), 80))
    return lines


def _f(x) -> str:
    return "  n/a" if x is None else f"{x:5.3f}"


def _bound(boxes: dict, name: str, x: float) -> str:
    """A box limit as the user gave the value: a lever's value, not its index."""
    values = boxes["levers"].get(name)
    return _show(values[int(x)]) if values else f"{x:.4g}"


def explore_report(info: dict, fs: list[Factor], unit: np.ndarray, p: np.ndarray, ind: dict, boxes: dict) -> str:
    """report.html: the indices with their intervals, PRIM's trade-off with the chosen box, and the
    outcome against the most influential parameters."""
    from .report import _e, _img, _page, _section, _table

    head = (f"<header><h1>Exploration: {_e(info['title'])}</h1>"
            f'<p class="muted">Scenario {_e(info["scenario"])} · seed {info["seed"]} · {_e(info["method"])} design of '
            f"{info['points']} points · {info['runs']:,} runs per point, the same runs at every point · "
            f"outcome: {_e(info['outcome_label'])}</p></header>")
    notes = {"ST": "Sobol indices (Saltelli's scheme, SALib): first-order S1 and total ST, each with SALib's bootstrap 95% interval.",
             "mu_star": "Morris's elementary effects (SALib): mu*, the mean absolute effect of moving a parameter across its "
                        "whole range, with its bootstrap 95% interval, and sigma, their spread (interactions, non-linearity).",
             "rho": "Spearman's rank correlation of each parameter with the outcome's probability over the Latin hypercube "
                    "(a Latin hypercube has no structure for Sobol or Morris indices)."}
    box = boxes["boxes"][boxes["chosen"]]
    rows = [f"<tr><td>{_e(n)}</td><td>{_e(_bound(boxes, n, box['limits'][n][0]))}</td><td>{_e(_bound(boxes, n, box['limits'][n][1]))}</td></tr>"
            for n in box["restricted"]]
    chosen = (f"<p>Chosen box {box['box']}: coverage {percent(box['coverage'])}, density {percent(box['density'])}, "
              f"mass {percent(box['mass'])}.</p>" + (_table(["parameter", "from", "to"], rows) if rows else "<p>No parameter restricted.</p>"))
    top = ind["ranked"][:3]
    sections = [
        _section("indices", "Which parameters matter", notes[ind["measure"]], _img(_influence_chart(ind), notes[ind["measure"]])),
        _section("prim", "Scenario discovery (PRIM)",
                 f"Points of interest: {boxes['interest']}. Each box of the peeling trajectory (peel {boxes['alpha']:.0%}, "
                 f"smallest box {boxes['mass_min']:.0%} of the points) by coverage and density; chosen: the most coverage "
                 f"at density {boxes['density_threshold']:.0%} or more, else the densest.",
                 _img(_tradeoff_chart(boxes), "PRIM peeling trajectory, coverage against density") + chosen),
        _section("scatter", "The outcome against the most influential parameters",
                 "Each design point's probability of the outcome; points of interest for PRIM in red.",
                 _img(_scatter_chart(info, fs, unit, p, top, boxes["cut"]), "Outcome probability against parameters")),
    ]
    return _page(f"Exploration: {info['title']}", head + "".join(sections))


def _influence_chart(ind: dict):
    from .report import _figure, _style, _wrap

    names = ind["ranked"][::-1]  # most influential at the top
    fig, ax = _figure(7.0, 1.2 + 0.45 * len(names))
    y = np.arange(len(names))
    v = lambda key: np.array([ind["factors"][n][key] or 0.0 for n in names])  # noqa: E731
    if ind["measure"] == "ST":
        ax.barh(y + 0.2, v("S1"), 0.4, xerr=v("S1_conf"), capsize=3, color="#4c78a8", label="first-order S1")
        ax.barh(y - 0.2, v("ST"), 0.4, xerr=v("ST_conf"), capsize=3, color="#f58518", label="total ST")
        ax.set_xlabel("Sobol index (share of the variance of the outcome's probability)", fontsize=8)
    elif ind["measure"] == "mu_star":
        ax.barh(y + 0.2, v("mu_star"), 0.4, xerr=v("mu_star_conf"), capsize=3, color="#4c78a8", label="mu*")
        ax.barh(y - 0.2, v("sigma"), 0.4, color="#f58518", label="sigma")
        ax.set_xlabel("Elementary effect on the outcome's probability, over a parameter's whole range", fontsize=8)
    else:
        ax.barh(y, v("rho"), 0.6, color="#4c78a8", label="Spearman rho")
        ax.set_xlabel("Rank correlation with the outcome's probability", fontsize=8)
    ax.set_yticks(y, labels=[_wrap(n, 40, 2) for n in names], fontsize=8)
    ax.set_ylabel("Parameter", fontsize=8)
    fig.legend(loc="outside upper center", fontsize=8, frameon=False, ncols=2)  # above the bars, never over them
    _style(ax)
    return fig


def _tradeoff_chart(boxes: dict):
    from .report import _figure, _style

    fig, ax = _figure(5.6, 3.6)
    cov = [b["coverage"] * 100 for b in boxes["boxes"]]
    den = [b["density"] * 100 for b in boxes["boxes"]]
    ax.plot(cov, den, "o-", color="#4c78a8", markersize=3, linewidth=1.2, label="peeling trajectory")
    c = boxes["boxes"][boxes["chosen"]]
    ax.plot([c["coverage"] * 100], [c["density"] * 100], "*", color="#d62728", markersize=14, label=f"chosen box {c['box']}")
    ax.axhline(boxes["density_threshold"] * 100, color="#999", linestyle="--", linewidth=0.8, label="density threshold")
    ax.set_xlabel("Coverage (% of the points of interest inside the box)", fontsize=8)
    ax.set_ylabel("Density (% of the box's points of interest)", fontsize=8)
    ax.set_xlim(0, 102)
    ax.set_ylim(0, 102)
    ax.legend(fontsize=8, frameon=False, loc="lower left")
    _style(ax)
    return fig


def _scatter_chart(info: dict, fs: list[Factor], unit: np.ndarray, p: np.ndarray, top: list[str], cut: float):
    from .report import _grid, _style, _wrap

    fig, axes = _grid(len(top), 3, 3.4, 2.8)
    interest = (p >= cut) & (p > p.min())
    for ax, name in zip(axes, top):
        i = [f.path for f in fs].index(name)
        x = np.array([fs[i].number(u) for u in unit[:, i]])
        ax.scatter(x[~interest], p[~interest] * 100, s=10, color="#4c78a8", alpha=0.7)
        ax.scatter(x[interest], p[interest] * 100, s=10, color="#d62728", alpha=0.8)
        if fs[i].values:
            ax.set_xticks(range(len(fs[i].values)), labels=[_wrap(_show(v), 12, 2) for v in fs[i].values], fontsize=8)
        ax.set_xlabel(_wrap(name, 40, 2), fontsize=8)
        ax.set_ylabel(f"P({_wrap(info['outcome_label'], 24, 1)}) (%)", fontsize=8)
        ax.tick_params(labelsize=8)
        _style(ax)
    return fig
