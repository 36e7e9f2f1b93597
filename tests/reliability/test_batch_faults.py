"""Batches under attack: killed workers, interrupts at every stage, a full disk, two writers,
foreign files in the output folder, a killed parent. Each ends with a batch that is complete with
every run, or partial and resumable to the same bytes as a batch that was never disturbed."""
from __future__ import annotations

import errno
import io
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
from contextlib import suppress
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

import sim.format.files
import sim.montecarlo.folder
from sim.cli import main
from sim.format.errors import BatchError, DiskFull, UsageError
from sim.format.files import TEMP
from sim.format.scenario import open_scenario
from sim.montecarlo.backends import LocalBackend
from sim.montecarlo.batch import run_batch
from sim.montecarlo.chunks import Job, Plan
from sim.montecarlo.folder import Folder

RUNS, CHUNK = 1200, 200
RESULTS = ("runs.parquet", "turns.parquet", "summary.json", "report.html")


@pytest.fixture(scope="module")
def job():
    loaded = open_scenario("tutorial")
    return Job(loaded.scenario, loaded.name, seed=11)


@pytest.fixture(scope="module")
def whole(job, tmp_path_factory):
    """The undisturbed batch every disturbed one must end up equal to."""
    path = tmp_path_factory.mktemp("whole") / "batch"
    run_batch(job, Plan(RUNS, CHUNK, 1), Folder(path), LocalBackend(1), {})
    return path


def batch(job, path, backend=None, workers=1, runs=RUNS):
    return run_batch(job, Plan(runs, CHUNK, workers), Folder(path), backend or LocalBackend(workers), {})


def resume(path) -> int:
    return main(["batch", "--resume", str(path), "--workers", "1", "--json"])


def assert_same(path, whole):
    for name in ("runs.parquet", "turns.parquet", "summary.json"):
        assert (path / name).read_bytes() == (whole / name).read_bytes(), name
    assert json.loads((path / "manifest.json").read_text())["partial"] is False
    assert not list(path.rglob(f"*{TEMP}")), "temporaries left behind"


def manifest(path) -> dict:
    return json.loads((path / "manifest.json").read_text())


@pytest.fixture
def forked_workers():
    import multiprocessing

    if multiprocessing.get_start_method() != "fork":
        pytest.skip("needs workers forked from the test process")


# --- crashed workers ---------------------------------------------------------------------


def test_a_worker_killed_mid_batch_loses_no_chunk(job, whole, tmp_path, monkeypatch):
    """SIGKILL one worker as soon as the first chunk is saved (a deterministic point)."""
    backend = LocalBackend(2)
    save, killed = Folder.save_chunk, []

    def save_then_kill(folder, result):
        save(folder, result)
        if not killed:
            victim = backend.pool[0].process
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)

    monkeypatch.setattr(Folder, "save_chunk", save_then_kill)
    batch(job, tmp_path / "b", backend, workers=2)
    assert killed
    assert_same(tmp_path / "b", whole)


def test_a_worker_killed_halfway_through_sending_its_result_does_not_hang(job, whole, tmp_path, monkeypatch, forked_workers):
    """The worker playing runs 400-599 sends half its result and dies (once: a marker file says
    so). With a result queue shared by all workers, as ProcessPoolExecutor has, the parent then
    waits for the rest of the message for ever; here it gets an end of file and plays the chunk
    again."""
    parent, marker, send = os.getpid(), tmp_path / "died-once", Connection.send

    def send_half_then_die(conn, obj):
        if os.getpid() != parent and obj[0] == "done" and obj[1]["lo"] == 400 and not marker.exists():
            marker.touch()
            message = pickle.dumps(obj)
            conn._send(struct.pack("!i", len(message)) + message[: len(message) // 2])
            os._exit(9)
        send(conn, obj)

    monkeypatch.setattr(Connection, "send", send_half_then_die)
    batch(job, tmp_path / "b", workers=2)
    assert marker.exists()
    assert_same(tmp_path / "b", whole)


def test_a_worker_killed_at_random_moments_never_hangs_the_batch(job, whole, tmp_path):
    """Kill one worker at 12 moments spread over a batch's life (mid-chunk, mid-send, idle)."""
    hits = []

    def kill(backend, i):
        with suppress(IndexError, ProcessLookupError):  # the batch may be over, or the worker gone
            os.kill(backend.pool[i % 2].process.pid, signal.SIGKILL)
            hits.append(i)

    for i in range(12):
        backend = LocalBackend(2)
        killer = threading.Timer(0.01 + 0.007 * i, kill, (backend, i))
        killer.start()
        batch(job, tmp_path / f"b{i}", backend, workers=2)
        killer.join()
        assert_same(tmp_path / f"b{i}", whole)
    assert len(hits) >= 8, hits


class _Skipping(LocalBackend):
    """A backend that silently drops one chunk: what a scheduling bug would do."""

    def run(self, job, chunks):
        for result in super().run(job, chunks):
            if result["lo"] != 400:
                yield result


def test_a_batch_missing_a_chunk_is_never_marked_complete(job, whole, tmp_path):
    path = tmp_path / "b"
    with pytest.raises(BatchError, match="runs 400-599 missing"):
        batch(job, path, _Skipping(1))
    assert manifest(path)["partial"] is True and manifest(path)["runs_done"] == RUNS - CHUNK
    assert not (path / "summary.json").exists()
    assert resume(path) == 0
    assert_same(path, whole)


def test_a_truncated_chunk_is_played_again_on_resume(job, whole, tmp_path, capsys):
    path = tmp_path / "b"
    batch(job, path)
    m = manifest(path) | {"partial": True}
    (path / "manifest.json").write_text(json.dumps(m))
    agg = path / "chunks" / "agg-000000000600.npz"
    agg.write_bytes(agg.read_bytes()[:100])
    assert resume(path) == 0
    assert "runs 600-799: the chunk's files are unreadable; playing them again" in capsys.readouterr().err
    assert_same(path, whole)


def test_a_killed_parent_takes_its_workers_with_it(job, whole, tmp_path):
    """SIGKILL the main process mid-batch: its workers end by themselves, and the folder resumes."""
    path = tmp_path / "b"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "batch", "tutorial", "--seed", "11", "--runs", str(RUNS), "--chunk", str(CHUNK),
         "--workers", "2", "--out", str(path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=Path(__file__).parents[2])
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and not (workers and list((path / "chunks").glob("agg-*"))):
        workers = _children(proc.pid)
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.fail("the batch ended before it could be killed")
    proc.kill()
    proc.wait()
    assert workers
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers), "workers outlived their parent"
    assert manifest(path)["partial"] is True
    assert resume(path) == 0
    assert_same(path, whole)


def _children(pid: int) -> list[int]:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        return [int(c) for t in tasks for c in Path(f"/proc/{pid}/task/{t}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has exited: only its parent's bookkeeping is left


# --- interrupts at every stage --------------------------------------------------------------


class _Interrupted(Exception):
    pass


def _before_first_chunk(monkeypatch):
    def run(self, job, chunks):
        raise KeyboardInterrupt
        yield

    monkeypatch.setattr(LocalBackend, "run", run)


def _mid_chunk(monkeypatch):
    """Between a chunk's two files: its runs are written, its aggregates not."""
    save_aggregates, calls = sim.montecarlo.folder.Aggregates.save, []

    def save(agg, path):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        save_aggregates(agg, path)

    monkeypatch.setattr(sim.montecarlo.folder.Aggregates, "save", save)


def _mid_file(monkeypatch):
    """Half-way through writing a chunk's file: some bytes are on disk under the temporary name."""
    table, calls = sim.montecarlo.folder._table, []

    def interrupting(columns):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return table(columns)

    monkeypatch.setattr(sim.montecarlo.folder, "_table", interrupting)


def _final_write_up(monkeypatch):
    import sim.montecarlo.report

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(sim.montecarlo.report, "batch_report", interrupted)


@pytest.mark.parametrize("stage", [_before_first_chunk, _mid_chunk, _mid_file, _final_write_up], ids=lambda f: f.__name__[1:])
def test_an_interrupt_at_any_stage_resumes_to_the_same_bytes(job, whole, tmp_path, monkeypatch, stage):
    path = tmp_path / "b"
    path.mkdir()
    with monkeypatch.context() as m:
        stage(m)
        with pytest.raises(KeyboardInterrupt):
            batch(job, path)
    assert manifest(path)["partial"] is True
    assert not list(path.rglob(f"*{TEMP}")), "an interrupted write left its temporary"
    assert resume(path) == 0
    assert_same(path, whole)


# --- a full disk ----------------------------------------------------------------------------


def _disk_filling_after(budget: int):
    """`open` for sim.format.files whose files stop taking bytes once `budget` bytes were written."""
    left = [budget]

    class Filling(io.FileIO):
        def write(self, data):
            if left[0] < len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            left[0] -= len(data)
            return super().write(data)

    return lambda path, mode: Filling(path, mode.replace("b", ""))


@pytest.mark.parametrize("when", ["at-once", "mid-chunks", "at-write-up"])
def test_a_full_disk_is_said_plainly_and_the_folder_resumes(job, whole, tmp_path, monkeypatch, capsys, when):
    written = sum(p.stat().st_size for p in whole.rglob("*") if p.is_file())  # what the batch writes, all told
    budget = {"at-once": 2_000, "mid-chunks": written // 3, "at-write-up": written - (whole / "report.html").stat().st_size // 2}[when]
    path = tmp_path / "b"
    path.mkdir()
    (path / "scenario.json").write_text("")  # not empty: refused before anything is written...
    with pytest.raises(UsageError):
        batch(job, path)
    (path / "scenario.json").unlink()  # ...and once empty, taken
    monkeypatch.setattr(sim.format.files, "open", _disk_filling_after(budget), raising=False)
    code = main(["batch", "tutorial", "--seed", "11", "--runs", str(RUNS), "--chunk", str(CHUNK), "--workers", "1", "--out", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1, err
    assert "the disk is full" in err[0] and f"ladder batch --resume {path}" in err[0] and str(path) in err[0]
    assert not list(path.rglob(f"*{TEMP}"))
    monkeypatch.undo()  # space freed
    if not (path / "manifest.json").exists():  # full before the batch could even be set up
        assert not (path / "chunks").exists() or not list((path / "chunks").iterdir())
        return
    assert manifest(path)["partial"] is True
    assert resume(path) == 0
    assert_same(path, whole)


def test_a_full_disk_raises_disk_full_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(sim.format.files, "open", _disk_filling_after(10), raising=False)
    with pytest.raises(DiskFull, match=f"{tmp_path / 'x.json'}: the disk is full"):
        sim.format.files.atomic_write(tmp_path / "x.json", lambda f: f.write(b"{" * 100))
    assert list(tmp_path.iterdir()) == []


# --- two writers, and the user's own files --------------------------------------------------


def test_a_second_writer_is_refused_and_a_finished_batch_stays_finished(job, tmp_path, refuse):
    path = tmp_path / "b"
    batch(job, path, runs=400)
    with Folder(path).locked():  # another command at work in the folder
        line = refuse("batch", "--resume", path, allowed=(tmp_path,))
        assert "in use by another ladder command" in line and f"pid {os.getpid()}" in line
        line = refuse("batch", "tutorial", "--runs", "10", "--out", path, allowed=(tmp_path,))
        assert "in use" in line
    assert manifest(path)["partial"] is False
    assert "complete; nothing to resume" in refuse("batch", "--resume", path, allowed=(tmp_path,))
    assert manifest(path)["partial"] is False


def test_two_batches_started_at_once_into_one_folder(tmp_path):
    """Real processes: the second, started while the first holds the folder, is refused."""
    path = tmp_path / "b"
    argv = [sys.executable, "-m", "sim.cli", "batch", "tutorial", "--runs", "4000", "--chunk", "500", "--workers", "1", "--out", str(path)]
    cwd = Path(__file__).parents[2]
    first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    deadline = time.monotonic() + 60
    while not (path / "manifest.json").exists() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.01)
    second = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=120)
    assert first.wait(timeout=120) == 0, first.stderr.read()
    if second.returncode == 0:
        pytest.skip("the first batch finished before the second started")
    assert second.returncode == 2 and len(second.stderr.strip().splitlines()) == 1, second.stderr
    assert "in use by another ladder command" in second.stderr or "already holds results" in second.stderr
    assert manifest(path)["partial"] is False and manifest(path)["runs"] == 4000


def test_a_stale_lock_whose_owner_died_is_taken_over(job, whole, tmp_path):
    path = tmp_path / "b"
    path.mkdir()
    (path / sim.montecarlo.folder.LOCK).write_text("pid 999999\n")  # left by a killed command: nobody holds it
    batch(job, path)
    assert_same(path, whole)
    assert not (path / sim.montecarlo.folder.LOCK).exists()


def test_files_the_batch_did_not_write_are_never_touched(job, whole, tmp_path, monkeypatch, refuse):
    mine = tmp_path / "mine"
    mine.mkdir()
    for name in ("summary.json", "report.html", "notes.part", "data.tmp"):
        (mine / name).write_text("the user's")
    for argv in (["batch", "tutorial", "--runs", "10"], ["compare", "tutorial", "tutorial --doctrine Red=dove", "--runs", "10"],
                 ["sweep", "tutorial", "--set", "mechanics.hazard.midpoint=80,90", "--runs", "10"]):
        assert "not empty and holds no ladder results" in refuse(*argv, "--out", mine, allowed=(tmp_path,))
    assert sorted(p.name for p in mine.iterdir()) == ["data.tmp", "notes.part", "report.html", "summary.json"]
    assert all(p.read_text() == "the user's" for p in mine.iterdir())
    path = tmp_path / "b"  # the user's temporaries inside a batch folder survive an interrupt
    path.mkdir()
    with monkeypatch.context() as m:
        _mid_chunk(m)
        with pytest.raises(KeyboardInterrupt):
            batch(job, path)
    (path / "notes.part").write_text("the user's")
    (path / "chunks" / "x.tmp").write_text("the user's")
    assert resume(path) == 0
    assert (path / "notes.part").read_text() == (path / "chunks" / "x.tmp").read_text() == "the user's"


def test_a_failed_command_leaves_no_empty_folder_behind(tmp_path, refuse):
    refuse("batch", "tutorial", "--runs", "10", "--dask", "not an address", "--out", tmp_path / "new", allowed=(tmp_path,))
    assert not (tmp_path / "new").exists()


# --- flags ----------------------------------------------------------------------------------


@pytest.mark.parametrize("flags, expected", [
    (["--seed", "3"], "takes no --seed"),
    (["--doctrine", "Red=dove"], "takes no --doctrine"),
    (["--chunk", "100"], "takes no --chunk"),
    (["--out", "elsewhere"], "takes no --out"),
    (["--runs", "10"], "takes no --runs"),
])
def test_resume_refuses_flags_it_cannot_honour(job, tmp_path, refuse, flags, expected):
    path = tmp_path / "b"
    with pytest.raises(KeyboardInterrupt), pytest.MonkeyPatch.context() as m:
        _before_first_chunk(m)
        batch(job, path)
    assert expected in refuse("batch", "--resume", path, *flags, allowed=(tmp_path,))


@pytest.mark.parametrize("flags, expected", [
    (["--runs", "2000000000"], "--runs: expected a positive number, 1 to 1,000,000,000"),
    (["--runs", "10", "--chunk", "2000000"], "--chunk 2000000: expected 1 to 100,000"),
])
def test_batch_sizes_are_range_checked(tmp_path, refuse, flags, expected):
    assert expected in refuse("batch", "tutorial", *flags, "--out", tmp_path / "b", allowed=(tmp_path,))


def test_more_workers_than_cores_are_capped_with_a_warning(tmp_path, capsys):
    cores = os.cpu_count()
    assert main(["batch", "tutorial", "--runs", "20", "--workers", "1000", "--out", str(tmp_path / "b"), "--json"]) == 0
    assert f"--workers 1000: this machine has {cores} cores; using {cores}" in capsys.readouterr().err
    assert manifest(tmp_path / "b")["arguments"]["workers"] == cores


def test_planning_a_huge_batch_takes_no_memory(job, tmp_path):
    """Ten million chunks of one run: the plan is walked, never built (a list of it is ~1 GB)."""

    class Stopping(LocalBackend):
        def run(self, job, chunks):
            for k, result in enumerate(super().run(job, chunks)):
                yield result
                if k == 2:
                    raise KeyboardInterrupt

    tracemalloc.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_batch(job, Plan(10**7, 1, 1), Folder(tmp_path / "b"), Stopping(1), {})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20, f"{peak / 2**20:.0f} MiB"
    assert manifest(tmp_path / "b")["runs_done"] == 3


def test_a_ctrl_c_swallowed_where_python_ignores_exceptions_still_stops_the_batch(job, whole, tmp_path, monkeypatch):
    """Ctrl-C landing in a finaliser (as in a Dask future's __del__) is printed as "Exception
    ignored" and lost; the batch notes it anyway and stops after the chunk in hand."""
    save, seen = Folder.save_chunk, []

    def save_and_swallow_an_interrupt(folder, result):
        save(folder, result)
        if not seen:
            seen.append(result["lo"])
            try:  # what a finaliser does with the interrupt: nothing
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(1)
            except KeyboardInterrupt:
                pass

    monkeypatch.setattr(Folder, "save_chunk", save_and_swallow_an_interrupt)
    with pytest.raises(KeyboardInterrupt):
        batch(job, tmp_path / "b", workers=2)
    assert manifest(tmp_path / "b")["partial"] is True and manifest(tmp_path / "b")["runs_done"] < RUNS
    assert resume(tmp_path / "b") == 0
    assert_same(tmp_path / "b", whole)


def test_ctrl_c_during_a_local_dask_batch_prints_no_worker_traceback(tmp_path):
    pytest.importorskip("dask.distributed")
    path = tmp_path / "b"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "batch", "korea-2019", "--runs", "200000", "--chunk", "2000", "--workers", "2",
         "--dask", "local", "--out", str(path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2], start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not list((path / "chunks").glob("agg-*")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("ladder: interrupted with"), err
    assert manifest(path)["partial"] is True


def test_an_out_that_is_a_file_is_refused_and_left_alone(tmp_path, refuse):
    (tmp_path / "notes").write_text("the user's")
    assert "is a file, not a folder" in refuse("batch", "tutorial", "--runs", "10", "--out", tmp_path / "notes", allowed=(tmp_path,))
    assert (tmp_path / "notes").read_text() == "the user's"
