"""Monte Carlo batches: chunks of runs over local processes or a Dask cluster, streamed to disk.

A chunk is runs [lo, hi) of one seed. Each finished chunk leaves two files in `chunks/` (its
per-run rows and its aggregates), written atomically, so an interrupted batch keeps what
finished and `--resume` runs only what is missing. Aggregates (counts and histograms) add up
across chunks, so statistics need no second pass over the runs and memory stays flat. Run i
is the same game whatever the chunking, the number of workers or the backend.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .engine import Engine
from .errors import BatchError, UsageError
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


def summary(rules: Rules, agg: Aggregates, job: Job, partial: bool) -> dict:
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
        "scenario": rules.name, "title": rules.scenario.title, "seed": job.seed, "runs": n, "partial": partial,
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


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


class LocalBackend:
    def __init__(self, workers: int):
        self.workers = workers
        self.pool = None

    def run(self, job: Job, chunks: list[tuple[int, int]]):
        """Yield chunk results as they finish; a chunk whose worker crashed is retried once.

        Only a few chunks are in flight at a time, so memory does not grow with the batch. When a
        worker dies, every chunk in flight fails with it; those are run again one at a time, so
        that a crash can be laid at the right chunk's door.
        """
        queue = list(chunks)
        suspects: set = set()  # chunks caught in a crash: run alone until cleared
        crashes = {c: 0 for c in chunks}  # crashes each chunk was caught in
        in_flight: dict = {}
        try:
            while queue or in_flight:
                if self.pool is None:
                    self.pool = ProcessPoolExecutor(self.workers, initializer=_ignore_interrupts)
                room = 1 if suspects else 2 * self.workers
                while queue and len(in_flight) < room:
                    lo, hi = queue[0]
                    try:
                        in_flight[self.pool.submit(run_chunk, job, lo, hi)] = queue.pop(0)
                    except BrokenProcessPool:  # broke since the last wait: its futures will say so
                        break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for f in done:
                    chunk = in_flight.pop(f)
                    try:
                        result = f.result()
                    except BrokenProcessPool:
                        crashes[chunk] += 1
                        if chunk in suspects and crashes[chunk] > 1:  # crashed again, running alone
                            raise BatchError(f"runs {chunk[0]}-{chunk[1] - 1}: the worker crashed twice") from None
                        suspects.add(chunk)
                        queue.insert(0, chunk)
                        self.close()
                        continue
                    suspects.discard(chunk)
                    yield result
        finally:
            self.close()

    def close(self) -> None:
        if self.pool is not None:  # stop now, even mid-chunk (after Ctrl-C): what finished is saved
            workers = list((self.pool._processes or {}).values())
            self.pool.shutdown(wait=False, cancel_futures=True)
            for p in workers:
                p.terminate()
            self.pool = None


class DaskBackend:
    def __init__(self, address: str, workers: int):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise UsageError("--dask needs the dask extra: pip install 'escalation-ladder[dask]'") from None
        try:
            if address == "local":
                self.client = Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None))
            elif address == "in-process":  # for tests: a cluster of threads inside this process
                self.client = Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=False, dashboard_address=None))
            else:
                self.client = Client(address, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise BatchError(f"cannot reach the Dask cluster at {address}: {exc}") from None

    def run(self, job: Job, chunks: list[tuple[int, int]]):
        from dask.distributed import as_completed

        futures = [self.client.submit(run_chunk, job, lo, hi, pure=False, retries=1) for lo, hi in chunks]
        for f in as_completed(futures):
            try:
                yield f.result()
            except Exception as exc:
                raise BatchError(f"a Dask worker failed: {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        cluster = self.client.cluster
        self.client.close()
        if cluster is not None:
            cluster.close()


# --- the output folder ----------------------------------------------------------------------


class Folder:
    """A batch's output folder: manifest, chunk files, and the final results."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.chunks = self.path / "chunks"

    def create(self, manifest: dict, scenario: Scenario) -> None:
        try:
            self.chunks.mkdir(parents=True, exist_ok=True)
            probe = self.path / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise UsageError(f"cannot write to {self.path}: {exc.strerror or exc}") from None
        atomic_write(self.path / "scenario.json", lambda f: f.write(dump_json(scenario.model_dump(mode="json", by_alias=True)).encode()))
        self.write_manifest(manifest)

    def manifest(self) -> dict:
        try:
            return json.loads((self.path / "manifest.json").read_text())
        except FileNotFoundError:
            raise UsageError(f"{self.path}: not a batch folder (no manifest.json)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"{self.path / 'manifest.json'}:1:1: corrupt manifest: {exc}") from None

    def scenario(self) -> Scenario:
        from pydantic import ValidationError

        try:
            return Scenario.model_validate(json.loads((self.path / "scenario.json").read_text()))
        except (FileNotFoundError, json.JSONDecodeError, ValidationError) as exc:
            raise UsageError(f"{self.path / 'scenario.json'}:1:1: missing or corrupt scenario: {exc}") from None

    def write_manifest(self, manifest: dict) -> None:
        atomic_write(self.path / "manifest.json", lambda f: f.write(dump_json(manifest).encode()))

    def runs_done(self) -> int:
        """Runs in the chunks finished so far."""
        return sum(Aggregates.load(p).runs for p in self.chunks.glob("agg-*.npz"))

    def clean(self) -> None:
        """Remove what an interrupted write left half-done."""
        for pattern in ("*.part", "*.tmp"):
            for p in [*self.path.glob(pattern), *self.chunks.glob(pattern)]:
                p.unlink(missing_ok=True)

    def done(self, lo: int) -> bool:
        return (self.chunks / f"agg-{lo:012d}.npz").exists()

    def save_chunk(self, result: dict) -> None:
        import pyarrow.parquet as pq

        lo = result["lo"]
        atomic_write(self.chunks / f"runs-{lo:012d}.parquet", lambda f: pq.write_table(_table(result["rows"]), f))
        result["agg"].save(self.chunks / f"agg-{lo:012d}.npz")  # last: it marks the chunk done

    def aggregates(self, chunks) -> Aggregates:
        total = None
        for lo, _ in chunks:
            agg = Aggregates.load(self.chunks / f"agg-{lo:012d}.npz")
            total = agg if total is None else total + agg
        return total

    def finish(self, rules: Rules, job: Job, chunks, partial: bool, csv: bool) -> dict:
        """Write runs.parquet, turns.parquet, summary.json and report.html from the chunks."""
        import pyarrow.parquet as pq

        from .report import batch_report

        done = [c for c in chunks if self.done(c[0])]
        agg = self.aggregates(done)
        self._write_runs(done, csv)
        turns = turns_table(rules, agg)
        atomic_write(self.path / "turns.parquet", lambda f: pq.write_table(turns, f))
        result = summary(rules, agg, job, partial)
        atomic_write(self.path / "summary.json", lambda f: f.write(dump_json(result).encode()))
        atomic_write(self.path / "report.html", lambda f: f.write(batch_report(result, turns).encode()))
        return result

    def _write_runs(self, chunks, csv: bool) -> None:
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        tmp = self.path / "runs.parquet.tmp"
        writer = None
        pending: list = []
        csv_file = open(self.path / "runs.csv.tmp", "wb") if csv else None
        try:
            for lo, _ in chunks:
                table = pq.read_table(self.chunks / f"runs-{lo:012d}.parquet")
                writer = writer or pq.ParquetWriter(tmp, table.schema)
                pending.append(table)
                rows_pending = sum(t.num_rows for t in pending)
                while rows_pending >= ROW_GROUP:
                    merged = pa.concat_tables(pending)
                    writer.write_table(merged.slice(0, ROW_GROUP), row_group_size=ROW_GROUP)
                    pending = [merged.slice(ROW_GROUP)]
                    rows_pending -= ROW_GROUP
                if csv_file:
                    pacsv.write_csv(table, csv_file, pacsv.WriteOptions(include_header=(lo == chunks[0][0])))
            if pending and writer:
                writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP)
        finally:
            if writer:
                writer.close()
            if csv_file:
                csv_file.close()
        os.replace(tmp, self.path / "runs.parquet")
        if csv:
            os.replace(self.path / "runs.csv.tmp", self.path / "runs.csv")


def _table(columns: dict):
    import pyarrow as pa

    return pa.table({k: pa.array(np.ma.getdata(v), mask=np.ma.getmaskarray(v) if np.ma.isMaskedArray(v) else None) for k, v in columns.items()})


def dump_json(data) -> str:
    return json.dumps(data, indent=2, default=_plain) + "\n"


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")


def atomic_write(path: Path, write) -> None:
    """Write a file whole or not at all: to a temporary name, then rename."""
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, path)


# --- a whole batch --------------------------------------------------------------------------


@dataclass
class Plan:
    runs: int | None  # None with --until-ci: as many as it takes
    chunk: int
    workers: int
    until_ci: float | None = None
    max_runs: int = 10_000_000


def default_folder(name: str, seed: int) -> Path:
    return Path("runs") / f"{name}-{seed}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def run_batch(job: Job, plan: Plan, folder: Folder, backend, arguments: dict, csv: bool = False, resume: bool = False) -> dict:
    """Play the batch into the folder; returns the summary. Ctrl-C leaves a resumable partial folder."""
    rules = _rules(job)
    manifest = {
        "scenario": job.name, "title": job.scenario.title, "digest": job.digest, "schema_version": job.scenario.schema_version,
        "version": __version__, "seed": job.seed, "runs": plan.runs, "chunk": plan.chunk, "until_ci": plan.until_ci,
        "doctrines": job.doctrines, "arguments": arguments, "partial": True,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if resume:
        manifest = folder.manifest() | {"partial": True}
    else:
        folder.create(manifest, job.scenario)
    progress = Progress(plan.runs)
    try:
        if plan.until_ci is None:
            chunks = [(lo, min(lo + plan.chunk, plan.runs)) for lo in range(0, plan.runs, plan.chunk)]
            _play(job, [c for c in chunks if not folder.done(c[0])], folder, backend, progress, done=chunks)
        else:
            chunks = _until_ci(job, plan, folder, backend, progress)
        result = folder.finish(rules, job, chunks, partial=False, csv=csv)
    except BaseException:  # Ctrl-C or a failure: keep what finished, marked partial
        manifest["runs_done"] = folder.runs_done()
        folder.write_manifest(manifest)
        folder.clean()
        raise
    finally:
        progress.close()
        backend.close()
    manifest["runs"] = manifest["runs_done"] = sum(hi - lo for lo, hi in chunks)
    manifest["partial"] = False
    folder.write_manifest(manifest)
    return result


def _play(job, todo, folder, backend, progress, done) -> None:
    progress.add(sum(hi - lo for lo, hi in done if (lo, hi) not in todo))
    for result in backend.run(job, todo):
        folder.save_chunk(result)
        progress.add(result["hi"] - result["lo"])


def _until_ci(job: Job, plan: Plan, folder: Folder, backend, progress) -> list[tuple[int, int]]:
    """Add rounds of chunks until every outcome's 95 % interval is narrower than ±until_ci."""
    chunks: list[tuple[int, int]] = []
    per_round = plan.chunk * max(plan.workers, 1)
    while not chunks or widest_interval(folder.aggregates(chunks)) >= plan.until_ci:
        lo = chunks[-1][1] if chunks else 0
        if lo >= plan.max_runs:
            break
        new = [(a, min(a + plan.chunk, plan.max_runs)) for a in range(lo, min(lo + per_round, plan.max_runs), plan.chunk)]
        _play(job, [c for c in new if not folder.done(c[0])], folder, backend, progress, done=new)
        chunks += new
    return chunks
