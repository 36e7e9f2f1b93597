"""`ladder compare` and `ladder sweep`: several batches over the same seed and runs.

Every variant (or grid point) is an ordinary batch in a folder of its own, played with the same
seed over the same runs, so run i of each has the same luck (common random numbers) and the
differences between variants are measured on paired runs: far tighter than two independent
batches would give. A comparison reads back only the per-run outcomes of each batch; a sweep
needs only each batch's summary.
"""
from __future__ import annotations

import copy
import datetime as dt
import difflib
import itertools
import shlex
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .batch import Folder, Job, LocalBackend, Plan, _atomic, _json, run_batch
from .errors import BatchError, ScenarioError, UsageError
from .stats import paired_difference, wilson

# --- shared ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One batch of a comparison or a sweep: what to play, and the sub-folder it goes to."""

    name: str  # as shown: the variant's spec, or the point's values
    spec: str
    job: Job
    folder: str  # relative to the output folder
    source: str  # where the scenario came from


def _prepare(out: Path) -> None:
    if (out / "manifest.json").exists():
        raise UsageError(f"{out} already holds results; choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc.strerror or exc}") from None


def _play_all(members: list[Member], out: Path, runs: int, chunk: int, workers: int, arguments: dict) -> list[dict]:
    """Each member as a normal batch into its own folder, same seed and runs; their summaries."""
    summaries = []
    for k, m in enumerate(members, 1):
        if sys.stderr.isatty():
            print(f"[{k}/{len(members)}] {m.name}", file=sys.stderr)
        folder = Folder(out / m.folder)
        plan = Plan(runs, chunk, workers)
        summaries.append(run_batch(m.job, plan, folder, LocalBackend(workers), arguments | {"member": m.spec}))
    return summaries


def _manifest(command: str, members: list[Member], seed: int, runs: int, chunk: int, arguments: dict, **extra) -> dict:
    return {
        "command": command, "version": __version__, "seed": seed, "runs": runs, "chunk": chunk, **extra,
        "members": [
            {"name": m.name, "spec": m.spec, "folder": m.folder, "scenario": m.job.name, "source": m.source,
             "digest": m.job.digest, "doctrines": m.job.doctrines}
            for m in members
        ],
        "arguments": arguments, "partial": True,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _write(path: Path, text: str) -> None:
    _atomic(path, lambda f: f.write(text.encode()))


def _fit(text: str, width: int) -> str:
    text = str(text)
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


# --- compare: variants ----------------------------------------------------------------------


def parse_spec(text: str) -> tuple[str, list[str]]:
    """`SCENARIO [--doctrine ACTOR=PRESET]...` -> (scenario, ["ACTOR=PRESET", ...])."""
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"variant {text!r}: {exc}") from None
    if not tokens or tokens[0].startswith("-"):
        raise UsageError(f"variant {text!r}: expected a scenario first, then any --doctrine ACTOR=PRESET")
    scenario, rest, chosen = tokens[0], tokens[1:], []
    while rest:
        token = rest.pop(0)
        if token == "--doctrine" and rest and not rest[0].startswith("-"):
            chosen.append(rest.pop(0))
        elif token.startswith("--doctrine=") and len(token) > len("--doctrine="):
            chosen.append(token[len("--doctrine="):])
        else:
            what = "--doctrine needs ACTOR=PRESET" if token.startswith("--doctrine") else f"unexpected {token!r}"
            raise UsageError(f"variant {text!r}: {what}; a variant is SCENARIO [--doctrine ACTOR=PRESET]...")
    return scenario, chosen


def load_variants(specs: list[str], seed: int) -> list[Member]:
    """Every variant found and checked (scenario, doctrines, shared outcomes) before anything runs."""
    from .catalog import open_scenario
    from .cli import doctrines

    if len(specs) < 2:
        raise UsageError("compare needs at least two variants, e.g. `ladder compare korea-2019 \"korea-2019 --doctrine US=dove\"`")
    members: list[Member] = []
    seen: dict[str, int] = {}
    for k, text in enumerate(specs, 1):
        name, flags = parse_spec(text)
        loaded = open_scenario(name)
        try:
            chosen = doctrines(flags, loaded.scenario)
        except UsageError as exc:
            raise UsageError(f"variant {text!r}: {exc}") from None
        spec = shlex.join([name] + [x for actor, preset in chosen.items() for x in ("--doctrine", f"{actor}={preset}")])
        shown = text.strip()
        seen[shown] = seen.get(shown, 0) + 1
        if seen[shown] > 1:  # the report tells variants apart by name
            shown = f"{shown} [{seen[shown]}]"
        job = Job(loaded.scenario, loaded.name, seed, chosen)
        members.append(Member(shown, spec, job, f"variant-{k}", str(loaded.path)))
    first = [o.id for o in members[0].job.scenario.outcomes]
    for m in members[1:]:
        ids = [o.id for o in m.job.scenario.outcomes]
        if set(ids) != set(first):
            raise UsageError(
                f"variant {m.name!r} has outcomes {', '.join(ids)} but {members[0].name!r} has {', '.join(first)}: "
                "variants must share the scenario's outcomes"
            )
    return members


def outcome_codes(path: Path, ids: list[str], runs: int) -> np.ndarray:
    """Each run's outcome as an index into `ids`, in run order, from the `outcome` column of runs.parquet."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["run", "outcome"], read_dictionary=["outcome"])
    if table.num_rows != runs:
        raise BatchError(f"{path}: {table.num_rows:,} runs, expected {runs:,}")
    column = table.column("outcome").combine_chunks()
    lookup = np.array([ids.index(x) if x in ids else -1 for x in column.dictionary.to_pylist()], dtype=np.int16)
    codes = lookup[column.indices.to_numpy(zero_copy_only=False)]
    if (codes < 0).any():
        raise BatchError(f"{path}: an outcome that is not one of {', '.join(ids)}")
    run = table.column("run").to_numpy()
    if not np.array_equal(run, np.arange(runs)):  # runs.parquet is written in run order; check, do not assume
        order = np.argsort(run, kind="stable")
        if not np.array_equal(run[order], np.arange(runs)):
            raise BatchError(f"{path}: the runs are not 0 to {runs - 1}")
        codes = codes[order]
    return codes


def comparison(members: list[Member], summaries: list[dict], codes: list[np.ndarray], ids: list[str], seed: int, runs: int) -> dict:
    """The comparison dict (batch contract): variants with their summaries, paired differences per outcome."""
    differences: dict[str, list] = {}
    for k, oid in enumerate(ids):
        base = (codes[0] == k).astype(np.int8)
        rows = []
        for m, c in zip(members[1:], codes[1:]):
            diff, (lo, hi) = paired_difference(base, (c == k).astype(np.int8))
            rows.append({"variant": m.name, "diff": diff, "ci95": [lo, hi]})
        differences[oid] = rows
    return {
        "seed": seed, "runs": runs,
        "variants": [{"name": m.name, "spec": m.spec, "summary": s} for m, s in zip(members, summaries)],
        "differences": differences,
    }


def probabilities(codes: list[np.ndarray], ids: list[str]) -> list[dict[str, dict]]:
    """Each variant's count, p and Wilson interval per outcome, from its per-run outcomes."""
    out = []
    for c in codes:
        counts = np.bincount(c, minlength=len(ids))
        n = len(c)
        out.append({oid: {"count": int(counts[k]), "p": float(counts[k]) / n if n else 0.0, "ci95": list(wilson(int(counts[k]), n))}
                    for k, oid in enumerate(ids)})
    return out


def compare(specs: list[str], runs: int, seed: int, out: Path, workers: int, chunk: int, arguments: dict) -> dict:
    """Run every variant into OUT/variant-K/, then write comparison.json, report.html and manifest.json."""
    from .report import comparison_report

    members = load_variants(specs, seed)
    out = Path(out)
    _prepare(out)
    manifest = _manifest("compare", members, seed, runs, chunk, arguments)
    _write(out / "manifest.json", _json(manifest))
    summaries = _play_all(members, out, runs, chunk, workers, arguments)
    ids = [o.id for o in members[0].job.scenario.outcomes]
    codes = [outcome_codes(out / m.folder / "runs.parquet", ids, runs) for m in members]
    for m, s, found in zip(members, summaries, probabilities(codes, ids)):
        if any(found[oid]["count"] != s["outcomes"][oid]["count"] for oid in ids):  # the runs and the summary must agree
            raise BatchError(f"{out / m.folder}: runs.parquet does not match summary.json")
    result = comparison(members, summaries, codes, ids, seed, runs)
    _write(out / "comparison.json", _json(result))
    _write(out / "report.html", comparison_report(result))
    _write(out / "manifest.json", _json(manifest | {"partial": False}))
    return result


def compare_table(c: dict, folder: Path) -> list[str]:
    """The comparison at 80 columns: per outcome, each variant's p and its difference from the first."""
    variants = c["variants"]
    outcomes = variants[0]["summary"]["outcomes"]
    lines = [f"compare: {len(variants)} variants, {c['runs']:,} runs each, seed {c['seed']}", f"results in {folder}/", ""]
    for k, v in enumerate(variants, 1):
        lines.append(_fit(f"  [{k}] {v['name']}" + ("  (reference)" if k == 1 else ""), 80))
    labels = _labels(variants)
    lines += ["", f"  {'outcome':<24} {'p':>6}  {'95% interval':<13}  {'vs [1]':>7}  95% interval (pp)"]
    for oid, o in outcomes.items():
        lines.append(f"  {_fit(o['label'], 76)}")
        diffs = {d["variant"]: d for d in c["differences"].get(oid, [])}
        for k, v in enumerate(variants, 1):
            vo = v["summary"]["outcomes"][oid]
            lo, hi = vo["ci95"]
            row = f"    {_fit(f'[{k}] ' + labels[k - 1], 22):<22} {vo['p']:>6.1%}  {lo:>5.1%}-{hi:<7.1%}"
            d = diffs.get(v["name"]) if k > 1 else None
            if d:
                dlo, dhi = d["ci95"]
                mark = " *" if dlo > 0 or dhi < 0 else ""
                row += f"  {_pp(d['diff']):>7}  [{_pp(dlo)}, {_pp(dhi)}]{mark}"
            lines.append(row.rstrip())
    lines += ["", "  vs [1]: difference in percentage points, paired over the same runs;",
              "  * its 95% interval excludes zero"]
    return lines


def _labels(variants: list[dict]) -> list[str]:
    """Short row labels: what sets each variant apart (its scenario where they differ, then the
    doctrines it changes from the reference); its full name when nothing does."""
    summaries = [v["summary"] for v in variants]
    scenarios_differ = len({s.get("scenario") for s in summaries}) > 1
    reference = summaries[0].get("doctrines", {})
    labels = []
    for v, s in zip(variants, summaries):
        parts = [s.get("scenario", "")] if scenarios_differ else []
        parts += [f"{a}={d}" for a, d in s.get("doctrines", {}).items() if reference.get(a) != d]
        labels.append(" ".join(parts) or v["name"])
    return labels


def _pp(x: float) -> str:
    v = 100 * x
    return "0" if abs(v) < 0.005 else f"{v:+.2f}"


# --- sweep: a grid of scenario values -------------------------------------------------------


def parse_sets(sets: list[str]) -> list[tuple[str, list]]:
    """`PATH=V1,V2,...` flags -> [(path, [values parsed as YAML scalars]), ...]."""
    import yaml

    params: list[tuple[str, list]] = []
    for text in sets:
        path, sep, values = text.partition("=")
        path = path.strip()
        if not sep or not path or not values.strip():
            raise UsageError(f"--set {text!r}: expected PATH=V1,V2,..., e.g. mechanics.hazard.max=0.02,0.04")
        if any(p == path for p, _ in params):
            raise UsageError(f"--set {path}: given twice; list all its values in one --set")
        parsed = []
        for raw in values.split(","):
            raw = raw.strip()
            if not raw:
                raise UsageError(f"--set {text!r}: an empty value")
            try:
                value = yaml.safe_load(raw)
            except yaml.YAMLError as exc:
                raise UsageError(f"--set {path}: cannot read {raw!r} as a value: {str(exc).splitlines()[0]}") from None
            if isinstance(value, (dict, list)):
                raise UsageError(f"--set {path}: {raw!r} is not a single value")
            parsed.append(value)
        params.append((path, parsed))
    return params


def locate(data: dict, path: str):
    """The container and key a dotted path names in the scenario data. Mapping keys may hold dots
    (variable names do): the longest key that matches is taken. List items are named by their id."""
    parts = path.split(".")
    if not all(parts):
        raise UsageError(f"--set {path}: an empty component in the path")
    node, i, trail = data, 0, []
    container = key = None
    while i < len(parts):
        if isinstance(node, dict):
            keys = [k for k in node if isinstance(k, str)]
            found = next((j for j in range(len(parts), i, -1) if ".".join(parts[i:j]) in node), None)
            if found is None:
                _unknown(path, parts, i, trail, keys, "key")
            container, key = node, ".".join(parts[i:found])
        elif isinstance(node, list):
            ids = [item.get("id") for item in node if isinstance(item, dict) and isinstance(item.get("id"), str)]
            found = next((j for j in range(len(parts), i, -1) if ".".join(parts[i:j]) in ids), None)
            if found is None:
                _unknown(path, parts, i, trail, ids, "id")
            container, key = node, next(n for n, item in enumerate(node) if isinstance(item, dict) and item.get("id") == ".".join(parts[i:found]))
        else:
            where = ".".join(trail)
            raise UsageError(f"--set {path}: {where} is a single value ({node!r}); it has no '{parts[i]}'")
        trail.append(".".join(parts[i:found]))
        node, i = container[key], found
    if isinstance(node, (dict, list)):
        inside = list(node)[:4] if isinstance(node, dict) else [x.get("id") for x in node if isinstance(x, dict)][:4]
        hint = f", e.g. {path}.{inside[0]}" if inside and inside[0] is not None else ""
        raise UsageError(f"--set {path}: names a whole {'mapping' if isinstance(node, dict) else 'list'}; give a path to a single value{hint}")
    if key == "id":
        raise UsageError(f"--set {path}: ids cannot be swept")
    return container, key


def _unknown(path: str, parts: list[str], i: int, trail: list[str], pool: list[str], what: str):
    best, word = None, parts[i]
    for cand in pool:  # a candidate with dots is compared with as many components
        piece = ".".join(parts[i: i + cand.count(".") + 1])
        score = difflib.SequenceMatcher(None, piece, cand).ratio()
        if score >= 0.6 and (best is None or score > best[0]):
            best = (score, cand, piece)
    where = f" under '{'.'.join(trail)}'" if trail else ""
    if best:
        raise UsageError(f"--set {path}: unknown {what} '{best[2]}'{where} (did you mean '{best[1]}'?)")
    shown = ", ".join(pool[:8]) + (", ..." if len(pool) > 8 else "")
    raise UsageError(f"--set {path}: unknown {what} '{word}'{where} (one of: {shown})")


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

    from .scenario import validate
    from .source import parse_document

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
    from .catalog import open_scenario

    loaded = open_scenario(scenario)
    params = parse_sets(sets)
    members = sweep_points(loaded, params, seed)
    out = Path(out)
    _prepare(out)
    parameters = [{"path": p, "values": [_plain_value(v) for v in vs]} for p, vs in params]
    manifest = _manifest("sweep", members, seed, runs, chunk, arguments, scenario=loaded.name, parameters=parameters)
    _write(out / "manifest.json", _json(manifest))
    summaries = _play_all(members, out, runs, chunk, workers, arguments)
    outcomes = {oid: {"label": o["label"], "kind": o["kind"]} for oid, o in summaries[0]["outcomes"].items()}
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
    }
    _write(out / "sweep.json", _json(result))
    _write(out / "sweep.html", sweep_report(result))
    _write(out / "manifest.json", _json(manifest | {"partial": False}))
    return result


def _short(paths: list[str]) -> list[str]:
    """Column heads: the last two components of each path, or more where two would clash."""
    for n in (1, 2, 3):
        heads = [".".join(p.split(".")[-n:]) if n < len(p.split(".")) else p for p in paths]
        if n > 1 and len(set(heads)) == len(heads):
            return heads
    return paths


def sweep_table(s: dict, folder: Path) -> list[str]:
    """The grid at 80 columns: one row per point, its values then each outcome's p."""
    paths = [p["path"] for p in s["parameters"]]
    ids = list(s["outcomes"])
    heads = _short(paths)
    widths = [min(24, max([len(h)] + [len(_show(pt["values"][p])) for pt in s["points"]])) for h, p in zip(heads, paths)]
    out_ws = [max(7, min(10, len(oid))) for oid in ids]
    if 6 + sum(w + 1 for w in widths + out_ws) > 80:  # too wide: narrower outcome columns, then values
        out_ws = [7] * len(ids)
    while widths and 6 + sum(w + 1 for w in widths + out_ws) > 80 and max(widths) > 6:
        widths[widths.index(max(widths))] -= 1  # then the widest value column, a character at a time
    lines = [f"sweep: {s['scenario']}, {len(s['points'])} points of {s['runs']:,} runs, seed {s['seed']}", f"results in {folder}/", ""]
    for p in s["parameters"]:
        lines.append(_fit(f"  {p['path']} = {', '.join(_show(v) for v in p['values'])}", 80))
    head = f"  {'#':>3} " + " ".join(f"{_fit(h, w):<{w}}" for h, w in zip(heads, widths))
    head += "".join(f" {_fit(oid, w):>{w}}" for oid, w in zip(ids, out_ws))
    lines += ["", head.rstrip()]
    widest = 0.0
    for pt in s["points"]:
        row = f"  {pt['point']:>3} " + " ".join(f"{_fit(_show(pt['values'][p]), w):<{w}}" for p, w in zip(paths, widths))
        for oid, w in zip(ids, out_ws):
            o = pt["outcomes"][oid]
            row += f" {o['p']:>{w}.1%}"
            widest = max(widest, (o["ci95"][1] - o["ci95"][0]) / 2)
        lines.append(row.rstrip())
    labels = ", ".join(f"{oid}: {o['label']}" for oid, o in s["outcomes"].items())
    lines += ["", _fit(f"  every 95% interval within +-{widest:.1%}; same runs at every point", 80)]
    lines += ["  " + line for line in textwrap.wrap(labels, 76)]
    return lines


def sweep_report(s: dict) -> str:
    """sweep.html: a table of the grid and, for each swept value, each outcome's probability against it."""
    from .report import _ci, _e, _img, _page, _pct, _section, _table

    paths = [p["path"] for p in s["parameters"]]
    outcomes = s["outcomes"]
    rows = []
    for pt in s["points"]:
        cells = "".join(f"<td>{_e(_show(pt['values'][p]))}</td>" for p in paths)
        cells += "".join(
            f"<td class=num>{_pct(pt['outcomes'][oid]['p'])} <span class=muted>{_ci(pt['outcomes'][oid]['ci95'])}</span></td>"
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
        _section("grid", "Grid", "Each point's values and each outcome's probability with its Wilson 95% interval.", table),
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
        ax.tick_params(labelsize=8)
        _style(ax)
    if others:
        legend = {label: h for ax in axes for h, label in zip(*ax.get_legend_handles_labels())}
        fig.legend(list(legend.values()), list(legend), loc="outside lower center", fontsize=8, frameon=False,
                   ncols=min(len(legend), 2))
    return fig
