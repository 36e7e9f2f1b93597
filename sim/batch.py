"""Monte Carlo batches: chunks of runs over local processes or a Dask cluster, streamed to disk.

A chunk is runs [lo, hi) of one seed. Each finished chunk leaves two files in `chunks/` (its
per-run rows and its aggregates), written atomically, so an interrupted batch keeps what
finished and `--resume` runs only what is missing. Aggregates (counts and histograms) add up
across chunks, so statistics need no second pass over the runs and memory stays flat. Run i
is the same game whatever the chunking, the number of workers or the backend.
"""
from __future__ import annotations

import datetime as dt
import errno
import fcntl
import hashlib
import itertools
import json
import os
import secrets
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import __version__
from .engine import Engine
from .errors import BatchError, ScenarioError, UsageError, printable
from .model import Scenario
from .rules import Rules
from .stats import quantiles_from_counts, wilson

TENSION_BINS = 200  # tension percentiles to 1/200 of its range
RUNG_STEP = 0.25  # rung percentiles to a quarter level
ROW_GROUP = 65_536  # runs.parquet row groups: fixed, so the file does not depend on chunking
FIXED = 2.0**20  # sums are kept in fixed point: exact, so they do not depend on chunking either


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to play runs of a batch; small enough to send to each."""

    scenario: Scenario
    name: str
    seed: int
    doctrines: dict = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return digest(self.scenario)


def digest(scenario: Scenario) -> str:
    text = json.dumps(scenario.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


# --- one chunk ------------------------------------------------------------------------------

_rules_cache: dict[str, Rules] = {}


def _rules(job: Job) -> Rules:
    key = job.digest
    if key not in _rules_cache:
        _rules_cache[key] = Rules(job.scenario, job.name)
    return _rules_cache[key]


def run_chunk(job: Job, lo: int, hi: int) -> dict:
    """Play runs [lo, hi): their rows and their aggregates."""
    rules = _rules(job)
    engine = Engine(rules, seed=job.seed, runs=np.arange(lo, hi), record=False, doctrines=job.doctrines).run()
    return {"lo": lo, "hi": hi, "rows": rows(engine), "agg": Aggregates.of(engine)}


def rows(engine: Engine) -> dict[str, np.ndarray]:
    """One row per run: outcome, end turn, peaks, threshold turns, move counts, final values."""
    rules, st = engine.rules, engine.state
    out = {
        "run": st.run.astype(np.int64),
        "outcome": np.array([rules.outcomes[o].id for o in st.outcome], dtype=object),
        "end_turn": st.end_turn.astype(np.int32),
    }
    for a, actor in enumerate(rules.actors):
        out[f"peak_{actor}"] = st.peak[:, a]
    for j, t in enumerate(rules.scenario.ladder.thresholds):
        out[f"threshold_{t.id}"] = np.ma.masked_less(st.threshold_turn[:, j], 0)
    for i, o in enumerate(rules.options):
        out[f"moves_{o.id}"] = st.counts[:, i]
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
        lo, hi = _levels(rules)
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


def _levels(rules: Rules) -> tuple[int, int]:
    levels = [r.level for r in rules.rungs]
    return min(min(levels), 0), max(max(levels), 0)


# --- statistics -----------------------------------------------------------------------------


def summary(rules: Rules, agg: Aggregates, job: Job) -> dict:
    n = agg.runs
    turns = np.arange(rules.horizon)
    outcomes = {}
    for k, o in enumerate(rules.outcomes):
        count = int(agg.outcome[k])
        q1, med, q3 = quantiles_from_counts(turns, agg.end_turn[k], (0.25, 0.5, 0.75))
        outcomes[o.id] = {
            "label": o.label, "kind": o.kind, "count": count, "p": count / n if n else 0.0,
            "ci95": list(wilson(count, n)),
            "time_to_outcome": None if count == 0 else {"median": med, "q1": q1, "q3": q3},
        }
    thresholds = {
        t.id: {"label": t.label, "level": t.level, "count": int(c), "p": c / n if n else 0.0, "ci95": list(wilson(int(c), n))}
        for t, c in zip(rules.scenario.ladder.thresholds, agg.threshold)
    }
    lo, hi = _levels(rules)
    top = {}
    for a, actor in enumerate(rules.actors):
        idx = rules.by_actor[a]
        order = idx[np.argsort(-agg.moves[idx], kind="stable")][:8]
        top[actor] = [
            {"option": rules.options[i].id, "label": rules.options[i].label, "per_game": float(agg.moves[i]) / n}
            for i in order if agg.moves[i] > 0
        ]
    return {
        "scenario": rules.name, "title": rules.scenario.title, "seed": job.seed, "runs": n, "partial": False,
        "turns": rules.horizon, "start": rules.scenario.clock.start, "turn_days": rules.scenario.clock.turn_days,
        "doctrines": {a: job.doctrines.get(a, spec.doctrine) for a, spec in rules.scenario.actors.items()},
        "outcomes": outcomes,
        "thresholds": thresholds,
        "mean_peak_rung": {actor: float(agg.peak_sum[a]) / FIXED / n for a, actor in enumerate(rules.actors)},
        "peak_rung_distribution": {
            actor: {"levels": [float(x) for x in range(lo, hi + 1)], "counts": [int(c) for c in agg.peak_hist[a]]}
            for a, actor in enumerate(rules.actors)
        },
        "top_moves": top,
    }


def turns_table(rules: Rules, agg: Aggregates):
    import pyarrow as pa

    H = rules.horizon
    alive = np.maximum(agg.alive, 1)
    t_lo, t_hi = rules.vmin[rules.tension], rules.vmax[rules.tension]
    t_values = t_lo + (np.arange(TENSION_BINS) + 0.5) * (t_hi - t_lo) / TENSION_BINS
    lo, hi = _levels(rules)
    r_values = lo + np.arange(agg.rung_hist.shape[2]) * RUNG_STEP
    cols: dict = {"turn": np.arange(H), "date": [rules.date(t).isoformat() for t in range(H)]}

    def describe(prefix, sums, hists, values):
        cols[f"{prefix}_mean"] = np.where(agg.alive > 0, sums / FIXED / alive, np.nan)
        qs = [quantiles_from_counts(values, hists[t], (0.1, 0.5, 0.9)) for t in range(H)]
        for j, q in enumerate(("p10", "p50", "p90")):
            cols[f"{prefix}_{q}"] = np.array([np.nan if row[j] is None else row[j] for row in qs])

    describe("tension", agg.tension_sum, agg.tension_hist, t_values)
    for a, actor in enumerate(rules.actors):
        describe(f"rung_{actor}", agg.rung_sum[:, a], agg.rung_hist[:, a], r_values)
    for k, o in enumerate(rules.outcomes):
        cols[f"ended_{o.id}"] = np.cumsum(agg.end_turn[k]) / max(agg.runs, 1)
    return pa.table(cols)


def widest_interval(agg: Aggregates) -> float:
    """The largest half-width of the outcome probabilities' 95 % intervals."""
    return max((hi - lo) / 2 for lo, hi in (wilson(int(c), agg.runs) for c in agg.outcome))


# --- running --------------------------------------------------------------------------------


class Progress:
    """Runs done, rate and time left on stderr, in a terminal only."""

    def __init__(self, total: int | None, stream=sys.stderr):
        self.total, self.stream, self.done = total, stream, 0
        self.start = time.perf_counter()
        self.on = stream.isatty()

    def add(self, runs: int) -> None:
        self.done += runs
        if not self.on:
            return
        rate = self.done / max(time.perf_counter() - self.start, 1e-9)
        if self.total:
            left = (self.total - self.done) / rate if rate else 0
            text = f"{self.done:,}/{self.total:,} runs  {rate:,.0f} runs/s  {left:,.0f} s left"
        else:
            text = f"{self.done:,} runs  {rate:,.0f} runs/s"
        self.stream.write("\r" + text.ljust(60))
        self.stream.flush()

    def close(self) -> None:
        if self.on:
            self.stream.write("\r" + " " * 60 + "\r")


def _worker_start() -> None:
    """A pool worker: Ctrl-C is the parent's to handle, and the worker ends when its parent does,
    even when the parent is killed outright (SIGKILL gives it no chance to stop its pool)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


class LocalBackend:
    def __init__(self, workers: int):
        self.workers = workers
        self.pool = None

    def run(self, job: Job, chunks: Iterable[tuple[int, int]]):
        """Yield chunk results as they finish; a chunk whose worker crashed is retried once.

        Chunks are taken from `chunks` as room frees up, so neither the plan nor the work in
        flight grows with the batch. A chunk leaves the queue only once the pool has taken it.
        When a worker dies the whole pool breaks and every chunk in it goes back to the front of
        the queue; those are then run one at a time, so that a crash is laid at the right door.
        """
        fresh = iter(chunks)
        queue: deque = deque()  # taken from the plan or given back by a crash, not yet submitted
        suspects: set = set()  # chunks caught in a crash: run alone until cleared
        crashes: dict = {}  # crashes each chunk was caught in
        in_flight: dict = {}
        try:
            while True:
                if self.pool is None:
                    self.pool = ProcessPoolExecutor(self.workers, initializer=_worker_start)
                room = 1 if suspects else 2 * self.workers
                while len(in_flight) < room and (queue or _pull(fresh, queue)):
                    try:
                        future = self.pool.submit(run_chunk, job, *queue[0])
                    except BrokenProcessPool:  # broke since the last wait: its futures will say so
                        break
                    in_flight[future] = queue.popleft()
                if not in_flight:
                    if not queue:
                        return
                    self.close()  # the pool broke before it took anything: start a new one
                    continue
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                    done, _ = wait(in_flight)  # a broken pool fails all its futures at once
                    self.close()
                lost = []
                for f in done:
                    chunk = in_flight.pop(f)
                    if isinstance(f.exception(), BrokenProcessPool):
                        lost.append(chunk)
                        continue
                    result = f.result()  # a chunk's own error (a bug) ends the batch, marked partial
                    suspects.discard(chunk)
                    yield result
                for chunk in sorted(lost, reverse=True):
                    crashes[chunk] = crashes.get(chunk, 0) + 1
                    if chunk in suspects and crashes[chunk] > 1:  # crashed again, running alone
                        raise BatchError(f"runs {chunk[0]}-{chunk[1] - 1}: the worker crashed twice")
                    suspects.add(chunk)
                    queue.appendleft(chunk)
        finally:
            self.close()

    def close(self) -> None:
        if self.pool is not None:  # stop now, even mid-chunk (after Ctrl-C): what finished is saved
            workers = list((self.pool._processes or {}).values())
            self.pool.shutdown(wait=False, cancel_futures=True)
            for p in workers:
                p.terminate()
            self.pool = None


def _pull(chunks: Iterator, queue: deque) -> bool:
    """Move the plan's next chunk onto the queue; False when the plan is exhausted."""
    chunk = next(chunks, None)
    if chunk is not None:
        queue.append(chunk)
    return chunk is not None


class DaskBackend:
    def __init__(self, address: str, workers: int):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise UsageError("--dask needs the dask extra: pip install 'escalation-ladder[dask]'") from None
        self.workers = workers
        try:
            if address == "local":
                # Started with Ctrl-C ignored, which its worker processes inherit: the interrupt is
                # this process's to handle, so they neither die mid-task nor print tracebacks.
                with _interrupts_ignored():
                    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
                self.client = Client(cluster)
            elif address == "in-process":  # for tests: a cluster of threads inside this process
                self.client = Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=False, dashboard_address=None))
            else:
                self.client = Client(address, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise BatchError(f"cannot reach the Dask cluster at {printable(address, 80)}: {exc}") from None
        except (ValueError, TypeError) as exc:
            raise UsageError(f"--dask {printable(address, 80)}: not a Dask address such as tcp://host:8786 or 'local' ({exc})") from None

    def run(self, job: Job, chunks: Iterable[tuple[int, int]]):
        """Yield chunk results as they finish; a window of chunks in flight, refilled as they end."""
        from dask.distributed import as_completed

        def submit(chunk):
            return self.client.submit(run_chunk, job, *chunk, pure=False, retries=1)

        todo = iter(chunks)
        window = as_completed([submit(c) for c in itertools.islice(todo, 2 * self.workers)])
        for f in window:
            try:
                result = f.result()
            except Exception as exc:
                raise BatchError(f"a Dask worker failed: {type(exc).__name__}: {exc}") from None
            following = next(todo, None)
            if following is not None:
                window.add(submit(following))
            yield result

    def close(self) -> None:
        import logging

        for name in ("distributed", "tornado", "asyncio"):  # a cluster torn down mid-task complains
            logging.getLogger(name).setLevel(logging.CRITICAL)
        cluster = self.client.cluster
        self.client.close()
        if cluster is not None:
            cluster.close()


@contextmanager
def _interrupts_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# --- the output folder ----------------------------------------------------------------------

MAX_RUNS = 10**9  # a day of this machine, and any number of chunks is planned lazily
MAX_CHUNK = 100_000  # a chunk's worlds are in memory at once: about 5 KB each for a year of weeks
LOCK = ".ladder.lock"
TEMP = ".ladder-part"  # the ending of our temporaries, so we never take another program's for ours


class Manifest(BaseModel):
    """manifest.json: what a batch folder records. Read back with its types and ranges checked,
    since a folder may come from someone else or have been edited."""

    model_config = ConfigDict(extra="forbid", strict=True)

    scenario: str = Field(min_length=1, max_length=200)
    title: str
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    schema_version: int
    version: str
    seed: int = Field(ge=0, lt=2**64)
    runs: int | None = Field(ge=1, le=MAX_RUNS)
    chunk: int = Field(ge=1, le=MAX_CHUNK)
    until_ci: float | None = Field(gt=0, lt=0.5)
    doctrines: dict[str, str]
    arguments: dict
    partial: bool
    created: str
    runs_done: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _sized(self):
        if self.runs is None and self.until_ci is None:
            raise ValueError("neither runs nor until_ci is set")
        return self


class DiskFull(BatchError):
    """A write failed for want of space: the batch stops, its folder partial and resumable."""


class Folder:
    """A batch's output folder: manifest, chunk files, and the final results.

    Everything in it is ours: a new batch goes only into a new or empty folder, one command at a
    time holds it (`locked`), and we delete only our own temporaries."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.chunks = self.path / "chunks"
        self._held = 0  # how deep this process holds the lock (it is taken once per process)

    @contextmanager
    def locked(self, create: bool = False):
        """Hold the folder for this process alone; a second writer gets one line. The lock is
        the kernel's (flock) on a file naming its owner: a lock whose owner died is released
        with it, so a stale lock file is simply taken over."""
        if self._held:
            self._held += 1
            try:
                yield
            finally:
                self._held -= 1
            return
        if not create and not self.path.is_dir():
            raise UsageError(f"{self.path}: no such batch folder")
        lock = self.path / LOCK
        made = not self.path.exists()  # removed again if the command leaves nothing in it
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except FileExistsError:
            raise UsageError(f"{self.path} is a file, not a folder; choose a new or empty folder") from None
        except OSError as exc:
            raise UsageError(f"cannot write to {self.path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino != os.stat(lock).st_ino:  # its owner removed it as we opened it
                raise BlockingIOError
        except (BlockingIOError, FileNotFoundError):
            owner = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise UsageError(f"{self.path} is in use by another ladder command ({printable(owner, 40)}); "
                             "wait for it to finish or choose another folder") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}\n".encode())
        self._held = 1
        try:
            yield
        finally:
            self._held = 0
            lock.unlink(missing_ok=True)
            os.close(fd)
            if made:
                with suppress(OSError):
                    self.path.rmdir()

    def claim(self) -> None:
        """Refuse a folder that already holds anything but our lock: results never land among a
        user's files, and never replace another batch's."""
        if (self.path / "manifest.json").exists():
            raise UsageError(f"{self.path} already holds results; choose another --out (a batch resumes with --resume {self.path})")
        if any(p.name != LOCK for p in self.path.iterdir()):
            raise UsageError(f"{self.path} is not empty and holds no ladder results; choose a new or empty --out folder")

    def create(self, manifest: dict, scenario: Scenario) -> None:
        self.claim()
        try:
            self.chunks.mkdir()
        except OSError as exc:
            raise UsageError(f"cannot write to {self.path}: {exc.strerror or exc}") from None
        atomic_write(self.path / "scenario.json", lambda f: f.write(dump_json(scenario.model_dump(mode="json", by_alias=True)).encode()))
        self.write_manifest(manifest)

    def manifest(self) -> dict:
        """The manifest, checked: one located line for anything missing, mistyped or out of range."""
        path = self.path / "manifest.json"
        if not path.is_file():
            raise UsageError(f"{self.path}: not a batch folder (no manifest.json)")
        data = _read_json(path, 2**20)
        try:
            return Manifest.model_validate(data).model_dump()
        except ValidationError as exc:
            raise UsageError(str(_located(_positioned(path, data), exc))) from None

    def scenario(self) -> Scenario:
        """scenario.json, validated as a scenario file is (references, expressions and all)."""
        from .scenario import validate
        from .source import Document

        path = self.path / "scenario.json"
        if not path.is_file():
            raise UsageError(f"{path}: missing: this batch folder is incomplete")
        data = _read_json(path, 64 * 2**20)  # written with indents: some five times its YAML
        if not isinstance(data, dict):
            raise UsageError(f"{path}:1:1: not a scenario: expected a mapping of its sections")
        try:
            if "extends" in data:  # never written here: would be read as given
                raise ScenarioError([Document(str(path), data, {}, {}).problem(("extends",), "a batch's scenario is stored whole and extends nothing")])
            return validate(Document(str(path), data, {}, {}))
        except ScenarioError:
            try:
                validate(_positioned(path, data))  # again, to say where
            except ScenarioError as exc:
                more = len(exc.problems) - 1
                first = exc.problems[0]
                note = f" (and {more} more problems)" if more else ""
                raise ScenarioError([replace(first, message=first.message + note)]) from None
            raise

    def job(self) -> tuple[Job, dict]:
        """The batch recorded here and its manifest: the scenario must match the manifest's
        digest and its doctrines, so what is resumed or replayed is what was played."""
        m = self.manifest()
        scenario = self.scenario()
        if digest(scenario) != m["digest"]:
            raise UsageError(f"{self.path / 'scenario.json'}:1:1: does not match the digest in manifest.json "
                             "(one of them was edited after the batch was made)")
        for actor, preset in m["doctrines"].items():
            if actor not in scenario.actors or preset not in scenario.doctrines:
                raise UsageError(f"{self.path / 'manifest.json'}: doctrines: {printable(actor, 40)}={printable(preset, 40)} "
                                 "is not an actor and doctrine of the scenario")
        return Job(scenario, m["scenario"], m["seed"], m["doctrines"]), m

    def replay(self, run: int) -> Job:
        """The batch recorded here, checked, for replaying one of its runs."""
        job, m = self.job()
        runs = m["runs_done"] or m["runs"] or 0
        if run >= runs:
            raise UsageError(f"--run {run}: the batch in {self.path} has runs 0 to {runs - 1}")
        return job

    def write_manifest(self, manifest: dict) -> None:
        atomic_write(self.path / "manifest.json", lambda f: f.write(dump_json(manifest).encode()))

    def _agg(self, lo: int) -> Path:
        return self.chunks / f"agg-{lo:012d}.npz"

    def _runs(self, lo: int) -> Path:
        return self.chunks / f"runs-{lo:012d}.parquet"

    def finished(self, plan: Plan) -> set[int]:
        """The first runs of the chunks whose files are there and read back whole; a chunk
        whose files do not is said so and will be played again."""
        found = set()
        for p in self.chunks.glob("agg-*.npz"):
            lo = int(p.stem[4:]) if p.stem[4:].isdigit() else -1
            if plan.planned(lo):
                if self.intact(lo, plan.end(lo)):
                    found.add(lo)
                else:
                    print(f"ladder: runs {lo}-{plan.end(lo) - 1}: the chunk's files are unreadable; playing them again", file=sys.stderr)
        return found

    def intact(self, lo: int, hi: int) -> bool:
        import pyarrow.parquet as pq

        try:
            with np.load(self._agg(lo)) as data:
                whole = set(data.files) == set(Aggregates.__dataclass_fields__) and int(data["runs"]) == hi - lo
            return whole and pq.read_metadata(self._runs(lo)).num_rows == hi - lo
        except Exception:  # whatever a truncated or foreign file raises, it is not a finished chunk
            return False

    def tidy(self) -> None:
        """Remove the temporaries of one of our commands that was killed (they bear our ending)."""
        for p in [*self.path.glob(f"*{TEMP}"), *self.chunks.glob(f"*{TEMP}")]:
            p.unlink(missing_ok=True)

    def save_chunk(self, result: dict) -> None:
        import pyarrow.parquet as pq

        lo = result["lo"]
        atomic_write(self._runs(lo), lambda f: pq.write_table(_table(result["rows"]), f))
        result["agg"].save(self._agg(lo))  # last: it marks the chunk done

    def aggregates(self, chunks: Iterable[tuple[int, int]]) -> Aggregates:
        total = None
        for lo, _ in chunks:
            agg = Aggregates.load(self._agg(lo))
            total = agg if total is None else total + agg
        return total

    def finish(self, rules: Rules, job: Job, chunks: Iterable[tuple[int, int]], csv: bool) -> dict:
        """Write runs.parquet, turns.parquet, summary.json and report.html, once every planned
        chunk is there and reads back whole; otherwise name the missing ones (BatchError)."""
        import pyarrow.parquet as pq

        from .report import batch_report

        missing = [c for c in chunks if not self.intact(*c)]
        if missing:
            lo, hi = missing[0]
            more = f" and {len(missing) - 1} more chunks" if len(missing) > 1 else ""
            raise BatchError(f"runs {lo}-{hi - 1}{more} missing from {self.chunks}: the batch is incomplete")
        agg = self.aggregates(chunks)
        self._write_runs(chunks, csv)
        turns = turns_table(rules, agg)
        atomic_write(self.path / "turns.parquet", lambda f: pq.write_table(turns, f))
        result = summary(rules, agg, job)
        atomic_write(self.path / "summary.json", lambda f: f.write(dump_json(result).encode()))
        atomic_write(self.path / "report.html", lambda f: f.write(batch_report(result, turns).encode()))
        return result

    def _write_runs(self, chunks: Iterable[tuple[int, int]], csv: bool) -> None:
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        with ExitStack() as files:
            out = files.enter_context(replacing(self.path / "runs.parquet"))
            csv_file = files.enter_context(replacing(self.path / "runs.csv")) if csv else None
            writer = None
            pending: list = []
            for k, (lo, _) in enumerate(chunks):
                table = pq.read_table(self._runs(lo))
                if writer is None:
                    writer = files.enter_context(pq.ParquetWriter(out, table.schema))
                pending.append(table)
                rows_pending = sum(t.num_rows for t in pending)
                while rows_pending >= ROW_GROUP:
                    merged = pa.concat_tables(pending)
                    writer.write_table(merged.slice(0, ROW_GROUP), row_group_size=ROW_GROUP)
                    pending = [merged.slice(ROW_GROUP)]
                    rows_pending -= ROW_GROUP
                if csv_file:
                    pacsv.write_csv(table, csv_file, pacsv.WriteOptions(include_header=(k == 0)))
            if pending and writer:
                writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP)


def _read_json(path: Path, limit: int):
    """The data of a JSON file of a batch folder, read by `json` (exact, and fast for a large
    scenario); every way it can fail is one located line."""
    try:
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise UsageError(f"{path}:1:1: file too large (the limit is {limit // 2**20} MiB)")
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise UsageError(f"{path}:1:1: not valid JSON: nested too deeply") from None
    except ValueError as exc:  # not UTF-8, a number of thousands of digits, NaN
        raise UsageError(f"{path}:1:1: not valid JSON: {printable(exc, 80)}") from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _positioned(path: Path, data):
    """`data` as a Document that knows where each value stands in the file, to locate a problem
    (read again by the positional reader; a file too large for it is located at 1:1)."""
    from .source import Document, read_document

    try:
        doc = read_document(path)
        return Document(str(path), data, doc.value_positions, doc.key_positions)
    except ScenarioError:
        return Document(str(path), data, {}, {})


def _located(doc, exc: ValidationError):
    """The first problem of a validation, located in the file."""
    from .scenario import dotted

    first = exc.errors()[0]
    loc = tuple(first["loc"])
    name = dotted(loc) or "the file"
    return doc.problem(loc, f"{name}: {first['msg'].lower()}", key=first["type"] == "extra_forbidden")


def _table(columns: dict):
    import pyarrow as pa

    return pa.table({k: pa.array(np.ma.getdata(v), mask=np.ma.getmaskarray(v) if np.ma.isMaskedArray(v) else None) for k, v in columns.items()})


def dump_json(data) -> str:
    return json.dumps(data, indent=2, default=_plain) + "\n"


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")


@contextmanager
def replacing(path: Path):
    """A file written whole or not at all: under a temporary name of our own (created, never
    reused), renamed into place on success, removed on any failure, an interrupt or a full disk."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP}")
    try:
        with open(tmp, "xb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(f"{path}: the disk is full") from None
        raise


def atomic_write(path: Path, write) -> None:
    """Write a file whole or not at all (see `replacing`)."""
    with replacing(path) as f:
        write(f)


# --- a whole batch --------------------------------------------------------------------------


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


def default_folder(name: str, seed: int) -> Path:
    return Path("runs") / f"{name}-{seed}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def run_batch(job: Job, plan: Plan, folder: Folder, backend, arguments: dict, csv: bool = False, resume: bool = False) -> dict:
    """Play the batch into the folder; returns the summary. Ctrl-C, a crash or a full disk leave
    a partial folder that resumes to the same bytes; the folder is held by this process alone."""
    rules = _rules(job)
    with folder.locked(create=not resume):
        if resume:
            manifest = folder.manifest()
            if not manifest["partial"]:
                raise UsageError(f"{folder.path}: this batch is complete; nothing to resume")
            folder.tidy()
        else:
            manifest = {
                "scenario": job.name, "title": job.scenario.title, "digest": job.digest, "schema_version": job.scenario.schema_version,
                "version": __version__, "seed": job.seed, "runs": plan.runs, "chunk": plan.chunk, "until_ci": plan.until_ci,
                "doctrines": job.doctrines, "arguments": arguments, "partial": True,
                "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            }
            folder.create(manifest, job.scenario)
        finished = folder.finished(plan)
        progress = Progress(plan.runs)
        progress.add(sum(plan.end(lo) - lo for lo in finished))
        try:
            if plan.until_ci is None:
                chunks = plan.chunks()
                _play(job, chunks, finished, folder, backend, progress)
            else:
                chunks = _until_ci(job, plan, finished, folder, backend, progress)
            result = folder.finish(rules, job, chunks, csv=csv)
        except BaseException:  # Ctrl-C or a failure: keep what finished, marked partial
            manifest["runs_done"] = sum(plan.end(lo) - lo for lo in finished)
            with suppress(OSError, DiskFull):  # on a full disk the manifest on disk says partial already
                folder.write_manifest(manifest)
            raise
        finally:
            progress.close()
            backend.close()
        manifest["runs"] = manifest["runs_done"] = sum(hi - lo for lo, hi in chunks)
        manifest["partial"] = False
        folder.write_manifest(manifest)
    return result


def _play(job: Job, chunks: Iterable[tuple[int, int]], finished: set[int], folder: Folder, backend, progress) -> None:
    """Play the chunks not finished yet, saving each as it comes; `finished` grows with them."""
    for result in backend.run(job, (c for c in chunks if c[0] not in finished)):
        folder.save_chunk(result)
        finished.add(result["lo"])
        progress.add(result["hi"] - result["lo"])


def _until_ci(job: Job, plan: Plan, finished: set[int], folder: Folder, backend, progress) -> list[tuple[int, int]]:
    """Add rounds of chunks until every outcome's 95 % interval is narrower than ±until_ci."""
    chunks: list[tuple[int, int]] = []
    per_round = plan.chunk * max(plan.workers, 1)
    while not chunks or widest_interval(folder.aggregates(chunks)) >= plan.until_ci:
        lo = chunks[-1][1] if chunks else 0
        if lo >= plan.max_runs:
            break
        new = [(a, plan.end(a)) for a in range(lo, min(lo + per_round, plan.max_runs), plan.chunk)]
        _play(job, new, finished, folder, backend, progress)
        chunks += new
    return chunks
