"""Where chunks are played: local worker processes, or a Dask cluster. Either yields chunk
results as they finish, keeping only a few in flight."""
from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from multiprocessing.connection import Connection, wait

from ..format.errors import BatchError, UsageError, printable
from .chunks import Job, run_chunk


def _serve(job: Job, tasks: Connection, results: Connection) -> None:
    """A worker process: play each chunk it is sent, send back its result (or its error).

    Ctrl-C is the parent's to handle, and the worker ends when its parent does, even when the
    parent is killed outright (SIGKILL gives it no chance to stop its workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
    while True:
        try:
            lo, hi = tasks.recv()
        except EOFError:  # the parent closed the pipe: no more work
            return
        try:
            results.send(("done", run_chunk(job, lo, hi)))
        except Exception as exc:  # a bug in a chunk: the parent ends the batch with it
            results.send(("error", exc))


class _Worker:
    """One worker process with a pipe each way of its own. The parent keeps no copy of the
    worker's end of the results pipe, so a worker that dies, even halfway through sending a
    result, leaves the parent an end of file rather than a read that waits forever (which is
    how a shared result queue, as in ProcessPoolExecutor, hangs when a worker is killed)."""

    def __init__(self, job: Job):
        context = multiprocessing.get_context()
        tasks_out, tasks_in = context.Pipe(duplex=False)
        results_out, results_in = context.Pipe(duplex=False)
        self.process = context.Process(target=_serve, args=(job, tasks_out, results_in), daemon=True)
        self.process.start()
        tasks_out.close()
        results_in.close()
        self.tasks, self.results = tasks_in, results_out
        self.chunk: tuple[int, int] | None = None

    def give(self, chunk: tuple[int, int]) -> None:
        self.chunk = chunk
        with suppress(OSError):  # already dead: its sentinel says so, and the chunk is played again
            self.tasks.send(chunk)

    def take(self):
        """The worker's answer for its chunk; None when it died before giving one whole."""
        try:
            return self.results.recv()
        except (EOFError, OSError):
            return None

    def stop(self) -> None:
        self.process.kill()  # now, even mid-chunk (after Ctrl-C): what finished is saved
        self.process.join()
        self.tasks.close()
        self.results.close()


class LocalBackend:
    def __init__(self, workers: int):
        self.workers = workers
        self.pool: list[_Worker] = []

    def run(self, job: Job, chunks: Iterable[tuple[int, int]]):
        """Yield chunk results as they finish; a chunk whose worker died is played again once.

        Chunks are taken from `chunks` as workers free up, so neither the plan nor the work in
        flight grows with the batch. A worker that dies costs only its own chunk, which goes back
        to the front of the queue and a new worker takes its place.
        """
        fresh = iter(chunks)
        queue: deque = deque()  # chunks given back by a crash, played before fresh ones
        crashes: dict = {}
        try:
            self.pool = [_Worker(job) for _ in range(self.workers)]
            busy: dict = {}  # results pipe or process sentinel -> worker
            done: list = []
            while True:
                for worker in self.pool:
                    if worker.chunk is None and (queue or _pull(fresh, queue)):
                        worker.give(queue.popleft())
                        busy[worker.results] = busy[worker.process.sentinel] = worker
                yield from done  # once every free worker has its next chunk
                if not busy:
                    return
                done = []
                for ready in wait(list(busy)):
                    worker = busy.get(ready)
                    if worker is None:
                        continue  # both its pipe and its sentinel were ready: already handled
                    answer = worker.take() if ready is worker.results or worker.results.poll() else None
                    chunk, worker.chunk = worker.chunk, None
                    del busy[worker.results], busy[worker.process.sentinel]
                    if answer is None:
                        crashes[chunk] = crashes.get(chunk, 0) + 1
                        if crashes[chunk] > 1:
                            raise BatchError(f"runs {chunk[0]}-{chunk[1] - 1}: the worker crashed twice")
                        queue.appendleft(chunk)
                        worker.stop()
                        self.pool[self.pool.index(worker)] = _Worker(job)
                    elif answer[0] == "error":
                        raise answer[1]  # a chunk's own error (a bug) ends the batch, marked partial
                    else:
                        done.append(answer[1])
        finally:
            self.close()

    def close(self) -> None:
        for worker in self.pool:
            worker.stop()
        self.pool = []


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
                # this process's to handle, so they neither die mid-task nor print tracebacks. Its
                # workers log only what is critical: a cluster torn down mid-task makes them log
                # lost heartbeats and cancelled tasks, and a worker's real failure reaches the
                # batch through its task anyway.
                with _interrupts_ignored():
                    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                           silence_logs=logging.CRITICAL)
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
        for name in ("distributed", "tornado", "asyncio"):  # a cluster torn down mid-task complains
            logging.getLogger(name).setLevel(logging.CRITICAL)
        cluster = self.client.cluster
        with suppress(Exception):  # a teardown racing an interrupt may fail; it must not hide the interrupt
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
