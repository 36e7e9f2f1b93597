"""`ladder compare`: variants of a scenario over the same runs, with paired differences.
"""
from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..engine.stats import holm, mcnemar, paired_proportions, wilson
from ..format.errors import BatchError, UsageError
from ..format.files import dump_json
from ..format.words import holm_note, percent, plural, points
from .chunks import Job
from .variants import Member, claimed, fit, group_manifest, play_all, write


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


def load_variants(variants: list, seed: int) -> list[Member]:
    """Every variant found and checked (scenario, doctrines, shared outcomes) before anything
    runs. A variant is a spec ("SCENARIO --doctrine ACTOR=PRESET ...") or a Member made
    elsewhere (`sim.compare` of scenarios changed in Python)."""
    if len(variants) < 2:
        raise UsageError("compare needs at least two variants, e.g. `ladder compare korea-2019 \"korea-2019 --doctrine US=dove\"`")
    members: list[Member] = []
    seen: dict[str, int] = {}
    for k, variant in enumerate(variants, 1):
        member = variant if isinstance(variant, Member) else _from_spec(variant, seed)
        seen[member.name] = seen.get(member.name, 0) + 1
        if seen[member.name] > 1:  # the report tells variants apart by name
            member = replace(member, name=f"{member.name} [{seen[member.name]}]")
        members.append(replace(member, folder=f"variant-{k}"))
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


def paired_differences(names: list[str], codes: list[np.ndarray], ids: list[str]) -> dict[str, list]:
    """Per outcome, each member's probability minus the first's over the same runs: Newcombe's
    paired interval, the exact McNemar p-value, and that p Holm-adjusted over every row (each row
    is a comparison someone may read a difference into)."""
    differences: dict[str, list] = {}
    for k, oid in enumerate(ids):
        first = codes[0] == k
        rows = []
        for name, c in zip(names[1:], codes[1:]):
            this = c == k
            both = int(np.count_nonzero(first & this))
            this_only = int(np.count_nonzero(this)) - both
            first_only = int(np.count_nonzero(first)) - both
            diff, (lo, hi) = paired_proportions(both, this_only, first_only, len(c) - both - this_only - first_only)
            rows.append({"variant": name, "diff": diff, "ci95": [lo, hi], "p": mcnemar(this_only, first_only)})
        differences[oid] = rows
    flat = [row for rows in differences.values() for row in rows]
    for row, adjusted in zip(flat, holm([row["p"] for row in flat])):
        row["p_holm"] = adjusted
    return differences


def multiplicity(differences: dict[str, list]) -> dict:
    """What the adjusted p-values were adjusted over, for the tables and reports to say."""
    return {"method": "holm", "comparisons": sum(len(rows) for rows in differences.values())}


def comparison(members: list[Member], summaries: list[dict], codes: list[np.ndarray], ids: list[str], seed: int, runs: int) -> dict:
    """The comparison dict (batch contract): variants with their summaries, paired differences per outcome."""
    differences = paired_differences([m.name for m in members], codes, ids)
    return {
        "seed": seed, "runs": runs,
        "variants": [{"name": m.name, "spec": m.spec, "summary": s} for m, s in zip(members, summaries)],
        "differences": differences,
        "multiplicity": multiplicity(differences),
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


def _from_spec(text: str, seed: int) -> Member:
    from ..format.scenario import open_scenario, parse_doctrines

    name, flags = parse_spec(text)
    loaded = open_scenario(name)
    try:
        chosen = parse_doctrines(flags, loaded.scenario)
    except UsageError as exc:
        raise UsageError(f"variant {text!r}: {exc}") from None
    spec = shlex.join([name] + [x for actor, preset in chosen.items() for x in ("--doctrine", f"{actor}={preset}")])
    return Member(text.strip(), spec, Job(loaded.scenario, loaded.name, seed, chosen), "", str(loaded.path))


def compare(variants: list, runs: int, seed: int, out: Path, workers: int, chunk: int, arguments: dict) -> dict:
    """Run every variant into OUT/variant-K/, then write comparison.json, report.html and manifest.json."""
    import pyarrow.parquet as pq

    from .report import comparison_report

    members = load_variants(variants, seed)
    out = Path(out)
    with claimed(out):
        manifest = group_manifest("compare", members, seed, runs, chunk, arguments)
        write(out / "manifest.json", dump_json(manifest))
        summaries = play_all(members, out, runs, chunk, workers, arguments)
        ids = [o.id for o in members[0].job.scenario.outcomes]
        codes = [outcome_codes(out / m.folder / "runs.parquet", ids, runs) for m in members]
        for m, s, found in zip(members, summaries, probabilities(codes, ids)):
            if any(found[oid]["count"] != s["outcomes"][oid]["count"] for oid in ids):  # the runs and the summary must agree
                raise BatchError(f"{out / m.folder}: runs.parquet does not match summary.json")
        result = comparison(members, summaries, codes, ids, seed, runs)
        write(out / "comparison.json", dump_json(result))
        turns = [pq.read_table(out / m.folder / "turns.parquet") for m in members]
        write(out / "report.html", comparison_report(result, turns))
        write(out / "manifest.json", dump_json(manifest | {"partial": False}))
        return result


def compare_table(c: dict, folder: Path) -> list[str]:
    """The comparison at 80 columns: per outcome, each variant's p and its difference from the first."""
    variants = c["variants"]
    outcomes = variants[0]["summary"]["outcomes"]
    lines = [f"compare: {len(variants)} variants, {plural(c['runs'], 'run', spec=',')} each, seed {c['seed']}", f"results in {folder}/", ""]
    for k, v in enumerate(variants, 1):
        lines.append(fit(f"  [{k}] {v['name']}" + ("  (reference)" if k == 1 else ""), 80))
    labels = _labels(variants)
    lines += ["", f"  {'outcome':<24} {'p':>7}  {'95% interval':<15}  {'vs [1]':>7}  95% interval (pp)"]
    for oid, o in outcomes.items():
        lines.append(f"  {fit(o['label'], 76)}")
        diffs = {d["variant"]: d for d in c["differences"].get(oid, [])}
        for k, v in enumerate(variants, 1):
            vo = v["summary"]["outcomes"][oid]
            lo, hi = vo["ci95"]
            row = f"    {fit(f'[{k}] ' + labels[k - 1], 22):<22} {percent(vo['p']):>7}  {percent(lo) + '-' + percent(hi):<15}"
            d = diffs.get(v["name"]) if k > 1 else None
            if d:
                mark = " *" if d["p_holm"] < 0.05 else ""
                row += f"  {points(d['diff']):>7}  [{points(d['ci95'][0])}, {points(d['ci95'][1])}]{mark}"
            lines.append(row.rstrip())
    lines += ["", "  vs [1]: difference in percentage points, paired over the same runs (Newcombe's",
              "  interval); * exact McNemar p < 0.05, " + holm_note(c["multiplicity"]["comparisons"]),
              "  (the intervals are each 95%, not adjusted)"]
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
