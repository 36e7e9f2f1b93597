"""Where chunks are played: local worker processes, or a Dask cluster. Either yields chunk
results as they finish, keeping only a few in flight."""
from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress

from ..format.errors import BatchError, UsageError, printable
from .chunks import Job, run_chunk


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
