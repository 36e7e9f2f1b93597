"""A batch in chunks: the plan (how many runs, how many a chunk), and one chunk, runs [lo, hi) of
one seed played in one go, as a row per run and aggregates (counts and histograms) that add up
across chunks, so statistics need no second pass."""
from __future__ import annotations

from collections.abc import Iterator
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..engine.rules import Rules
from ..engine.stepping import Engine
from ..format.errors import UsageError, did_you_mean, printable, quoted
from ..format.files import atomic_write
from ..format.model import Scenario, digest

MAX_RUNS = 10**9  # a day of this machine, and any number of chunks is planned lazily
MAX_CHUNK = 100_000  # a chunk's worlds are in memory at once: about 5 KB each for a year of weeks
TENSION_BINS = 200  # tension percentiles to 1/200 of its range
RUNG_STEP = 0.25  # rung percentiles to a quarter level
ROW_GROUP = 65_536  # runs.parquet row groups: fixed, so the file does not depend on chunking
FIXED = 2.0**20  # sums are kept in fixed point: exact, so they do not depend on chunking either


@dataclass(frozen=True)
class PerWorld:
    """A design's points as one batch (`ladder explore`): world j is run j % runs of point
    j // runs, given that point's values of `paths` (numbers the engine varies per world)."""

    paths: tuple[str, ...]
    values: np.ndarray  # [points, paths]
    runs: int  # runs per point

    @property
    def worlds(self) -> int:
        return len(self.values) * self.runs


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to play runs of a batch; small enough to send to each."""

    scenario: Scenario
    name: str
    seed: int
    doctrines: dict = field(default_factory=dict)
    variant: str | None = None  # the label of the runs.parquet `variant` column (default: the name)
    events: bool = False  # also every event of every run (events.parquet)
    trajectories: tuple[str, ...] = ()  # variables whose value at every turn is kept (trajectories.parquet)
    per_world: PerWorld | None = None  # a design's points: chunks are of worlds, and leave rows only

    @property
    def digest(self) -> str:
        return digest(self.scenario)

    @property
    def label(self) -> str:
        return self.variant or self.name

    @property
    def files(self) -> tuple[str, ...]:
        """The per-run files each chunk leaves (besides its aggregates) and the batch ends with."""
        return ("runs",) + ("events",) * self.events + ("trajectories",) * bool(self.trajectories)


_rules_cache: dict[str, Rules] = {}


def rules_of(job: Job) -> Rules:
    key = job.digest
    if key not in _rules_cache:
        _rules_cache[key] = Rules(job.scenario, job.name)
    return _rules_cache[key]


def run_chunk(job: Job, lo: int, hi: int) -> dict:
    """Play runs [lo, hi): their rows and their aggregates, and their events and trajectories
    when the job asks for them (recording events costs time, so only then)."""
    rules = rules_of(job)
    runs, params = np.arange(lo, hi), None
    if job.per_world:
        d = job.per_world
        point, runs = np.divmod(runs, d.runs)
        params = {path: d.values[point, j] for j, path in enumerate(d.paths)}
    engine = Engine(rules, seed=job.seed, runs=runs, record=job.events, doctrines=job.doctrines, params=params)
    out = {"lo": lo, "hi": hi}
    if job.per_world:  # a design's points are summed up by point, from the rows (`explore`)
        return out | {"rows": rows(engine.run())}
    if job.trajectories:
        out["trajectories"] = trajectories(engine, job.trajectories)  # plays the games turn by turn
    engine.run()
    out |= {"rows": rows(engine), "agg": Aggregates.of(engine)}
    if job.events:
        out["events"] = events(engine)
    return out


def column(name: str) -> str:
    """A column name usable unquoted in SQL: the dots of variable names and the hyphens ids may
    hold become underscores (`final_DPRK.economy` -> `final_DPRK_economy`)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def check_trajectories(names: list[str], scenario: Scenario) -> tuple[str, ...]:
    """`--trajectories` names checked against the scenario's variables."""
    for name in names:
        if name not in scenario.variables:
            hint = did_you_mean(name, scenario.variables) or f" (one of: {', '.join(scenario.variables)})"
            raise UsageError(f"--trajectories: unknown variable {quoted(name)}{hint}")
    if len(set(names)) < len(names):
        raise UsageError(f"--trajectories {printable(','.join(names), 80)}: a variable is named twice")
    return tuple(names)


def trajectories(engine: Engine, names: tuple[str, ...]):
    """Play the engine to its end, keeping each run's value of each named variable at the end of
    every turn it was in play: a row per run and turn, in run order (as a single game has them)."""
    import pyarrow as pa

    rules, st = engine.rules, engine.state
    index = [rules.var_index[n] for n in names]
    runs, turns, values = [], [], []
    for turn in range(rules.horizon):
        engine.advance(until_turn=turn + 1)  # the turn's end is its last phase
        playing = (st.end_turn < 0) | (st.end_turn >= turn)
        runs.append(st.run[playing])
        turns.append(np.full(playing.sum(), turn, dtype=np.int32))
        values.append(st.vars[np.ix_(playing, index)])
    run, turn, value = np.concatenate(runs), np.concatenate(turns), np.concatenate(values)
    order = np.argsort(run, kind="stable")
    cols = {"run": run[order], "turn": turn[order]} | {n: value[order, j] for j, n in enumerate(names)}
    return pa.table(cols)


# The data of an event kept as columns of events.parquet: flat values that most questions about
# a move need (the nested ones, such as the changes per variable, stay with `ladder replay`).
EVENT_DATA = {"success": "bool", "cause": "string", "var": "string", "delta": "float64", "topic": "string",
              "passed": "bool"}


def events(engine: Engine):
    """Every event of every run as a row (run, turn, kind, actor, subject, EVENT_DATA and
    seen_by), in run order and, within a run, in the order of the game's log. `seen_by` is the
    actors who saw the event joined by commas ("US,ROK"): a plain string, which any SQL engine
    can query (`',' || seen_by || ',' LIKE '%,US,%'`), where a list column would not load in SQLite."""
    import pyarrow as pa

    run, actors = engine.state.run, engine.log.actors
    cols: dict[str, list] = {k: [] for k in ("run", "turn", "kind", "actor", "subject", *EVENT_DATA, "seen_by")}
    for ev in engine.log.records:
        n = len(ev.worlds)
        cols["run"].append(run[ev.worlds])
        for name in ("turn", "kind", "actor", "subject"):
            cols[name].append(np.full(n, getattr(ev, name), dtype=object))
        for name in EVENT_DATA:
            value = ev.data.get(name)
            cols[name].append(value.astype(object) if isinstance(value, np.ndarray) else np.full(n, value, dtype=object))
        if ev.seen_by is None:  # everyone: most events, one string for all their worlds
            cols["seen_by"].append(np.full(n, ",".join(actors), dtype=object))
        else:
            cols["seen_by"].append(np.array([",".join(a for a in actors if ev.seen_at(a, k) >= 0) for k in range(n)], dtype=object))
    order = np.argsort(np.concatenate(cols["run"]) if cols["run"] else np.zeros(0, int), kind="stable")
    types = {"run": "int64", "turn": "int32", "kind": "string", "actor": "string", "subject": "string"} | EVENT_DATA | {"seen_by": "string"}
    return pa.table({k: pa.array(np.concatenate(v)[order] if v else [], type=types[k]) for k, v in cols.items()})


def rows(engine: Engine) -> dict[str, np.ndarray]:
    """One row per run: outcome, end turn, what ended it, peaks, threshold turns, move and chance
    event counts, final values."""
    rules, st = engine.rules, engine.state
    out = {
        "run": st.run.astype(np.int64),
        "outcome": np.array([rules.outcomes[o].id for o in st.outcome], dtype=object),
        "end_turn": st.end_turn.astype(np.int32),
        "cause": np.array(rules.causes, dtype=object)[st.cause],
    }
    for a, actor in enumerate(rules.actors):
        out[f"peak_{actor}"] = st.peak[:, a]
    for j, t in enumerate(rules.scenario.ladder.thresholds):
        out[f"threshold_{t.id}"] = np.ma.masked_less(st.threshold_turn[:, j], 0)
    for i, o in enumerate(rules.options):
        out[f"moves_{o.id}"] = st.counts[:, i]
    for c, event in enumerate(rules.chance):
        out[f"chance_{event.id}"] = st.chance_count[:, c]
    for v, name in enumerate(rules.var_names):
        out[f"final_{name}"] = st.vars[:, v]
    return out


@dataclass
class Aggregates:
    """Counts and histograms of a set of runs; `+` merges two sets."""

    runs: int
    outcome: np.ndarray  # [outcomes] runs ended by each
    end_turn: np.ndarray  # [outcomes, turns] runs ended by each, by turn
    threshold: np.ndarray  # [thresholds] runs that crossed each
    peak_sum: np.ndarray  # [actors], fixed point
    peak_hist: np.ndarray  # [actors, levels] peak positions, floor to whole levels
    moves: np.ndarray  # [options] moves taken in all runs
    chance: np.ndarray  # [chance events] times each happened in all runs
    cause: np.ndarray  # [outcomes, causes] runs ended by each outcome, by what ended them (Rules.causes)
    tension_hist: np.ndarray  # [turns, TENSION_BINS]
    tension_sum: np.ndarray  # [turns], fixed point
    rung_hist: np.ndarray  # [turns, actors, rung bins]
    rung_sum: np.ndarray  # [turns, actors], fixed point
    alive: np.ndarray  # [turns] runs still in play at the end of each turn

    @classmethod
    def of(cls, engine: Engine) -> Aggregates:
        rules, st = engine.rules, engine.state
        H, A, O = rules.horizon, len(rules.actors), len(rules.outcomes)
        end = np.zeros((O, H), dtype=np.int64)
        np.add.at(end, (st.outcome, st.end_turn), 1)
        cause = np.zeros((O, len(rules.causes)), dtype=np.int64)
        np.add.at(cause, (st.outcome, st.cause), 1)
        lo, hi = level_range(rules)
        peak_bins = np.clip(np.floor(st.peak).astype(int) - lo, 0, hi - lo)
        peak_hist = np.stack([np.bincount(peak_bins[:, a], minlength=hi - lo + 1) for a in range(A)])
        tension = st.tension_history  # [H, W], NaN once a run has ended
        t_lo, t_hi = rules.vmin[rules.tension], rules.vmax[rules.tension]
        alive = ~np.isnan(tension)
        scaled = (np.nan_to_num(tension, nan=t_lo) - t_lo) / (t_hi - t_lo) * TENSION_BINS
        t_bins = np.clip(scaled.astype(int), 0, TENSION_BINS - 1)
        tension_hist = np.zeros((H, TENSION_BINS), dtype=np.int64)
        for t in range(H):
            tension_hist[t] = np.bincount(t_bins[t][alive[t]], minlength=TENSION_BINS)
        n_rung = int((hi - lo) / RUNG_STEP) + 1
        rung_hist = np.zeros((H, A, n_rung), dtype=np.int64)
        rung_sum = np.zeros((H, A), dtype=np.int64)
        for a, positions in enumerate(st.positions):  # [W, H], NaN once a run has ended
            r_bins = np.clip(np.round((np.nan_to_num(positions) - lo) / RUNG_STEP).astype(int), 0, n_rung - 1)
            for t in range(H):
                rung_hist[t, a] = np.bincount(r_bins[alive[t], t], minlength=n_rung)
            rung_sum[:, a] = _fixed(positions).sum(axis=0)
        return cls(
            runs=st.size,
            outcome=np.bincount(st.outcome, minlength=O),
            end_turn=end,
            threshold=(st.threshold_turn >= 0).sum(axis=0),
            peak_sum=_fixed(st.peak).sum(axis=0),
            peak_hist=peak_hist,
            moves=st.counts.sum(axis=0, dtype=np.int64),
            chance=st.chance_count.sum(axis=0, dtype=np.int64),
            cause=cause,
            tension_hist=tension_hist,
            tension_sum=_fixed(tension).sum(axis=1),
            rung_hist=rung_hist,
            rung_sum=rung_sum,
            alive=alive.sum(axis=1),
        )

    def __add__(self, other: Aggregates) -> Aggregates:
        return Aggregates(**{k: getattr(self, k) + getattr(other, k) for k in vars(self)})

    def save(self, path: Path) -> None:
        atomic_write(path, lambda f: np.savez(f, **vars(self)))

    @classmethod
    def load(cls, path: Path) -> Aggregates:
        with np.load(path) as data:
            return cls(**{k: (int(data[k]) if k == "runs" else data[k]) for k in data.files})


def _fixed(x: np.ndarray) -> np.ndarray:
    """Values as int64 multiples of 1/FIXED (NaN as 0), whose sums are exact."""
    return np.round(np.nan_to_num(x) * FIXED).astype(np.int64)


def level_range(rules: Rules) -> tuple[int, int]:
    levels = [r.level for r in rules.rungs]
    return min(min(levels), 0), max(max(levels), 0)


@dataclass
class Plan:
    runs: int | None  # None with --until-ci: as many as it takes
    chunk: int
    workers: int
    until_ci: float | None = None
    max_runs: int = 10_000_000

    def __post_init__(self):
        if self.runs is not None and not 1 <= self.runs <= MAX_RUNS:
            raise UsageError(f"--runs {self.runs}: expected 1 to {MAX_RUNS:,}")
        if not 1 <= self.chunk <= MAX_CHUNK:
            raise UsageError(f"--chunk {self.chunk}: expected 1 to {MAX_CHUNK:,} runs (a chunk's games are in memory at once)")

    def end(self, lo: int) -> int:
        """Where the chunk starting at run lo ends."""
        return min(lo + self.chunk, self.runs if self.until_ci is None else self.max_runs)

    def planned(self, lo: int) -> bool:
        return lo >= 0 and lo % self.chunk == 0 and lo < (self.runs if self.until_ci is None else self.max_runs)

    def chunks(self) -> Chunks:
        return Chunks(self.runs, self.chunk)


@dataclass(frozen=True)
class Chunks:
    """Runs [0, runs) in chunks, listed lazily: memory stays flat however many there are."""

    runs: int
    size: int

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return ((lo, min(lo + self.size, self.runs)) for lo in range(0, self.runs, self.size))
