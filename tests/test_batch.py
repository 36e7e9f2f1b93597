"""Monte Carlo batches: the same results whatever the workers, chunks or backend; resumable."""
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from sim.cli import main
from sim.engine.stats import wilson
from sim.format.scenario import open_scenario
from sim.montecarlo.backends import LocalBackend
from sim.montecarlo.batch import run_batch
from sim.montecarlo.chunks import Aggregates, Job, Plan, run_chunk
from sim.montecarlo.folder import Folder
from sim.montecarlo.summary import widest_interval

RUNS = 900


@pytest.fixture(scope="module")
def job():
    loaded = open_scenario("korea-2019")
    return Job(loaded.scenario, loaded.name, seed=5)


def batch(job, tmp_path, name, backend=None, chunk=300, workers=1, runs=RUNS, until_ci=None):
    folder = Folder(tmp_path / name)
    run_batch(job, Plan(runs, chunk, workers, until_ci), folder, backend or LocalBackend(workers), {"test": name})
    return folder.path


def test_the_same_seed_gives_the_same_runs_whatever_the_workers_chunks_or_backend(job, tmp_path):
    from sim.montecarlo.backends import DaskBackend

    reference = batch(job, tmp_path, "k1-c300")
    variants = [
        batch(job, tmp_path, "k2-c300", workers=2),
        batch(job, tmp_path, "k1-c450", chunk=450),
        batch(job, tmp_path, "dask", backend=DaskBackend("in-process", 2)),
    ]
    expected = (reference / "runs.parquet").read_bytes()
    for folder in variants:
        assert (folder / "runs.parquet").read_bytes() == expected, folder.name
        assert (folder / "turns.parquet").read_bytes() == (reference / "turns.parquet").read_bytes()
    table = pq.read_table(reference / "runs.parquet")
    assert table.num_rows == RUNS and table.column("run").to_pylist() == list(range(RUNS))


def test_a_chunk_holds_exactly_the_games_of_ladder_run(job):
    from sim.engine.rules import Rules
    from sim.engine.stepping import Engine

    chunk = run_chunk(job, 40, 45)
    for j, run in enumerate(range(40, 45)):
        alone = Engine(Rules(job.scenario, job.name), seed=job.seed, runs=[run], record=False).run()
        assert chunk["rows"]["end_turn"][j] == alone.state.end_turn[0]
        assert np.array_equal(chunk["rows"]["final_tension"][j], alone.state.vars[0, alone.rules.tension])


class _Interrupting(LocalBackend):
    """Stops (as Ctrl-C would) after the first chunk has been saved."""

    def run(self, job, chunks):
        for i, result in enumerate(super().run(job, chunks)):
            if i == 1:
                raise KeyboardInterrupt
            yield result


def test_an_interrupted_batch_resumes_to_the_same_files(job, tmp_path):
    whole = batch(job, tmp_path, "whole")
    with pytest.raises(KeyboardInterrupt):
        batch(job, tmp_path, "cut", backend=_Interrupting(1))
    cut = tmp_path / "cut"
    manifest = json.loads((cut / "manifest.json").read_text())
    assert manifest["partial"] is True and manifest["runs_done"] == 300
    assert not (cut / "runs.parquet").exists()
    assert main(["batch", "--resume", str(cut), "--workers", "1", "--json"]) == 0
    for name in ("runs.parquet", "turns.parquet"):
        assert (cut / name).read_bytes() == (whole / name).read_bytes()
    summary = json.loads((cut / "summary.json").read_text())
    assert summary == json.loads((whole / "summary.json").read_text())
    assert json.loads((cut / "manifest.json").read_text())["partial"] is False


def test_wilson_intervals_match_published_values():
    # Newcombe (1998), Statistics in Medicine 17:857, table I: 81/263 and 5/10; 0/10 by the closed form.
    assert wilson(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)


def test_until_ci_stops_as_soon_as_every_interval_is_narrow_enough(job, tmp_path):
    folder = batch(job, tmp_path, "until", runs=None, chunk=200, until_ci=0.004)
    manifest = json.loads((folder / "manifest.json").read_text())
    runs = manifest["runs"]
    chunks = [(lo, lo + 200) for lo in range(0, runs, 200)]
    f = Folder(folder)
    assert len(chunks) > 1
    assert widest_interval(f.aggregates(chunks)) < 0.004
    assert widest_interval(f.aggregates(chunks[:-1])) >= 0.004  # one chunk fewer was not enough


def test_summary_has_every_field_and_the_report_every_chart(job, tmp_path):
    folder = batch(job, tmp_path, "files")
    summary = json.loads((folder / "summary.json").read_text())
    for outcome in summary["outcomes"].values():
        assert {"p", "ci95", "count", "time_to_outcome"} <= set(outcome)
        assert outcome["ci95"][0] <= outcome["p"] <= outcome["ci95"][1]
    assert sum(o["count"] for o in summary["outcomes"].values()) == RUNS
    assert set(summary["mean_peak_rung"]) == set(job.scenario.actors)
    for t in summary["thresholds"].values():
        assert {"p", "ci95", "count"} <= set(t)
    turns = pq.read_table(folder / "turns.parquet").to_pydict()
    assert len(turns["turn"]) == job.scenario.clock.horizon
    assert {"tension_mean", "tension_p10", "tension_p50", "tension_p90", "rung_DPRK_p90", "ended_war"} <= set(turns)
    ended = [sum(turns[f"ended_{o}"][-1] for o in summary["outcomes"])]
    assert ended[0] == pytest.approx(1.0)
    html = (folder / "report.html").read_text()
    for section in ("outcome-probabilities", "tension-fan", "cumulative-incidence", "peak-rungs", "top-moves"):
        assert f'id="{section}"' in html
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {"scenario", "digest", "schema_version", "version", "seed", "runs", "arguments"} <= set(manifest)


def test_aggregates_add_up(job):
    a, b = run_chunk(job, 0, 100)["agg"], run_chunk(job, 100, 250)["agg"]
    whole = run_chunk(job, 0, 250)["agg"]
    merged = a + b
    for name in vars(whole):
        assert np.array_equal(getattr(merged, name), getattr(whole, name)), name
    assert isinstance(whole, Aggregates)


def test_replay_tells_run_i_exactly_as_ladder_run_does(job, tmp_path, capsys):
    folder = batch(job, tmp_path, "replay", runs=300)
    capsys.readouterr()
    assert main(["replay", str(folder), "--run", "17"]) == 0
    replayed = capsys.readouterr().out
    assert main(["run", "korea-2019", "--seed", "5", "--run", "17"]) == 0
    assert replayed == capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, code, expected",
    [
        (["batch", "korea-2091", "--runs", "10"], 2, "unknown scenario"),
        (["batch", "korea-2019", "--runs", "0"], 2, "expected a positive number"),
        (["batch", "korea-2019", "--runs", "-5"], 2, "--runs"),
        (["batch", "korea-2019"], 2, "give either --runs N or --until-ci W"),
        (["batch", "korea-2019", "--runs", "10", "--out", "/proc/nope"], 2, "cannot write to /proc/nope"),
        (["batch", "korea-2019", "--runs", "10", "--dask", "tcp://127.0.0.1:9"], 1, "cannot reach the Dask cluster"),
        (["replay", "/nonexistent-folder", "--run", "1"], 2, "not a batch folder"),
    ],
)
def test_bad_batch_input_gets_one_clear_line(capsys, argv, code, expected):
    assert main(argv) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0] and "Traceback" not in err[0]


class _Crashing:
    """A chunk runner whose worker dies on one chunk: always, or (with a marker file) only once."""

    def __init__(self, lo, marker):
        self.lo, self.marker = lo, marker

    def __call__(self, job, lo, hi):
        import os

        if lo == self.lo and (self.marker is None or not self.marker.exists()):
            if self.marker is not None:
                self.marker.write_text("crashed once")
            os._exit(1)
        return run_chunk(job, lo, hi)  # this module's name for it: the real one


@pytest.fixture
def forked_workers():
    import multiprocessing

    if multiprocessing.get_start_method() != "fork":
        pytest.skip("needs workers forked from the test process")


def test_a_crashed_worker_is_retried_once(job, tmp_path, monkeypatch, forked_workers):
    import sim.montecarlo.backends

    whole = batch(job, tmp_path, "steady")
    monkeypatch.setattr(sim.montecarlo.backends, "run_chunk", _Crashing(300, tmp_path / "crashed"))
    flaky = batch(job, tmp_path, "flaky", workers=2)
    assert (tmp_path / "crashed").exists()
    assert (flaky / "runs.parquet").read_bytes() == (whole / "runs.parquet").read_bytes()


def test_a_worker_that_keeps_crashing_fails_the_batch_and_keeps_what_finished(job, tmp_path, monkeypatch, forked_workers):
    import sim.montecarlo.backends
    from sim.format.errors import BatchError

    monkeypatch.setattr(sim.montecarlo.backends, "run_chunk", _Crashing(300, None))
    with pytest.raises(BatchError, match="runs 300-599: the worker crashed twice"):
        batch(job, tmp_path, "broken", workers=1)
    folder = Folder(tmp_path / "broken")
    assert folder.intact(0, 300, job) and not folder.intact(300, 600, job)
    assert json.loads((folder.path / "manifest.json").read_text())["partial"] is True


def test_the_progress_bar_shows_in_a_terminal_only():
    import io

    from sim.montecarlo.batch import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = Progress(1000, stream)
        progress.add(500)
        progress.close()
    assert "500/1,000 runs" in terminal.getvalue() and "s left" in terminal.getvalue()
    assert pipe.getvalue() == ""


def test_an_interrupt_while_writing_the_results_leaves_a_marked_resumable_folder(job, tmp_path, monkeypatch):
    import sim.montecarlo.report

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(sim.montecarlo.report, "batch_report", interrupted)
    with pytest.raises(KeyboardInterrupt):
        batch(job, tmp_path, "late")
    folder = tmp_path / "late"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["partial"] is True and manifest["runs_done"] == RUNS
    assert not list(folder.rglob("*.part")) and not list(folder.rglob("*.tmp"))
    monkeypatch.undo()
    assert main(["batch", "--resume", str(folder), "--workers", "1", "--json"]) == 0
    assert json.loads((folder / "manifest.json").read_text())["partial"] is False
