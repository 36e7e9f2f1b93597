"""Monte Carlo batches: chunks of runs over local processes or a Dask cluster, streamed to disk.

A chunk is runs [lo, hi) of one seed. Each finished chunk leaves its files in `chunks/` (its
per-run rows, events and trajectories if asked for, and its aggregates), written atomically, so an interrupted batch keeps what
finished and `--resume` runs only what is missing. Aggregates (counts and histograms) add up
across chunks, so statistics need no second pass over the runs and memory stays flat. Run i
is the same game whatever the chunking, the number of workers or the backend.
"""
from __future__ import annotations

import datetime as dt
import signal
import sys
import threading
import time
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

from ..version import __version__
from ..format.errors import DiskFull, UsageError
from .chunks import Job, Plan, rules_of
from .folder import Folder
from .summary import widest_interval


class Progress:
    """Runs done, rate and time left on stderr, in a terminal only."""

    def __init__(self, total: int | None, stream=None):
        stream = stream or sys.stderr  # the stderr of now, not of the import: it may have been replaced since
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


class Interrupts:
    """Ctrl-C, noted as well as raised. Python swallows an exception raised inside a finaliser (a
    Dask future's `__del__` run by the garbage collector, say): an interrupt landing there would
    be lost and the batch would run on, so it is also noted, and the batch stops after the chunk
    in hand. Only the main thread can take signals; elsewhere this does nothing."""

    def __init__(self):
        self.noted = False
        self.previous = None
        self.unraisable = None

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._note)
            # Python prints what a finaliser raised ("Exception ignored in ...", a traceback): an
            # interrupt is noted and acted on, so it is not printed
            self.unraisable, sys.unraisablehook = sys.unraisablehook, self._unraisable
        return self

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            sys.unraisablehook = self.unraisable

    def _unraisable(self, info) -> None:
        if not (self.noted and info.exc_type is KeyboardInterrupt):
            self.unraisable(info)

    def _note(self, signum, frame) -> None:
        self.noted = True
        raise KeyboardInterrupt

    def check(self) -> None:
        if self.noted:
            raise KeyboardInterrupt


def default_folder(name: str, seed: int) -> Path:
    return Path("runs") / f"{name}-{seed}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def run_batch(job: Job, plan: Plan, folder: Folder, backend, arguments: dict, csv: bool = False, resume: bool = False,
              report: bool = True) -> dict:
    """Play the batch into the folder; returns the summary. Ctrl-C, a crash or a full disk leave
    a partial folder that resumes to the same bytes; the folder is held by this process alone."""
    rules = rules_of(job)
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
                "variant": job.variant, "events": job.events, "trajectories": list(job.trajectories),
            }
            folder.create(manifest, job.scenario)
        finished = folder.finished(plan, job)
        progress = Progress(plan.runs)
        progress.add(sum(plan.end(lo) - lo for lo in finished))
        try:
            with Interrupts() as interrupts:
                if plan.until_ci is None:
                    chunks = plan.chunks()
                    _play(job, chunks, finished, folder, backend, progress, interrupts)
                else:
                    chunks = _until_ci(job, plan, finished, folder, backend, progress, interrupts)
            result = folder.finish(rules, job, chunks, csv=csv, report=report)
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


def _play(job: Job, chunks: Iterable[tuple[int, int]], finished: set[int], folder: Folder, backend, progress,
          interrupts: Interrupts) -> None:
    """Play the chunks not finished yet, saving each as it comes; `finished` grows with them."""
    for result in backend.run(job, (c for c in chunks if c[0] not in finished)):
        folder.save_chunk(result)
        finished.add(result["lo"])
        progress.add(result["hi"] - result["lo"])
        interrupts.check()


def _until_ci(job: Job, plan: Plan, finished: set[int], folder: Folder, backend, progress,
              interrupts: Interrupts) -> list[tuple[int, int]]:
    """Add rounds of chunks until every outcome's 95 % interval is narrower than ±until_ci."""
    chunks: list[tuple[int, int]] = []
    per_round = plan.chunk * max(plan.workers, 1)
    while not chunks or widest_interval(folder.aggregates(chunks)) >= plan.until_ci:
        lo = chunks[-1][1] if chunks else 0
        if lo >= plan.max_runs:
            break
        new = [(a, plan.end(a)) for a in range(lo, min(lo + per_round, plan.max_runs), plan.chunk)]
        _play(job, new, finished, folder, backend, progress, interrupts)
        chunks += new
    return chunks
