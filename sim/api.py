"""The Python interface (`import sim`): what the command line does, for a notebook or a script.

    >>> s = sim.load("korea-2019").with_values({"mechanics.hazard.midpoint": 80})
    >>> sim.run(s, seed=3).outcome
    >>> sim.batch(s, runs=2000, seed=1).runs        # a pyarrow.Table, a row per run

Results are the command line's, number for number: `run` plays the game `ladder run` plays,
`batch` runs the batch `ladder batch` runs (the same code, into a folder of its own), `compare`
is `ladder compare`. Bad input raises `UsageError` or `ScenarioError` (both `LadderError`) with
the message the command line prints. Importing this module imports neither NumPy nor pyarrow:
each function imports what it needs.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .format.errors import LadderError, ScenarioError, UsageError

__all__ = ["BatchResult", "ExploreResult", "Game", "LadderError", "Scenario", "ScenarioError", "UsageError", "batch", "compare",
           "dataset", "explore", "load", "run", "with_values"]

if TYPE_CHECKING:
    import pyarrow

    from .format.model import Scenario as Model

SEEDS = 1 << 64  # seeds the engine's random streams tell apart (as `ladder --seed`)
RUNS = 1 << 63  # run indices (int64)


@dataclass(frozen=True)
class Scenario:
    """A validated scenario, with the name its results carry.

    `model` is the validated, immutable scenario (`sim.format.model.Scenario`: `model.actors`,
    `model.mechanics.hazard.midpoint`, ...); `label` names the variant in batch results (the
    `variant` column): the scenario's name, then the values `with_values` set.
    """

    name: str
    model: Model
    label: str

    @property
    def title(self) -> str:
        return self.model.title

    @property
    def digest(self) -> str:
        """The content's fingerprint, as batch folders record it (the `digest` column)."""
        from .format.model import digest

        return digest(self.model)

    def with_values(self, values: dict[str, object]) -> Scenario:
        """A validated variant with each dotted path set to its value, e.g.
        `{"mechanics.hazard.midpoint": 80, "options.dprk_icbm.success": 0.5}`; list items are named
        by their id, and a value replaces what the path names (see `sim.format.values`). A path
        that names nothing or a value the scenario cannot take raises UsageError, one line."""
        from .format.values import with_values

        changed = with_values(self.model, values)
        return Scenario(self.name, changed, " ".join([self.label, *(f"{p}={v}" for p, v in values.items())]))


@dataclass(frozen=True)
class Game:
    """A finished game: `record` is the document `ladder run --json` prints."""

    record: dict

    @property
    def outcome(self) -> str:
        return self.record["outcome"]

    @property
    def cause(self) -> str:
        """What ended it: the option that struck, `miscalculation`, a chance event, `condition`, `horizon`."""
        return self.record["cause"]

    @property
    def end_turn(self) -> int:
        return self.record["end_turn"]

    @property
    def events(self) -> list[dict]:
        """Every event as a dict (turn, date, kind, actor, subject and the event's data)."""
        return self.record["events"]

    @property
    def final_state(self) -> dict[str, float]:
        """Each variable's final value, by its name (`DPRK.economy`)."""
        return self.record["final_state"]


@dataclass(frozen=True)
class BatchResult:
    """A batch's results, in memory: the tables of the folder `ladder batch` writes.

    `runs` (runs.parquet: a row per run), `turns` (turns.parquet: a row per turn), `summary`
    (summary.json), `events` and `trajectories` (with `events=True` or `trajectories=[...]`;
    otherwise None), and `folder` when `out` was given.
    """

    runs: pyarrow.Table
    turns: pyarrow.Table
    summary: dict
    events: pyarrow.Table | None = None
    trajectories: pyarrow.Table | None = None
    folder: Path | None = None

    def to_pandas(self):
        """`runs` as a pandas DataFrame. pandas is not a dependency of this package: install it
        (`pip install pandas`) to use this; every table also has its own `.to_pandas()`."""
        try:
            import pandas  # noqa: F401
        except ImportError:
            raise ImportError("BatchResult.to_pandas needs pandas, which is not installed: pip install pandas") from None
        return self.runs.to_pandas()


@dataclass(frozen=True)
class ExploreResult:
    """An exploration's results, in memory: `design` (design.parquet: a row per point, each
    parameter's value), `results` (results.parquet: each point's outcome probabilities and mean
    peak rungs), `indices` (indices.json), `prim` (prim.json), and `folder` when `out` was given."""

    design: pyarrow.Table
    results: pyarrow.Table
    indices: dict
    prim: dict
    folder: Path | None = None


def load(name_or_path: str | os.PathLike) -> Scenario:
    """A bundled scenario by name (`korea-2019`) or a `.scenario.yaml` file, validated: raises
    ScenarioError with every problem located (FILE:LINE:COL: message), as `ladder validate`."""
    from .format.scenario import open_scenario

    loaded = open_scenario(os.fspath(name_or_path))
    return Scenario(loaded.name, loaded.scenario, loaded.name)


def with_values(scenario: Scenario | str, values: dict[str, object]) -> Scenario:
    """`scenario.with_values(values)`, for a Scenario or a name or path."""
    return _scenario(scenario).with_values(values)


def run(scenario: Scenario | str, seed: int = 0, run: int = 0, doctrines: dict[str, str] | None = None,
        view: str | None = None) -> Game:
    """One game played to its end: `ladder run SCENARIO --seed SEED --run RUN --doctrine A=P ...
    [--view ACTOR]`. `doctrines` maps actors to presets (`{"US": "engagement"}`); the others play
    their defaults. `view`: the game as that actor saw it (default: the umpire's, everything)."""
    from .engine.rules import Rules
    from .engine.stepping import Engine
    from .format.scenario import check_actor
    from .play.narrative import game_record

    s = _scenario(scenario)
    chosen = _doctrines(doctrines, s)
    if view is not None:
        check_actor("--view", view, s.model)
    engine = Engine(Rules(s.model, s.name), seed=_whole(seed, SEEDS, "seed"), runs=[_whole(run, RUNS, "run")],
                    doctrines=chosen).run()
    return Game(game_record(engine, s.name, view=view))


def batch(scenario: Scenario | str, runs: int, seed: int = 0, doctrines: dict[str, str] | None = None,
          workers: int = 1, out: str | os.PathLike | None = None, chunk: int = 5000, events: bool = False,
          trajectories: list[str] = (), report: bool = True) -> BatchResult:
    """Runs 0 to `runs - 1` of `seed`: `ladder batch` with the same arguments, the same numbers.

    `workers` processes play chunks of `chunk` runs (the results do not depend on either). With
    `out`, the batch folder is written there (a new or empty folder; `report=False` skips
    report.html) and can be resumed, replayed and compared like any other; without it, nothing
    is left on disk (the batch runs in a temporary folder, read back into memory and removed).
    `events=True` adds every event of every run, `trajectories=["tension", "DPRK.economy"]` those
    variables at every turn (see `BatchResult`).
    """
    from .montecarlo.chunks import Job, Plan, check_trajectories

    s = _scenario(scenario)
    chosen = _doctrines(doctrines, s)
    job = Job(s.model, s.name, _whole(seed, SEEDS, "seed"), chosen, s.label, bool(events),
              check_trajectories(list(trajectories), s.model))
    plan = Plan(_whole(runs, RUNS, "runs"), _whole(chunk, RUNS, "chunk"), min(_whole(workers, RUNS, "workers"), os.cpu_count() or 1))
    arguments = {"api": "sim.batch", "runs": plan.runs, "seed": job.seed, "doctrine": [f"{a}={p}" for a, p in chosen.items()],
                 "workers": plan.workers, "chunk": plan.chunk, "events": job.events, "trajectories": list(job.trajectories),
                 "label": s.label}
    if out is not None:
        return _batch(job, plan, Path(out), arguments, report, keep=True)
    with tempfile.TemporaryDirectory(prefix="ladder-batch-") as tmp:
        return _batch(job, plan, Path(tmp) / "batch", arguments, report=False, keep=False)


def _batch(job, plan, path: Path, arguments: dict, report: bool, keep: bool) -> BatchResult:
    import pyarrow.parquet as pq

    from .montecarlo.backends import LocalBackend
    from .montecarlo.batch import run_batch
    from .montecarlo.folder import Folder

    summary = run_batch(job, plan, Folder(path), LocalBackend(plan.workers), arguments, report=report)
    # read whole, not mapped; through ParquetFile, as read_table's dataset layer would import pandas (0.2 s)
    tables = {kind: pq.ParquetFile(path / f"{kind}.parquet").read() for kind in (*job.files, "turns")}
    return BatchResult(tables["runs"], tables["turns"], summary, tables.get("events"), tables.get("trajectories"),
                       path if keep else None)


def compare(variants: list, runs: int, seed: int = 0, workers: int = 1, out: str | os.PathLike | None = None,
            chunk: int = 5000) -> dict:
    """`ladder compare VARIANT... --runs RUNS --seed SEED`: each variant over the same runs;
    returns comparison.json's content (each outcome's probability per variant, and the paired
    difference from the first). A variant is a spec as the command line takes it ("SCENARIO" or
    "SCENARIO --doctrine ACTOR=PRESET ..."), a `Scenario` (say one made by `with_values`), or a
    `(Scenario, {actor: preset})` pair. Without `out`, nothing is left on disk."""
    from .montecarlo.compare import compare as compare_variants

    if isinstance(variants, (str, Scenario)) or not variants:
        raise UsageError("compare needs a list of variants, e.g. ['korea-2019', 'korea-2019 --doctrine US=engagement']")
    seed, runs = _whole(seed, SEEDS, "seed"), _whole(runs, RUNS, "runs")
    workers, chunk = min(_whole(workers, RUNS, "workers"), os.cpu_count() or 1), _whole(chunk, RUNS, "chunk")
    members = [v if isinstance(v, str) else _member(v, seed) for v in variants]
    shown = [v if isinstance(v, str) else v.name for v in members]
    arguments = {"api": "sim.compare", "variants": shown, "runs": runs, "seed": seed, "workers": workers, "chunk": chunk}
    if out is not None:
        return compare_variants(members, runs, seed, Path(out), workers, chunk, arguments)
    with tempfile.TemporaryDirectory(prefix="ladder-compare-") as tmp:
        return compare_variants(members, runs, seed, Path(tmp) / "compare", workers, chunk, arguments)


def dataset(folder: str | os.PathLike, table: str = "runs"):
    """Every `TABLE.parquet` in a results folder (`ladder batch`, `compare`, `sweep` or `explore`,
    or a folder holding several) as one `pyarrow.dataset.Dataset`, partitioned by the first folder
    under `folder` each file is in: its `member` column (in a comparison's folder "variant-2"; in a
    folder of batches, the batch's folder; null for a file at the top). Each row
    carries its provenance too (`scenario`, `variant`, `digest`, `seed`), so the results of many
    commands are queried as one table: `sim.dataset("runs").to_table(filter=...)`. `table`:
    runs, turns, events, trajectories, results or design."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    root = Path(folder)
    if not root.is_dir():
        raise UsageError(f"{root}: no such folder")
    files = sorted(root.glob(f"**/{table}.parquet"))
    if not files:
        raise UsageError(f"{root}: no {table}.parquet in it or in the folders under it")
    # variants of different scenarios have different final_* and moves_* columns: the union of them all
    schema = pa.unify_schemas([pq.read_schema(f) for f in files]).append(pa.field("member", pa.string()))
    return ds.dataset([str(f) for f in files], schema=schema, format="parquet", partition_base_dir=str(root),
                      partitioning=ds.partitioning(pa.schema([("member", pa.string())])))


def _member(variant, seed: int):
    """A variant given as a Scenario, or a (Scenario, doctrines) pair, as compare plays it: named
    by its label and the doctrines chosen."""
    from .montecarlo.chunks import Job
    from .montecarlo.variants import Member

    s, doctrines = variant if isinstance(variant, tuple) and len(variant) == 2 else (variant, None)
    if not isinstance(s, Scenario):
        raise UsageError(f"compare: a variant is a spec, a Scenario or a (Scenario, doctrines) pair, not {type(variant).__name__}")
    chosen = _doctrines(doctrines, s)
    name = " ".join([s.label] + [f"--doctrine {actor}={preset}" for actor, preset in chosen.items()])
    return Member(name, name, Job(s.model, s.name, seed, chosen, s.label), "", "python")


def explore(scenario: Scenario | str, vary: dict[str, tuple[float, float]], method: str, points: int, runs_per_point: int,
            seed: int = 0, levers: dict[str, list] | None = None, outcome: str = "war", workers: int = 1,
            out: str | os.PathLike | None = None, chunk: int | None = None) -> ExploreResult:
    """`ladder explore SCENARIO --vary PATH=LO:HI ... --lever PATH=A,B ... --method METHOD --points N
    --runs-per-point R --seed S --outcome OUTCOME`: `vary` maps paths to (low, high), `levers`
    paths to their values; `method` is sobol, morris or lhs. Needs the `explore` extra. Without
    `out`, nothing is left on disk. Bad input raises UsageError with the command line's message."""
    from .montecarlo.explore import explore as run_explore
    from .montecarlo.explore import parse_vary

    s = _scenario(scenario)
    if not isinstance(vary, dict) or not isinstance(levers or {}, dict):
        raise UsageError("explore: vary maps paths to (low, high), levers paths to lists of values")
    ranges = []
    for path, bounds in vary.items():
        if isinstance(bounds, (str, bytes)) or not hasattr(bounds, "__len__") or len(bounds) != 2:
            raise UsageError(f"--vary {path}: expected (LO, HI), got {bounds!r}")
        ranges += parse_vary([f"{path}={bounds[0]}:{bounds[1]}"])
    for path, values in (levers or {}).items():
        if not isinstance(values, (list, tuple)):
            raise UsageError(f"--lever {path}: expected a list of values, got {values!r}")
    chosen = [(path, list(values)) for path, values in (levers or {}).items()]
    seed, runs, points = _whole(seed, SEEDS, "seed"), _whole(runs_per_point, RUNS, "runs_per_point"), _whole(points, RUNS, "points")
    workers = min(_whole(workers, RUNS, "workers"), os.cpu_count() or 1)
    chunk = None if chunk is None else _whole(chunk, RUNS, "chunk")
    arguments = {"api": "sim.explore", "vary": {p: [lo, hi] for p, lo, hi in ranges}, "levers": dict(chosen), "method": method,
                 "points": points, "runs_per_point": runs, "seed": seed, "outcome": outcome, "workers": workers, "chunk": chunk}

    def play(path: Path) -> dict:
        return run_explore(s.model, s.name, s.label, ranges, chosen, method, points, runs, seed, outcome, path, workers, chunk, arguments)

    if out is not None:
        r = play(Path(out))
        return ExploreResult(r["design"], r["results"], r["indices"], r["prim"], Path(out))
    with tempfile.TemporaryDirectory(prefix="ladder-explore-") as tmp:
        r = play(Path(tmp) / "explore")
    return ExploreResult(r["design"], r["results"], r["indices"], r["prim"])


def _scenario(scenario: Scenario | str | os.PathLike) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load(scenario)


def _doctrines(doctrines: dict[str, str] | None, s: Scenario) -> dict[str, str]:
    """Doctrine presets by actor, checked as `--doctrine ACTOR=PRESET` is."""
    from .format.scenario import parse_doctrines

    return parse_doctrines([f"{a}={p}" for a, p in (doctrines or {}).items()], s.model)


def _whole(value, high: int, what: str) -> int:
    """A count, seed or index: an int from 0 (1 for counts) to `high - 1`, or one clear line."""
    low = 0 if what in ("seed", "run") else 1
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value < high:
        raise UsageError(f"{what}: expected a whole number from {low} to {high - 1:,}, got {value!r}")
    return value
