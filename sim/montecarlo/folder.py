"""A batch's output folder: the manifest, the scenario as played, the files of each finished
chunk, and the final results; held by one command at a time, checked when read back."""
from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Iterable
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import replace
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..engine.rules import Rules
from ..format.errors import BatchError, ScenarioError, UsageError, printable
from ..format.files import TEMP, atomic_write, dump_json, replacing
from ..format.model import Scenario, digest
from .chunks import MAX_CHUNK, MAX_RUNS, ROW_GROUP, Aggregates, Job, Plan, check_trajectories, column
from .summary import summary, turns_table

LOCK = ".ladder.lock"
CHUNK = ".chunk"  # the ending of a chunk's Parquet files (see Folder._part)


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
    # Since issue 19 (a folder written before holds none of them, and means their defaults):
    variant: str | None = Field(None, max_length=400)
    events: bool = False
    trajectories: list[str] = []

    @model_validator(mode="after")
    def _sized(self):
        if self.runs is None and self.until_ci is None:
            raise ValueError("neither runs nor until_ci is set")
        return self


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
        from ..format.scenario import validate
        from ..format.source import Document

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
        try:
            trajectories = check_trajectories(m["trajectories"], scenario)
        except UsageError as exc:
            raise UsageError(f"{self.path / 'manifest.json'}: {exc}") from None
        return Job(scenario, m["scenario"], m["seed"], m["doctrines"], m["variant"], m["events"], trajectories), m

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

    def _part(self, kind: str, lo: int) -> Path:
        """A chunk's file of runs, events or trajectories: Parquet, but not named .parquet, so
        that a `**/*.parquet` glob of the folder finds each run once (in the results)."""
        return self.chunks / f"{kind}-{lo:012d}{CHUNK}"

    def finished(self, plan: Plan, job: Job) -> set[int]:
        """The first runs of the chunks whose files are there and read back whole; a chunk
        whose files do not is said so and will be played again."""
        found = set()
        for p in self.chunks.glob("agg-*.npz"):
            lo = int(p.stem[4:]) if p.stem[4:].isdigit() else -1
            if plan.planned(lo):
                if self.intact(lo, plan.end(lo), job):
                    found.add(lo)
                else:
                    print(f"ladder: runs {lo}-{plan.end(lo) - 1}: the chunk's files are unreadable; playing them again", file=sys.stderr)
        return found

    def intact(self, lo: int, hi: int, job: Job) -> bool:
        import pyarrow.parquet as pq

        try:
            with np.load(self._agg(lo)) as data:
                whole = set(data.files) == set(Aggregates.__dataclass_fields__) and int(data["runs"]) == hi - lo
            rows = [pq.read_metadata(self._part(kind, lo)).num_rows for kind in job.files]  # each one readable
            return whole and rows[0] == hi - lo
        except Exception:  # whatever a truncated or foreign file raises, it is not a finished chunk
            return False

    def tidy(self) -> None:
        """Remove the temporaries of one of our commands that was killed (they bear our ending),
        and give the chunk files of a folder written before issue 19 their present name."""
        for p in [*self.path.glob(f"*{TEMP}"), *self.chunks.glob(f"*{TEMP}")]:
            p.unlink(missing_ok=True)
        for p in self.chunks.glob("runs-*.parquet"):
            p.rename(p.with_suffix(CHUNK))

    def save_chunk(self, result: dict) -> None:
        import pyarrow.parquet as pq

        lo = result["lo"]
        tables = {"runs": _table(result["rows"])} | {k: result[k] for k in ("events", "trajectories") if k in result}
        for kind, table in tables.items():
            atomic_write(self._part(kind, lo), lambda f: pq.write_table(table, f))
        result["agg"].save(self._agg(lo))  # last: it marks the chunk done

    def aggregates(self, chunks: Iterable[tuple[int, int]]) -> Aggregates:
        total = None
        for lo, _ in chunks:
            agg = Aggregates.load(self._agg(lo))
            total = agg if total is None else total + agg
        return total

    def finish(self, rules: Rules, job: Job, chunks: Iterable[tuple[int, int]], csv: bool, report: bool = True) -> dict:
        """Write runs.parquet (and events.parquet, trajectories.parquet if asked for),
        turns.parquet, summary.json and report.html (unless not `report`: a combined report of
        several batches is drawn instead), once every planned chunk is there and reads back
        whole; otherwise name the missing ones (BatchError)."""
        import pyarrow.parquet as pq

        from .report import batch_report

        missing = [c for c in chunks if not self.intact(*c, job)]
        if missing:
            lo, hi = missing[0]
            more = f" and {len(missing) - 1} more chunks" if len(missing) > 1 else ""
            raise BatchError(f"runs {lo}-{hi - 1}{more} missing from {self.chunks}: the batch is incomplete")
        agg = self.aggregates(chunks)
        for kind in job.files:
            self._write_rows(kind, job, chunks, csv and kind == "runs")
        turns = turns_table(rules, agg)
        atomic_write(self.path / "turns.parquet", lambda f: pq.write_table(results_table(turns, job), f))
        result = summary(rules, agg, job)
        atomic_write(self.path / "summary.json", lambda f: f.write(dump_json(result).encode()))
        if report:
            atomic_write(self.path / "report.html", lambda f: f.write(batch_report(result, turns).encode()))
        return result

    def _write_rows(self, kind: str, job: Job, chunks: Iterable[tuple[int, int]], csv: bool) -> None:
        """KIND.parquet (and KIND.csv) from the chunks' files, streamed in row groups of a fixed
        size, so the file is the same however the runs were chunked."""
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        with ExitStack() as files:
            out = files.enter_context(replacing(self.path / f"{kind}.parquet"))
            csv_file = files.enter_context(replacing(self.path / f"{kind}.csv")) if csv else None
            writer = None
            pending: list = []
            for k, (lo, _) in enumerate(chunks):
                table = results_table(pq.read_table(self._part(kind, lo)), job)
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
    from ..format.source import Document, read_document

    try:
        doc = read_document(path)
        return Document(str(path), data, doc.value_positions, doc.key_positions)
    except ScenarioError:
        return Document(str(path), data, {}, {})


def _located(doc, exc: ValidationError):
    """The first problem of a validation, located in the file."""
    from ..format.scenario import dotted

    first = exc.errors()[0]
    loc = tuple(first["loc"])
    name = dotted(loc) or "the file"
    return doc.problem(loc, f"{name}: {first['msg'].lower()}", key=first["type"] == "extra_forbidden")


def results_table(table, job: Job):
    """A table as the results hold it: the provenance of its rows first (scenario, variant, digest,
    seed), so that the results of several batches stack into one dataset, then its columns under
    names usable unquoted in SQL (`column`); the schema's metadata `ladder_names` maps each renamed
    column to its name before (`final_DPRK_economy` -> `final_DPRK.economy`). Chunk files written
    before issue 19 have the old names: they come out the same."""
    import pyarrow as pa

    names = [column(n) for n in table.column_names]
    clash = next((n for n in names if names.count(n) > 1), None)
    if clash:
        raise UsageError(f"two columns would both be named {clash}: {', '.join(o for o, n in zip(table.column_names, names) if n == clash)}; "
                         "rename one of their ids")
    renamed = {n: o for o, n in zip(table.column_names, names) if n != o}
    n = table.num_rows
    provenance = {"scenario": pa.array([job.name] * n, pa.string()), "variant": pa.array([job.label] * n, pa.string()),
                  "digest": pa.array([job.digest] * n, pa.string()), "seed": pa.array(np.full(n, job.seed, np.uint64))}
    data = dict(provenance) | dict(zip(names, table.columns))
    return pa.table(data).replace_schema_metadata({"ladder_names": json.dumps(renamed, sort_keys=True)})


def _table(columns: dict):
    import pyarrow as pa

    return pa.table({k: pa.array(np.ma.getdata(v), mask=np.ma.getmaskarray(v) if np.ma.isMaskedArray(v) else None) for k, v in columns.items()})
